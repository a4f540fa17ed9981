"""Gates: each ends PASS, FAIL, INCONCLUSIVE or ERROR, with a reason code, a message and the
measured value against its threshold. Pure functions of their inputs; no score is invented —
when the evidence is too thin the gate is INCONCLUSIVE and a human decides.

Precedence of the verdict (:func:`verdict`): any FAIL → FAIL; else every gate PASS → PASS; else
INCONCLUSIVE (an ERROR gate, i.e. a missing or broken input, makes the verdict INCONCLUSIVE).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    BarAgreement,
    BiasResult,
    CheckStatus,
    LatencySummary,
    ParityResult,
    ParityStatus,
    RunStatus,
    SanitizerStatus,
    StaticFindings,
    TestResults,
)
from stratforge.ci.scorecard.metrics import Metrics, SliceMetrics
from stratforge.ci.scorecard.reasons import GateStatus, Verdict
from stratforge.core.spec import StrategySpec

Value = float | int | str | None


class GateEval(BaseModel):
    """One evaluation of a gate's rule on one slice of the run."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    slice: Literal["full", "in_sample", "out_of_sample", "n/a"] = Field(description="Data judged.")
    status: GateStatus
    reason: str = Field(description="Stable reason code (reasons.py).")
    message: str
    measured: Value = None
    threshold: Value = None


class GateResult(BaseModel):
    """A gate: the evaluation that enters the verdict, plus the out-of-sample evaluation of the
    same rule for performance gates (reported side by side; it does not enter the verdict)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    kind: Literal["performance", "latency", "quality", "run"]
    comparator: Literal[">=", "<=", "==", "n/a"] = Field(description="measured must be <cmp> threshold.")
    unit: str = ""
    status: GateStatus
    reason: str
    message: str
    measured: Value = None
    threshold: Value = None
    slice: Literal["full", "in_sample", "out_of_sample", "n/a"] = "n/a"
    out_of_sample: GateEval | None = None


def _fmt(v: Value) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _ev(slice_, status, reason, measured=None, threshold=None, **kw) -> GateEval:
    values = {"measured": _fmt(measured), "threshold": _fmt(threshold), **kw}
    return GateEval(slice=slice_, status=status, reason=reason, message=R.message(reason, **values),
                    measured=measured, threshold=threshold)


def _gate(name, kind, cmp, unit, ev: GateEval, oos: GateEval | None = None) -> GateResult:
    return GateResult(name=name, kind=kind, comparator=cmp, unit=unit, status=ev.status,
                      reason=ev.reason, message=ev.message, measured=ev.measured,
                      threshold=ev.threshold, slice=ev.slice, out_of_sample=oos)


# --------------------------------------------------------------------------------------------
# performance


def needed_trades(min_trades: int, share: float) -> int:
    """Trades a slice covering ``share`` of the period needs before it is judged."""
    return max(1, math.ceil(min_trades * share - 1e-9))


def _short(why: str | None) -> bool:
    """The metric is undefined by the sample policy (too few returns or too short a span)."""
    return bool(why) and why.startswith("SHORT_SAMPLE:")


def _short_why(why: str) -> str:
    """The policy's explanation without its code (the gate's reason carries the code)."""
    return why.split(":", 1)[1].strip()


def _min_rule(sm: SliceMetrics, value: float | None, why: str | None, threshold: float, needed: int,
              cmp: str = ">=") -> GateEval:
    if value is None and _short(why):  # too little evidence, whatever the trades
        return _ev(sm.slice, GateStatus.INCONCLUSIVE, R.SHORT_SAMPLE, None, threshold, why=_short_why(why))
    if sm.trades < needed:
        return _ev(sm.slice, GateStatus.INCONCLUSIVE, R.TOO_FEW_TRADES, value, threshold,
                   trades=sm.trades, needed=needed)
    if value is None:
        return _ev(sm.slice, GateStatus.INCONCLUSIVE, R.METRIC_UNDEFINED, None, threshold, why=why)
    if value < threshold:
        return _ev(sm.slice, GateStatus.FAIL, R.BELOW_THRESHOLD, value, threshold)
    return _ev(sm.slice, GateStatus.PASS, R.OK, value, threshold, cmp=cmp)


def _drawdown_rule(sm: SliceMetrics, threshold: float, needed: int) -> GateEval:
    v = sm.max_drawdown.pct_of_capital
    if v > threshold:  # a breach is a breach however few trades caused it
        return _ev(sm.slice, GateStatus.FAIL, R.ABOVE_THRESHOLD, v, threshold)
    if sm.trades < needed:
        return _ev(sm.slice, GateStatus.INCONCLUSIVE, R.TOO_FEW_TRADES, v, threshold,
                   trades=sm.trades, needed=needed)
    return _ev(sm.slice, GateStatus.PASS, R.OK, v, threshold, cmp="<=")


def _trades_rule(sm: SliceMetrics, needed: int) -> GateEval:
    if sm.trades < needed:
        return _ev(sm.slice, GateStatus.INCONCLUSIVE, R.TOO_FEW_TRADES, sm.trades, needed,
                   trades=sm.trades, needed=needed)
    return _ev(sm.slice, GateStatus.PASS, R.OK, sm.trades, needed, cmp=">=")


def performance_gates(m: Metrics, gates, oos_fraction: float) -> list[GateResult]:
    """min_sharpe and min_hit_ratio judge the in-sample slice; max_drawdown_pct and min_trades
    judge the full run. Each is also evaluated on the out-of-sample slice, side by side."""
    ins, full, oos = m.in_sample, m.full, m.out_of_sample
    in_share = 1.0 - oos_fraction if oos is not None else 1.0
    n_in = needed_trades(gates.min_trades, in_share)
    n_full = needed_trades(gates.min_trades, 1.0)
    n_oos = needed_trades(gates.min_trades, oos_fraction)
    out: list[GateResult] = []

    def side(rule) -> GateEval | None:
        return rule(oos) if oos is not None else None

    out.append(_gate(R.G_MIN_SHARPE, "performance", ">=", "annualised",
                     _min_rule(ins, ins.sharpe.value, ins.sharpe.reason, gates.min_sharpe, n_in),
                     side(lambda s: _min_rule(s, s.sharpe.value, s.sharpe.reason, gates.min_sharpe, n_oos))))
    out.append(_gate(R.G_MAX_DRAWDOWN, "performance", "<=", "% of capital",
                     _drawdown_rule(full, gates.max_drawdown_pct, n_full),
                     side(lambda s: _drawdown_rule(s, gates.max_drawdown_pct, n_oos))))
    out.append(_gate(R.G_MIN_TRADES, "performance", ">=", "round trips",
                     _trades_rule(full, n_full), side(lambda s: _trades_rule(s, n_oos))))
    if gates.min_hit_ratio is not None:
        out.append(_gate(R.G_MIN_HIT_RATIO, "performance", ">=", "share",
                         _min_rule(ins, ins.hit_ratio.value, ins.hit_ratio.reason, gates.min_hit_ratio, n_in),
                         side(lambda s: _min_rule(s, s.hit_ratio.value, s.hit_ratio.reason, gates.min_hit_ratio, n_oos))))
    # out-of-sample hard gate: the holdout must not lose money on a risk-adjusted basis
    if oos is None:
        ev = _ev("out_of_sample", GateStatus.INCONCLUSIVE, R.NO_HOLDOUT, None, 0.0)
    elif oos.sharpe.value is None and _short(oos.sharpe.reason):
        ev = _ev("out_of_sample", GateStatus.INCONCLUSIVE, R.SHORT_SAMPLE, None, 0.0,
                 why=_short_why(oos.sharpe.reason))
    elif oos.trades < n_oos:
        ev = _ev("out_of_sample", GateStatus.INCONCLUSIVE, R.TOO_FEW_TRADES, oos.sharpe.value, 0.0,
                 trades=oos.trades, needed=n_oos)
    elif oos.sharpe.value is None:
        ev = _ev("out_of_sample", GateStatus.INCONCLUSIVE, R.METRIC_UNDEFINED, None, 0.0, why=oos.sharpe.reason)
    elif oos.sharpe.value < 0:
        ev = _ev("out_of_sample", GateStatus.FAIL, R.NEGATIVE_OOS_SHARPE, oos.sharpe.value, 0.0)
    else:
        ev = _ev("out_of_sample", GateStatus.PASS, R.OK, oos.sharpe.value, 0.0, cmp=">=")
    out.append(_gate(R.G_OOS_SHARPE, "performance", ">=", "annualised", ev))
    return out


# --------------------------------------------------------------------------------------------
# latency


#: A p99 from fewer samples is just their maximum: it cannot fail a budget on its own.
MIN_P99_SAMPLES = 100


def _latency_gate(name: str, summary: LatencySummary | None, field: str, threshold: int, what: str) -> GateResult:
    if summary is None:
        ev = _ev("full", GateStatus.ERROR, R.INPUT_MISSING, None, threshold, what=f"{what} latency histogram")
    elif summary.count == 0:
        ev = _ev("full", GateStatus.INCONCLUSIVE, R.NO_SAMPLES, None, threshold, what=what)
    else:
        v = getattr(summary, field)
        if v <= threshold:
            ev = _ev("full", GateStatus.PASS, R.OK, v, threshold, cmp="<=")
        elif summary.count < MIN_P99_SAMPLES:
            ev = _ev("full", GateStatus.INCONCLUSIVE, R.TOO_FEW_SAMPLES, v, threshold, what=what,
                     count=summary.count, needed=MIN_P99_SAMPLES)
        else:
            ev = _ev("full", GateStatus.FAIL, R.ABOVE_THRESHOLD, v, threshold)
    return _gate(name, "latency", "<=", "ns", ev)


def latency_gates(run: BacktestRun, spec: StrategySpec) -> list[GateResult]:
    return [
        _latency_gate(R.G_MAX_CALLBACK_P99, run.callback_latency, "p99_ns", spec.gates.max_callback_p99_ns, "callback"),
        _latency_gate(R.G_CALLBACK_BUDGET, run.callback_latency, "p99_ns", spec.latency.callback_p99_ns, "callback"),
        _latency_gate(R.G_TICK_TO_ORDER_BUDGET, run.tick_to_order_latency, "p99_ns",
                      spec.latency.tick_to_order_p99_ns, "tick-to-order"),
    ]


# --------------------------------------------------------------------------------------------
# quality


def _na(status, reason, measured=None, threshold=None, **kw) -> GateEval:
    return _ev("n/a", status, reason, measured, threshold, **kw)


def run_gate(run: BacktestRun) -> GateResult:
    if run.status is RunStatus.ok:
        ev = _na(GateStatus.PASS, R.OK, "ok", "ok", cmp="==")
    elif run.status is RunStatus.strategy_fault:
        ev = _na(GateStatus.FAIL, R.RUN_FAILED, run.status.value, "ok", error=run.error or "")
    else:
        ev = _na(GateStatus.ERROR, R.RUN_DATA_ERROR, run.status.value, "ok", error=run.error or "")
    return _gate(R.G_RUN, "run", "==", "", ev)


def tests_gate(tests: TestResults | None) -> GateResult:
    if tests is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, None, 0, what="test results")
    else:
        missing = [n for n, s in (("python", tests.python), ("C++", tests.cpp)) if s is None]
        suites = [s for s in (tests.python, tests.cpp) if s is not None]
        failed = sum(s.failed for s in suites)
        names = [n for s in suites for n in s.failures]
        if failed:
            ev = _na(GateStatus.FAIL, R.TESTS_FAILED, failed, 0, failed=failed,
                     names=", ".join(names[:5]) + (" ..." if len(names) > 5 else "") or "(unnamed)")
        elif missing:
            ev = _na(GateStatus.ERROR, R.TESTS_NOT_RUN, None, 0, which=" and ".join(missing))
        elif sum(s.passed for s in suites) == 0:
            ev = _na(GateStatus.INCONCLUSIVE, R.NO_TESTS, 0, 0)
        else:
            ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured=0, threshold=0,
                          message=f"{sum(s.passed for s in suites)} passed, 0 failed")
    return _gate(R.G_TESTS, "quality", "==", "failed tests", ev)


def sanitizer_gate(tests: TestResults | None) -> GateResult:
    if tests is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, what="sanitizer build status")
    elif tests.sanitizer is SanitizerStatus.clean:
        ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured="clean",
                      threshold="clean", message="ASan+UBSan build and tests clean")
    elif tests.sanitizer is SanitizerStatus.findings:
        ev = _na(GateStatus.FAIL, R.SANITIZER_FINDINGS, "findings", "clean", details=tests.sanitizer_details[:300])
    elif tests.sanitizer is SanitizerStatus.build_failed:
        ev = _na(GateStatus.FAIL, R.SANITIZER_BUILD_FAILED, "build_failed", "clean",
                 details=tests.sanitizer_details[:300])
    else:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOT_RUN, "not_run", "clean", what="the sanitizer build")
    return _gate(R.G_SANITIZER, "quality", "==", "", ev)


def static_gate(findings: StaticFindings | None) -> GateResult:
    if findings is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, None, 0, what="static-check findings")
    elif not findings.ran:
        ev = _na(GateStatus.ERROR, R.CHECKER_FAILED, None, 0)
    elif findings.findings:
        f = findings.findings[0]
        ev = _na(GateStatus.FAIL, R.STATIC_FINDINGS, len(findings.findings), 0,
                 count=len(findings.findings), first=f"{f.rule} {f.file}:{f.line} {f.message}")
    else:
        ev = _na(GateStatus.PASS, R.OK, 0, 0, cmp="==")
    return _gate(R.G_STATIC, "quality", "==", "findings", ev)


def parity_gate(parity: ParityResult | None) -> GateResult:
    if parity is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, what="parity result")
    elif parity.status is ParityStatus.mismatch:
        mm = parity.first_mismatch
        if mm is None:
            ev = _na(GateStatus.FAIL, R.PARITY_MISMATCH, "mismatch", "match", index="?", event="?", cpp="?", python="?")
        else:
            ev = _na(GateStatus.FAIL, R.PARITY_MISMATCH, "mismatch", "match", index=mm.event_index,
                     event=mm.event, cpp=mm.cpp_decision, python=mm.python_decision)
    elif parity.status is ParityStatus.error:
        ev = _na(GateStatus.ERROR, R.CHECK_ERROR, "error", "match", details=parity.details[:300])
    elif parity.status is ParityStatus.not_run:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOT_RUN, "not_run", "match", what="the parity check")
    elif parity.events_compared == 0:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOTHING_COMPARED, "match", "match")
    else:
        ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured="match", threshold="match",
                      message=f"{parity.events_compared} callbacks compared, all decisions equal")
    return _gate(R.G_PARITY, "quality", "==", "", ev)


def lookahead_gate(bias: BiasResult | None) -> GateResult:
    if bias is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, what="bias-check result")
    elif bias.lookahead is CheckStatus.failed:
        ev = _na(GateStatus.FAIL, R.LOOKAHEAD_DETECTED, "fail", "pass", details=bias.lookahead_details[:300])
    elif bias.lookahead is CheckStatus.error:
        ev = _na(GateStatus.ERROR, R.CHECK_ERROR, "error", "pass", details=bias.lookahead_details[:300])
    elif bias.lookahead is CheckStatus.not_run:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOT_RUN, "not_run", "pass", what="the look-ahead check")
    else:
        ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured="pass", threshold="pass",
                      message=f"decisions unchanged at {bias.truncations_checked} truncation point(s)")
    return _gate(R.G_LOOKAHEAD, "quality", "==", "", ev)


def warmup_gate(bias: BiasResult | None) -> GateResult:
    if bias is None:
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, what="bias-check result")
    elif bias.warmup_respected is None:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOT_RUN, "not_run", "respected", what="the warm-up check")
    elif not bias.warmup_respected:
        ev = _na(GateStatus.FAIL, R.WARMUP_VIOLATED, "violated", "respected", details=bias.warmup_details[:300])
    else:
        ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured="respected", threshold="respected",
                      message="no order before the signals were warm")
    return _gate(R.G_WARMUP, "quality", "==", "", ev)


def bar_agreement_gate(bar: BarAgreement | None, run: BacktestRun) -> GateResult | None:
    """Bar runs must carry the backtrader cross-check (missing → ERROR); L2 runs have none."""
    if bar is None:
        if run.data_profile != "bars":
            return None
        ev = _na(GateStatus.ERROR, R.INPUT_MISSING, what="bar-mode vs backtrader cross-check")
    elif bar.status is CheckStatus.error:
        ev = _na(GateStatus.ERROR, R.CHECK_ERROR, details=bar.details[:300])
    elif bar.status is CheckStatus.not_run:
        ev = _na(GateStatus.INCONCLUSIVE, R.NOT_RUN, what="the backtrader cross-check")
    else:
        dpnl = abs(bar.runtime_final_pnl - bar.backtrader_final_pnl)
        dtr = abs(bar.runtime_trades - bar.backtrader_trades)
        kw = dict(rt=bar.runtime_trades, bt=bar.backtrader_trades, ttol=bar.trades_tolerance,
                  rp=_fmt(bar.runtime_final_pnl), bp=_fmt(bar.backtrader_final_pnl), ptol=_fmt(bar.pnl_tolerance))
        if dpnl > bar.pnl_tolerance or dtr > bar.trades_tolerance:
            ev = _na(GateStatus.FAIL, R.BAR_DISAGREEMENT, dpnl, bar.pnl_tolerance, **kw)
        else:
            ev = GateEval(slice="n/a", status=GateStatus.PASS, reason=R.OK, measured=dpnl,
                          threshold=bar.pnl_tolerance, message=R.message(R.BAR_DISAGREEMENT, **kw))
    return _gate(R.G_BAR_AGREEMENT, "quality", "<=", "|PnL difference|", ev)


# --------------------------------------------------------------------------------------------
# verdict


def verdict(gates: list[GateResult] | tuple[GateResult, ...]) -> tuple[Verdict, str]:
    """The verdict and its one-line text, e.g. ``Verdict: FAIL (2 of 14 gates failed: a, b)``."""
    n = len(gates)
    by = {s: [g.name for g in gates if g.status is s] for s in GateStatus}
    if by[GateStatus.FAIL]:
        names = by[GateStatus.FAIL]
        return Verdict.FAIL, f"Verdict: FAIL ({len(names)} of {n} gates failed: {', '.join(names)})"
    if n and len(by[GateStatus.PASS]) == n:
        return Verdict.PASS, f"Verdict: PASS ({n} of {n} gates passed)"
    parts = []
    if by[GateStatus.INCONCLUSIVE]:
        parts.append(f"{len(by[GateStatus.INCONCLUSIVE])} of {n} gates inconclusive: "
                     + ", ".join(by[GateStatus.INCONCLUSIVE]))
    if by[GateStatus.ERROR]:
        parts.append(f"{len(by[GateStatus.ERROR])} of {n} gates errored: " + ", ".join(by[GateStatus.ERROR]))
    if not parts:
        parts.append("no gates")
    return Verdict.INCONCLUSIVE, f"Verdict: INCONCLUSIVE ({'; '.join(parts)})"
