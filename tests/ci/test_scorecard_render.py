"""Scorecard outputs: JSON against the checked-in schema, schema staleness, Markdown content,
the charts (one matplotlib renderer: the data each draws, the PNGs, the same PNGs embedded in the
HTML), self-contained HTML, and HTML drawn in headless Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from stratforge.ci.scorecard import build_scorecard, write_scorecard
from stratforge.ci.scorecard.render import (CHARTS, SCHEMA_PATH, chart_figures, render_html, render_json, render_markdown,
                                            render_pngs, scorecard_schema_text)

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


def test_pngs_are_written_and_linked(written):
    out, _ = written
    md = (out / "scorecard.md").read_text()
    sizes = {"scorecard-equity.png": (810, 450)}  # 9 x 5 in at 90 dpi; the others are 9 x 3 in
    for name, caption in CHARTS.items():
        path = out / name
        assert path.is_file(), name
        assert f"![{caption}]({name})" in md
        img = Image.open(path)
        assert img.size == sizes.get(name, (810, 270)), name
        pixels = np.asarray(img.convert("RGB"))
        assert len({tuple(c) for c in pixels.reshape(-1, 3)[::5]}) > 20, f"{name} is blank"


def test_charts_draw_the_scorecards_series(card):
    """Each chart plots the scorecard's own numbers (a chart drawing the wrong series, or
    nothing, fails here)."""
    c = card.charts
    figs = chart_figures(card)
    assert list(figs) == list(CHARTS)
    equity, drawdown = figs["scorecard-equity.png"].axes
    pnl_line = next(ln for ln in equity.get_lines() if ln.get_label() == "net PnL")
    assert list(pnl_line.get_ydata()) == list(c.pnl)
    assert len(pnl_line.get_xdata()) == len(c.ts_ns)
    dd_line = next(ln for ln in drawdown.get_lines() if ln.get_label() == "drawdown")
    assert list(dd_line.get_ydata()) == list(c.drawdown_pct)
    assert c.out_of_sample_start_ns is not None
    split = next(ln for ln in equity.get_lines() if ln.get_label() == "out-of-sample start")
    assert split.get_xdata()[0] == dt.datetime.fromtimestamp(c.out_of_sample_start_ns / 1e9, tz=dt.timezone.utc)

    (inv,) = figs["scorecard-inventory.png"].axes
    drawn = {ln.get_label(): list(ln.get_ydata()) for ln in inv.get_lines() if ln.get_label() in c.positions}
    assert drawn == {sym: list(pos) for sym, pos in c.positions.items()}

    (lat,) = figs["scorecard-latency.png"].axes
    lines = {ln.get_label(): ln for ln in lat.get_lines()}
    assert c.callback_buckets, "the test scorecard has callback latency samples"
    assert list(lines["callback"].get_xdata()) == [u for u, _ in c.callback_buckets]
    assert list(lines["callback"].get_ydata()) == [n for _, n in c.callback_buckets]
    assert lat.get_xscale() == "log"

    (bars,) = figs["scorecard-in-vs-out.png"].axes
    heights = [p.get_height() for p in bars.patches]
    ins, oos = card.metrics.in_sample, card.metrics.out_of_sample
    assert heights[0] == pytest.approx(ins.return_pct) and heights[4] == pytest.approx(oos.return_pct)
    assert heights[1] == pytest.approx(ins.sharpe.value or 0.0)


def test_equity_png_changes_with_the_pnl(card):
    """The PNG is drawn from the data: another PnL path gives another picture."""
    c = card.charts
    flipped = card.model_copy(update={"charts": c.model_copy(update={"pnl": tuple(-v for v in c.pnl)})})
    a, b = render_pngs(card), render_pngs(flipped)
    assert a["scorecard-equity.png"] != b["scorecard-equity.png"]
    assert a["scorecard-latency.png"] == b["scorecard-latency.png"]  # deterministic bytes otherwise


def test_html_is_self_contained(card, written):
    out, _ = written
    page = (out / "scorecard.html").read_text()
    assert page == render_html(card)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)
    # the charts are exactly the PNG files written beside the Markdown, embedded as data: URIs
    assert page.count("<img ") == len(CHARTS)
    for name in CHARTS:
        uri = "data:image/png;base64," + base64.b64encode((out / name).read_bytes()).decode("ascii")
        assert f'src="{uri}"' in page, name
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
