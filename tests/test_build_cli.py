"""`stratforge test/backtest/score/build`: end to end on one L2 and one bar example, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import main

REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _build(tmp_path: Path, name: str):
    t0 = time.monotonic()
    res = invoke("build", str(REPO / "specs" / f"{name}.yaml"), "--out", str(tmp_path / "s"),
                 "--build-dir", str(tmp_path / "b"))
    return res, time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("name,profile", [("nvda-momentum", "bars"), ("btc-obi-scalper", "l2")])
def test_build_end_to_end(tmp_path, name, profile):
    res, seconds = _build(tmp_path, name)
    bundle = tmp_path / "s" / name
    card = json.loads((bundle / "scorecard.json").read_text())
    assert res.exit_code == (0 if card["verdict"] == "PASS" else 1), res.output
    assert "Traceback" not in res.output
    for step in ("render", "compile", "test-python", "sanitizers", "data", "replay",
                 "run-parity", "scorecard"):
        assert step in res.output
    assert f"Verdict: {card['verdict']}" in res.output
    assert (bundle / "scorecard.md").is_file() and (bundle / "scorecard.html").is_file()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert card["provenance"]["build_id"] == manifest["build_id"]
    assert card["parity"]["status"] == "match"
    assert card["run"]["data_profile"] == profile if "data_profile" in card["run"] else True
    # the steps reuse the build of generate (one release plugin per build id)
    assert (tmp_path / "b" / name / manifest["build_id"] / "strategy.so").is_file()
    # test / backtest / score on the bundle just written
    r = invoke("test", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 0, r.output
    r = invoke("backtest", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 0 and "cached" in r.output, r.output
    r = invoke("score", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code in (0, 1) and "Verdict:" in r.output


def test_usage_errors_exit_2(tmp_path):
    r = invoke("build", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "no such spec file" in r.output
    for cmd in ("test", "backtest", "score"):
        r = invoke(cmd, str(tmp_path))
        assert r.exit_code == 2 and "not a bundle" in r.output
    r = invoke("backtest", str(tmp_path), "--data", str(tmp_path / "nope.sfe"))
    assert r.exit_code == 2


def test_invalid_spec_exits_1_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: stratforge/v1\nmetadata: {name: bad}\n")
    r = invoke("build", str(bad))
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_broken_bundle_manifest_is_one_line(tmp_path):
    b = tmp_path / "x"
    b.mkdir()
    (b / "manifest.json").write_text("{not json")
    (b / "spec.yaml").write_text("")
    r = invoke("score", str(b), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 1 and "manifest.json is not JSON" in r.output
    assert "Traceback" not in r.output
