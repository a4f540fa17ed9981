"""A build stopped before scoring says which step stopped it and why: INCONCLUSIVE when the code
built and passed its tests but the parity market never made the strategy trade, FAIL naming the
step otherwise (old code: "Verdict: FAIL (the code did not build)" for every stop)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.ci.build import build_failure_verdict
from stratforge.ci.scorecard import Verdict
from stratforge.cli import main
from stratforge.core.steps import StepResult
from stratforge.generator.generate import BuildFailed, GenerateResult
from stratforge.sandbox.verify import NO_ORDERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generator" / "render"))
import userspecs as u  # noqa: E402


def _failed(*steps: StepResult) -> BuildFailed:
    return BuildFailed(GenerateResult(name="x", ok=False, steps=list(steps)))


def test_no_orders_on_the_parity_market_is_inconclusive_with_the_reason():
    err = _failed(StepResult("render", True), StepResult("compile", True), StepResult("pytest", True),
                  StepResult("parity", False, 1.0, f"{NO_ORDERS} the simulated bars market (seed 5, 600 events) "
                                                   "never made the strategy trade"))
    verdict, line = build_failure_verdict(err)
    assert verdict is Verdict.INCONCLUSIVE
    assert "the code built" in line and "never made the strategy trade" in line and "did not build" not in line


def test_a_compile_failure_is_a_fail_that_did_not_build():
    verdict, line = build_failure_verdict(_failed(StepResult("render", True), StepResult("compile", False, 1, "x")))
    assert verdict is Verdict.FAIL and "did not build" in line and "compile" in line


@pytest.mark.parametrize("step", ["cpp-test", "pytest", "parity"])
def test_a_test_or_parity_failure_is_a_fail_naming_the_step_not_a_build_failure(step):
    verdict, line = build_failure_verdict(_failed(StepResult("compile", True),
                                                  StepResult(step, False, 1, "decision 3 differs\nmore")))
    assert verdict is Verdict.FAIL and f"step '{step}'" in line and "did not build" not in line
    assert "decision 3 differs" in line


@pytest.mark.slow
def test_build_of_a_strategy_the_parity_market_cannot_make_trade_is_inconclusive(tmp_path):
    """A custom spec that enters on a zero-range bar: its derived scenario has such bars, the parity
    market's bars never do (high - low >= 10 ticks)."""
    d = u.spec_dict("doji-entry", "custom", {"hold": 3}, extra={
        "order_qty": 10, "signals": {"entry_long": "high == low", "exit_long": "change(close, hold) > 0"}})
    spec = tmp_path / "doji-entry.yaml"
    u.write_spec(tmp_path, d)
    res = CliRunner().invoke(main, ["build", str(spec), "--out", str(tmp_path / "s"), "--build-dir",
                                    str(tmp_path / "b")])
    assert res.exit_code == 1, res.output
    assert "Verdict: INCONCLUSIVE" in res.output and "never made the strategy trade" in res.output, res.output
    assert "did not build" not in res.output and "internal error" not in res.output


@pytest.mark.slow
@pytest.mark.parametrize("make", [u.book_momentum, u.obi_tight_spread, lambda: u.pair_mixed_ticks("l2", "rolling_ols"),
                                  u.long_only_mean_reversion])
def test_new_specs_build_end_to_end_and_only_their_strategy_can_fail(tmp_path, make):
    """Book-driven momentum (old: internal error), an imbalance scalper with max_spread_ticks 1 and
    a pair whose legs have different tick sizes (old: no orders on the parity market, "the code did
    not build"), a long-only mean reversion (old: a behaviour test that could not fail): each builds
    to a scorecard in which every pipeline gate (tests, sanitizers, static checks, parity, bias,
    bar agreement) passes; only the strategy's own performance may fail."""
    d = make()
    loaded = u.write_spec(tmp_path, d)
    res = CliRunner().invoke(main, ["build", str(loaded.source), "--out", str(tmp_path / "s"),
                                    "--build-dir", str(tmp_path / "b")])
    assert "internal error" not in res.output and "Traceback" not in res.output, res.output
    card = json.loads((tmp_path / "s" / d["metadata"]["name"] / "scorecard.json").read_text())
    assert res.exit_code == (0 if card["verdict"] == "PASS" else 1), res.output
    pipeline = {g["name"]: g["status"] for g in card["gates"] if g["kind"] in ("quality", "run")}
    assert set(pipeline.values()) == {"PASS"}, pipeline
    assert "run-parity" in res.output and "decisions identical" in res.output
