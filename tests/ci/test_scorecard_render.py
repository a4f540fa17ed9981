"""Scorecard outputs: JSON against the checked-in schema, schema staleness, Markdown content,
self-contained HTML, and HTML drawn in headless Chromium."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from stratforge.ci.scorecard import build_scorecard, write_scorecard
from stratforge.ci.scorecard.render import SCHEMA_PATH, render_html, render_json, render_markdown, scorecard_schema_text

from PIL import Image
from resource_kit import missing
from stratforge.core.tools import first_executable

from scorecard_kit import good_checks, intraday_run, spec


@pytest.fixture(scope="module")
def card():
    checks = good_checks()
    checks["parity"] = None  # one ERROR gate
    return build_scorecard(intraday_run(), spec(min_sharpe=20.0), **checks)


@pytest.fixture(scope="module")
def written(card, tmp_path_factory):
    out = tmp_path_factory.mktemp("scorecard")
    return out, write_scorecard(card, out)


def test_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == scorecard_schema_text(), (
        "ci/scorecard/scorecard.schema.json is stale: regenerate it with "
        "python -c 'from stratforge.ci.scorecard.render import scorecard_schema_text as t; "
        "open(\"ci/scorecard/scorecard.schema.json\",\"w\").write(t())'")


def test_json_validates_and_is_stable(card, written):
    out, paths = written
    doc = json.loads((out / "scorecard.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(doc)
    assert render_json(card) == (out / "scorecard.json").read_text()
    assert list(doc)[:4] == ["schema_version", "strategy", "spec_hash", "verdict"]
    assert doc["verdict"] == "FAIL"
    assert doc["metrics"]["full"]["periodicity"]["periods_per_year"] == 525600.0


def test_schema_rejects_a_broken_document(written):
    out, _ = written
    doc = json.loads((out / "scorecard.json").read_text())
    doc["verdict"] = "MAYBE"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))


def test_written_files(written):
    out, paths = written
    names = {p.name for p in paths}
    assert {"scorecard.json", "scorecard.md", "scorecard.html"} <= names
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_markdown(card, written):
    out, paths = written
    md = (out / "scorecard.md").read_text()
    pngs = [p.name for p in paths if p.suffix == ".png"]
    assert md == render_markdown(card, images=pngs)
    lines = md.splitlines()
    verdict_line = "**" + card.verdict_line + "**"
    assert verdict_line in lines
    assert re.fullmatch(r"Verdict: FAIL \(1 of \d+ gates failed: min_sharpe\)", card.verdict_line)
    for g in card.gates:
        assert any(line.startswith(f"| {g.name} | {g.status.value} |") for line in lines), g.name
    assert "| Metric | Full period | In-sample | Out-of-sample |" in md
    assert "525,600" in md and "1min" in md  # periodicity and factor are stated
    assert card.provenance.spec_hash in md
    for png in out.glob("*.png"):
        assert f"]({png.name})" in md
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pngs_written_when_matplotlib_present(written):
    out, _ = written
    assert len(list(out.glob("scorecard-*.png"))) == 4


def test_html_is_self_contained(card, written):
    out, _ = written
    page = (out / "scorecard.html").read_text()
    assert page == render_html(card)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)
    assert page.count("<svg") == 5 and page.count("<polyline") >= 3
    assert card.verdict_line in page
    for g in card.gates:
        assert f"<td>{g.name}</td>" in page


def test_html_escapes_untrusted_text():
    checks = good_checks()
    from stratforge.ci.scorecard.inputs import Mismatch, ParityResult

    checks["parity"] = ParityResult(status="mismatch", events_compared=3, first_mismatch=Mismatch(
        event_index=1, event="<script>alert(1)</script>", cpp_decision="a", python_decision="b"))
    page = render_html(build_scorecard(intraday_run(), spec(), **checks))
    assert "<script>" not in page and "&lt;script&gt;" in page


def _chromium() -> str:
    path = first_executable("chromium", "chromium-browser", "google-chrome")
    if path is None:
        missing("chromium")
    return str(path)


@pytest.mark.chromium
def test_html_renders_charts_in_headless_chromium(written, tmp_path):
    browser = _chromium()
    out, _ = written
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
           (out / "scorecard.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000
    img = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("RGB"))
    assert img.shape[:2] == (1600, 1200)
    colours = {tuple(c) for c in img.reshape(-1, 3)[::7]}
    assert len(colours) > 50  # text, tables and charts, not a blank page
    # the equity line colour (#1f5fa8) is drawn somewhere below the gate table
    blue = np.all(np.abs(img.astype(int) - np.array([0x1F, 0x5F, 0xA8])) < 40, axis=2)
    assert blue[500:].sum() > 500
    red = np.all(np.abs(img.astype(int) - np.array([0xC0, 0x39, 0x2B])) < 60, axis=2)  # drawdown area outline
    assert red[500:].sum() > 200
