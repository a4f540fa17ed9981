"""The demo's verdict table: each example's verdict with the gates that decide it
(docs/examples.md)."""

from __future__ import annotations

from stratforge.demo import verdict_lines


def _gate(name, status, reason="OK", message="ok"):
    return {"name": name, "status": status, "reason": reason, "message": message}


def test_each_verdict_names_the_gates_that_decide_it() -> None:
    loser = "\n".join(verdict_lines("loser", {"verdict": "FAIL", "gates": [
        _gate("min_sharpe", "FAIL", "BELOW_THRESHOLD", "-3 is below the minimum 1"),
        _gate("min_trades", "INCONCLUSIVE", "TOO_FEW_TRADES", "5 round trips"),
        _gate("tests", "PASS")]}))
    assert "FAIL" in loser and "min_sharpe FAIL (BELOW_THRESHOLD)" in loser
    assert "min_trades" not in loser and "tests" not in loser  # a FAIL is decided by its FAILs
    short = "\n".join(verdict_lines("short", {"verdict": "INCONCLUSIVE", "gates": [
        _gate("min_sharpe", "INCONCLUSIVE", "SHORT_SAMPLE", "too little evidence: 7 returns"),
        _gate("tests", "ERROR", "INPUT_MISSING", "input missing: test results"),
        _gate("parity", "PASS")]}))
    assert "SHORT_SAMPLE" in short and "tests ERROR (INPUT_MISSING)" in short
    assert "parity" not in short
    winner = "\n".join(verdict_lines("winner", {"verdict": "PASS", "gates": [
        _gate("min_sharpe", "PASS"), _gate("parity", "PASS")]}))
    assert "passes:" in winner and "min_sharpe PASS" in winner and "parity" not in winner


def test_a_build_without_scorecard_shows_its_status() -> None:
    assert "BUILD FAILED" in verdict_lines("broken", None, "BUILD FAILED")[0]
    assert "NO SCORECARD" in verdict_lines("missing", None)[0]
