"""Every gate's PASS / FAIL / INCONCLUSIVE / ERROR, and the verdict's precedence."""

from __future__ import annotations

import pytest

from stratforge.ci.scorecard import build_scorecard
from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.gates import GateResult, verdict
from stratforge.ci.scorecard.inputs import (
    BarAgreement,
    BiasResult,
    CheckStatus,
    Finding,
    LatencySummary,
    Mismatch,
    ParityResult,
    SanitizerStatus,
    StaticFindings,
    TestResults,
    TestSuite,
)
from stratforge.ci.scorecard.reasons import GateStatus as S
from stratforge.ci.scorecard.reasons import Verdict

from scorecard_kit import good_checks, intraday_run, latency, spec

SPEC = spec()


def score(run=None, sp=None, **changes):
    checks = good_checks()
    checks.update(changes)
    return build_scorecard(run or intraday_run(), sp or SPEC, **checks)


def gate(sc, name) -> GateResult:
    return next(g for g in sc.gates if g.name == name)


def test_all_good_passes():
    sc = score()
    assert sc.verdict is Verdict.PASS
    assert sc.verdict_line == f"Verdict: PASS ({len(sc.gates)} of {len(sc.gates)} gates passed)"
    assert {g.name for g in sc.gates} >= {R.G_MIN_SHARPE, R.G_MAX_DRAWDOWN, R.G_MIN_TRADES, R.G_OOS_SHARPE,
                                          R.G_MAX_CALLBACK_P99, R.G_CALLBACK_BUDGET, R.G_TICK_TO_ORDER_BUDGET,
                                          R.G_TESTS, R.G_SANITIZER, R.G_STATIC, R.G_PARITY, R.G_LOOKAHEAD, R.G_WARMUP}


# --- performance ----------------------------------------------------------------------------


def test_min_sharpe_fail_and_side_by_side_oos():
    sc = score(sp=spec(min_sharpe=20.0))
    g = gate(sc, R.G_MIN_SHARPE)
    assert (g.status, g.reason, g.slice, g.threshold) == (S.FAIL, R.BELOW_THRESHOLD, "in_sample", 20.0)
    assert g.measured == sc.metrics.in_sample.sharpe.value
    assert g.out_of_sample is not None and g.out_of_sample.slice == "out_of_sample"
    assert sc.verdict is Verdict.FAIL


def test_too_few_trades_makes_performance_inconclusive():
    sc = score(run=intraday_run(trips=5))
    for name in (R.G_MIN_SHARPE, R.G_MIN_TRADES, R.G_OOS_SHARPE):
        assert gate(sc, name).status is S.INCONCLUSIVE and gate(sc, name).reason == R.TOO_FEW_TRADES
    assert sc.verdict is Verdict.INCONCLUSIVE
    assert "gates inconclusive" in sc.verdict_line


def test_zero_variance_sharpe_is_inconclusive():
    run = intraday_run()
    flat = run.equity.model_copy(update={"pnl": (0.0,) * len(run.equity.ts_ns)})
    sc = score(run=run.model_copy(update={"equity": flat}))
    g = gate(sc, R.G_MIN_SHARPE)
    assert (g.status, g.reason, g.measured) == (S.INCONCLUSIVE, R.METRIC_UNDEFINED, None)
    assert "ZERO_VARIANCE" in g.message


def test_drawdown_fail_even_with_few_trades_and_pass_otherwise():
    assert gate(score(sp=spec(max_drawdown_pct=0.1)), R.G_MAX_DRAWDOWN).status is S.FAIL
    assert gate(score(run=intraday_run(trips=2), sp=spec(max_drawdown_pct=0.1)), R.G_MAX_DRAWDOWN).status is S.FAIL
    assert gate(score(run=intraday_run(trips=2)), R.G_MAX_DRAWDOWN).status is S.INCONCLUSIVE
    g = gate(score(), R.G_MAX_DRAWDOWN)
    assert g.status is S.PASS and g.slice == "full" and g.comparator == "<="


def test_min_hit_ratio_only_when_set():
    assert R.G_MIN_HIT_RATIO not in {g.name for g in score().gates}
    assert gate(score(sp=spec(min_hit_ratio=0.5)), R.G_MIN_HIT_RATIO).status is S.PASS
    g = gate(score(sp=spec(min_hit_ratio=0.9)), R.G_MIN_HIT_RATIO)
    assert g.status is S.FAIL and g.measured == pytest.approx(80 / 120, abs=0.02)


def test_out_of_sample_sharpe_negative_fails():
    run = intraday_run()
    n = len(run.equity.ts_ns)
    cut = next(i for i, t in enumerate(run.equity.ts_ns) if t >= run.period.out_of_sample_start_ns)
    pnl = list(run.equity.pnl)
    for i in range(cut, n):  # the holdout bleeds steadily, with noise
        pnl[i] = pnl[cut - 1] - 0.5 * (i - cut) + (1.0 if i % 2 else -1.0)
    sc = score(run=run.model_copy(update={"equity": run.equity.model_copy(update={"pnl": tuple(pnl)})}))
    g = gate(sc, R.G_OOS_SHARPE)
    assert (g.status, g.reason) == (S.FAIL, R.NEGATIVE_OOS_SHARPE) and g.measured < 0


def test_no_holdout_is_inconclusive():
    sp = SPEC.model_copy(update={"backtest": SPEC.backtest.model_copy(update={
        "period": SPEC.backtest.period.model_copy(update={"out_of_sample_fraction": 0.0})})})
    sc = score(run=intraday_run(oos_fraction=0.0), sp=sp)
    assert gate(sc, R.G_OOS_SHARPE).reason == R.NO_HOLDOUT
    assert gate(sc, R.G_MIN_SHARPE).out_of_sample is None
    assert sc.metrics.out_of_sample is None


# --- latency --------------------------------------------------------------------------------


@pytest.mark.parametrize("summary,status,reason", [
    (latency(1000), S.PASS, R.OK),
    (latency(1600), S.FAIL, R.ABOVE_THRESHOLD),
    (LatencySummary(count=0, p50_ns=0, p90_ns=0, p99_ns=0, p999_ns=0, max_ns=0), S.INCONCLUSIVE, R.NO_SAMPLES),
    (None, S.ERROR, R.INPUT_MISSING),
])
def test_callback_latency_gates(summary, status, reason):
    sc = score(run=intraday_run(callback_latency=summary))
    for name in (R.G_MAX_CALLBACK_P99, R.G_CALLBACK_BUDGET):
        assert (gate(sc, name).status, gate(sc, name).reason) == (status, reason)


def test_tick_to_order_budget():
    assert gate(score(run=intraday_run(tick_to_order_latency=latency(2001))), R.G_TICK_TO_ORDER_BUDGET).status is S.FAIL
    assert gate(score(run=intraday_run(tick_to_order_latency=None)), R.G_TICK_TO_ORDER_BUDGET).status is S.ERROR


# --- quality --------------------------------------------------------------------------------


def T(py=(5, 0), cpp=(5, 0), san=SanitizerStatus.clean, failures=()):
    mk = lambda pf: None if pf is None else TestSuite(passed=pf[0], failed=pf[1], failures=failures if pf[1] else ())
    return TestResults(python=mk(py), cpp=mk(cpp), sanitizer=san, sanitizer_details="heap-use-after-free")


@pytest.mark.parametrize("tests,status,reason", [
    (T(), S.PASS, R.OK),
    (T(py=(4, 1), failures=("test_quotes",)), S.FAIL, R.TESTS_FAILED),
    (T(cpp=None), S.ERROR, R.TESTS_NOT_RUN),
    (T(py=(0, 0), cpp=(0, 0)), S.INCONCLUSIVE, R.NO_TESTS),
    (None, S.ERROR, R.INPUT_MISSING),
])
def test_tests_gate(tests, status, reason):
    g = gate(score(tests=tests), R.G_TESTS)
    assert (g.status, g.reason) == (status, reason)
    if reason == R.TESTS_FAILED:
        assert "test_quotes" in g.message


@pytest.mark.parametrize("san,status,reason", [
    (SanitizerStatus.clean, S.PASS, R.OK), (SanitizerStatus.findings, S.FAIL, R.SANITIZER_FINDINGS),
    (SanitizerStatus.build_failed, S.FAIL, R.SANITIZER_BUILD_FAILED), (SanitizerStatus.not_run, S.INCONCLUSIVE, R.NOT_RUN),
])
def test_sanitizer_gate(san, status, reason):
    g = gate(score(tests=T(san=san)), R.G_SANITIZER)
    assert (g.status, g.reason) == (status, reason)
    assert gate(score(tests=None), R.G_SANITIZER).status is S.ERROR


@pytest.mark.parametrize("findings,status,reason", [
    (StaticFindings(), S.PASS, R.OK),
    (StaticFindings(findings=(Finding(rule="NO_HEAP_IN_CALLBACK", file="cpp/strategy.cpp", line=42, message="new"),)),
     S.FAIL, R.STATIC_FINDINGS),
    (StaticFindings(ran=False), S.ERROR, R.CHECKER_FAILED),
    (None, S.ERROR, R.INPUT_MISSING),
])
def test_static_gate(findings, status, reason):
    g = gate(score(findings=findings), R.G_STATIC)
    assert (g.status, g.reason) == (status, reason)
    if status is S.FAIL:
        assert "NO_HEAP_IN_CALLBACK cpp/strategy.cpp:42" in g.message


MM = Mismatch(event_index=1234, event="trade BTCUSDT 61000.1 x 0.5", cpp_decision="submit BUY 0.01@61000.0",
              python_decision="no action")


@pytest.mark.parametrize("parity,status,reason", [
    (ParityResult(status="match", events_compared=10), S.PASS, R.OK),
    (ParityResult(status="mismatch", events_compared=1235, first_mismatch=MM), S.FAIL, R.PARITY_MISMATCH),
    (ParityResult(status="match", events_compared=0), S.INCONCLUSIVE, R.NOTHING_COMPARED),
    (ParityResult(status="not_run", events_compared=0), S.INCONCLUSIVE, R.NOT_RUN),
    (ParityResult(status="error", events_compared=0, details="twin crashed"), S.ERROR, R.CHECK_ERROR),
    (None, S.ERROR, R.INPUT_MISSING),
])
def test_parity_gate(parity, status, reason):
    g = gate(score(parity=parity), R.G_PARITY)
    assert (g.status, g.reason) == (status, reason)
    if status is S.FAIL:
        assert "event 1234" in g.message and "no action" in g.message


@pytest.mark.parametrize("look,status,reason", [
    (CheckStatus.passed, S.PASS, R.OK), (CheckStatus.failed, S.FAIL, R.LOOKAHEAD_DETECTED),
    (CheckStatus.not_run, S.INCONCLUSIVE, R.NOT_RUN), (CheckStatus.error, S.ERROR, R.CHECK_ERROR),
])
def test_lookahead_gate(look, status, reason):
    g = gate(score(bias=BiasResult(lookahead=look, warmup_respected=True)), R.G_LOOKAHEAD)
    assert (g.status, g.reason) == (status, reason)


@pytest.mark.parametrize("warm,status,reason", [
    (True, S.PASS, R.OK), (False, S.FAIL, R.WARMUP_VIOLATED), (None, S.INCONCLUSIVE, R.NOT_RUN),
])
def test_warmup_gate(warm, status, reason):
    g = gate(score(bias=BiasResult(lookahead="pass", warmup_respected=warm)), R.G_WARMUP)
    assert (g.status, g.reason) == (status, reason)
    assert gate(score(bias=None), R.G_WARMUP).status is S.ERROR
    assert gate(score(bias=None), R.G_LOOKAHEAD).status is S.ERROR


def BA(rp=100.0, bp=100.5, rt=10, bt=10, **kw):
    return BarAgreement(runtime_trades=rt, backtrader_trades=bt, runtime_final_pnl=rp, backtrader_final_pnl=bp,
                        pnl_tolerance=1.0, **kw)


@pytest.mark.parametrize("bar,profile,status,reason", [
    (BA(), "l2", S.PASS, R.OK),
    (BA(bp=102.0), "l2", S.FAIL, R.BAR_DISAGREEMENT),
    (BA(bt=11), "bars", S.FAIL, R.BAR_DISAGREEMENT),
    (BA(status="error", details="backtrader import failed"), "l2", S.ERROR, R.CHECK_ERROR),
    (BA(status="not_run"), "l2", S.INCONCLUSIVE, R.NOT_RUN),
    (None, "bars", S.ERROR, R.INPUT_MISSING),
])
def test_bar_agreement_gate(bar, profile, status, reason):
    g = gate(score(run=intraday_run(data_profile=profile), bar_agreement=bar), R.G_BAR_AGREEMENT)
    assert (g.status, g.reason) == (status, reason)


def test_bar_agreement_absent_for_l2():
    assert R.G_BAR_AGREEMENT not in {g.name for g in score(bar_agreement=None).gates}


@pytest.mark.parametrize("status,gs,reason", [
    ("ok", S.PASS, R.OK), ("strategy_fault", S.FAIL, R.RUN_FAILED), ("data_error", S.ERROR, R.RUN_DATA_ERROR),
])
def test_run_gate(status, gs, reason):
    g = gate(score(run=intraday_run(status=status, error=None if status == "ok" else "boom")), R.G_RUN)
    assert (g.status, g.reason) == (gs, reason)


# --- verdict --------------------------------------------------------------------------------


def _g(name, status):
    return GateResult(name=name, kind="quality", comparator="n/a", status=status, reason="X", message="m")


@pytest.mark.parametrize("statuses,expected", [
    ([S.PASS, S.PASS], Verdict.PASS),
    ([S.PASS, S.FAIL, S.ERROR, S.INCONCLUSIVE], Verdict.FAIL),
    ([S.PASS, S.INCONCLUSIVE], Verdict.INCONCLUSIVE),
    ([S.PASS, S.ERROR], Verdict.INCONCLUSIVE),
    ([], Verdict.INCONCLUSIVE),
])
def test_verdict_precedence(statuses, expected):
    assert verdict([_g(f"g{i}", s) for i, s in enumerate(statuses)])[0] is expected


def test_verdict_line_names_failed_gates():
    v, line = verdict([_g("min_sharpe", S.FAIL), _g("a", S.PASS), _g("parity", S.FAIL), _g("b", S.INCONCLUSIVE)])
    assert line == "Verdict: FAIL (2 of 4 gates failed: min_sharpe, parity)"
    v, line = verdict([_g("a", S.INCONCLUSIVE), _g("b", S.ERROR), _g("c", S.PASS)])
    assert line == "Verdict: INCONCLUSIVE (1 of 3 gates inconclusive: a; 1 of 3 gates errored: b)"


def test_scorecard_counts_match_gates():
    sc = score(parity=None, sp=spec(min_sharpe=20.0))
    c = sc.gate_counts
    assert c.PASS + c.FAIL + c.INCONCLUSIVE + c.ERROR == len(sc.gates)
    assert (c.FAIL, c.ERROR) == (1, 1) and sc.verdict is Verdict.FAIL
