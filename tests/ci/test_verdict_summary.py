"""scripts/verdict_summary.py, the demo's closing table: each example's verdict with the gates
that decide it (docs/examples.md)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("verdict_summary", REPO / "scripts" / "verdict_summary.py")
vs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(vs)


def _gate(name, status, reason="OK", message="ok"):
    return {"name": name, "status": status, "reason": reason, "message": message}


def _card(root: Path, name: str, verdict: str, gates: list[dict]) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "scorecard.json").write_text(json.dumps({"verdict": verdict, "gates": gates}))


def test_each_verdict_names_the_gates_that_decide_it(tmp_path):
    _card(tmp_path, "loser", "FAIL", [
        _gate("min_sharpe", "FAIL", "BELOW_THRESHOLD", "-3 is below the minimum 1"),
        _gate("min_trades", "INCONCLUSIVE", "TOO_FEW_TRADES", "5 round trips"),
        _gate("tests", "PASS")])
    _card(tmp_path, "short", "INCONCLUSIVE", [
        _gate("min_sharpe", "INCONCLUSIVE", "SHORT_SAMPLE", "too little evidence: 7 returns"),
        _gate("tests", "ERROR", "INPUT_MISSING", "input missing: test results"),
        _gate("parity", "PASS")])
    _card(tmp_path, "winner", "PASS", [_gate("min_sharpe", "PASS"), _gate("parity", "PASS")])
    loser = "\n".join(vs.block("loser", "12", None, tmp_path))
    assert "FAIL" in loser and "min_sharpe FAIL (BELOW_THRESHOLD)" in loser
    assert "min_trades" not in loser and "tests" not in loser  # a FAIL is decided by its FAILs
    short = "\n".join(vs.block("short", "3", None, tmp_path))
    assert "SHORT_SAMPLE" in short and "tests ERROR (INPUT_MISSING)" in short and "parity" not in short
    winner = "\n".join(vs.block("winner", "9", None, tmp_path))
    assert "passes:" in winner and "min_sharpe PASS" in winner and "parity" not in winner


def test_a_build_without_scorecard_shows_its_status(tmp_path):
    assert "BUILD FAILED" in vs.block("broken", "4", "BUILD FAILED", tmp_path)[0]
    assert "NO SCORECARD" in vs.block("missing", "4", None, tmp_path)[0]
