"""The pure functions: the shadow gate and phase(desired, observed, gates) with its precedence."""

from __future__ import annotations

import math

import pytest
from registry_kit import GATE, GOOD_METRICS

from stratforge.registry import reasons as R
from stratforge.core.spec.loader import load_spec
from stratforge.ci.scorecard.gates import MIN_P99_SAMPLES as SCORECARD_MIN_P99_SAMPLES
from stratforge.ci.scorecard.metrics import MIN_RETURNS
from stratforge.registry.phase import (MIN_DEVIATION_FILLS, MIN_P99_SAMPLES, GateOutcome, Gates,
                                       Phase, ShadowGate, evaluate_shadow_gate, phase,
                                       scorecard_outcome)

OK, FAIL, ERR, INC = (GateOutcome.SUCCESSFUL, GateOutcome.FAILED, GateOutcome.ERROR,
                      GateOutcome.INCONCLUSIVE)


def test_metrics_that_hold_every_criterion_succeed() -> None:
    result = evaluate_shadow_gate(GATE, GOOD_METRICS)
    assert result.outcome is OK
    assert [c.name for c in result.criteria] == [
        R.GATE_MIN_DURATION, R.GATE_MIN_FILLS, R.GATE_MAX_DRAWDOWN, R.GATE_MAX_PNL_DEVIATION,
        R.GATE_MAX_FILL_RATIO_DEVIATION, R.GATE_MAX_RISK_BREACHES, R.GATE_MAX_LATENCY]


@pytest.mark.parametrize(("metric", "value", "criterion"), [
    ("drawdown_pct", 4.01, R.GATE_MAX_DRAWDOWN),
    ("pnl_deviation_pct", 25.5, R.GATE_MAX_PNL_DEVIATION),
    ("fill_ratio_deviation_pct", 10.2, R.GATE_MAX_FILL_RATIO_DEVIATION),
    ("risk_breaches", 1, R.GATE_MAX_RISK_BREACHES),
    ("callback_p99_ns", 9_001, R.GATE_MAX_LATENCY),
])
def test_each_criterion_fails_the_gate_alone(metric: str, value: float, criterion: str) -> None:
    result = evaluate_shadow_gate(GATE, {**GOOD_METRICS, metric: value})
    assert result.outcome is FAIL
    assert [c.name for c in result.criteria if c.outcome is FAIL] == [criterion]
    assert criterion in result.message


@pytest.mark.parametrize(("metric", "value", "criterion", "progress"), [
    ("duration_s", 1_800, R.GATE_MIN_DURATION, 0.5),
    ("fills", 10, R.GATE_MIN_FILLS, 0.25),
    ("fills", 0, R.GATE_MIN_FILLS, 0.0),
])
def test_an_at_least_criterion_still_accumulating_is_inconclusive_with_progress(
        metric: str, value: float, criterion: str, progress: float) -> None:
    # a shadow that has run half its minimum duration has not failed: it has not finished
    # (the PnL deviation is left unmeasured here: over so few fills it accumulates too)
    metrics = {**GOOD_METRICS, metric: value}
    if metric == "fills":
        metrics.pop("pnl_deviation_pct")
    result = evaluate_shadow_gate(GATE, metrics)
    assert result.outcome is INC
    (c,) = [c for c in result.criteria if c.outcome is INC and c.observed is not None]
    assert (c.name, c.observed, c.progress) == (criterion, value, progress)
    assert f"{criterion} {value:g}/" in result.message and "accumulating" in result.message
    assert result.to_dict()["criteria"][[x.name for x in result.criteria].index(criterion)][
        "progress"] == progress
    # the reached ones show full progress; a maximum has none
    done = {x.name: x.progress for x in evaluate_shadow_gate(GATE, GOOD_METRICS).criteria}
    assert done[R.GATE_MIN_DURATION] == done[R.GATE_MIN_FILLS] == 1.0
    assert done[R.GATE_MAX_DRAWDOWN] is None


def test_a_decided_failure_fails_the_gate_while_others_still_accumulate() -> None:
    # too few fills yet (accumulating) and a drawdown past its maximum (decided): FAILED,
    # naming only the decided criterion
    result = evaluate_shadow_gate(GATE, {**GOOD_METRICS, "fills": 3, "drawdown_pct": 9.0})
    assert result.outcome is FAIL
    assert [c.name for c in result.criteria if c.outcome is FAIL] == [R.GATE_MAX_DRAWDOWN]
    assert [c.name for c in result.criteria if c.outcome is INC] == [
        R.GATE_MIN_FILLS, R.GATE_MAX_PNL_DEVIATION]
    assert R.GATE_MIN_FILLS not in result.message


def test_thresholds_are_inclusive() -> None:
    edge = {**GOOD_METRICS, "duration_s": 3_600, "fills": 40, "drawdown_pct": 4.0,
            "callback_p99_ns": 9_000}
    assert evaluate_shadow_gate(GATE, edge).outcome is OK


@pytest.mark.parametrize("metrics", [None, {}])
def test_no_data_is_inconclusive(metrics) -> None:  # noqa: ANN001
    assert evaluate_shadow_gate(GATE, metrics).outcome is INC


def test_an_unmeasured_metric_is_inconclusive_not_a_pass() -> None:
    metrics = {k: v for k, v in GOOD_METRICS.items() if k != "callback_p99_ns"}
    result = evaluate_shadow_gate(GATE, metrics)
    assert result.outcome is INC
    assert [c.name for c in result.criteria if c.outcome is INC] == [R.GATE_MAX_LATENCY]


def test_a_failure_outranks_missing_data() -> None:
    metrics = {"fills": 2, "risk_breaches": 1}
    assert evaluate_shadow_gate(GATE, metrics).outcome is FAIL


def test_accumulating_and_unmeasured_criteria_are_both_named() -> None:
    result = evaluate_shadow_gate(GATE, {"duration_s": 900, "fills": 41})
    assert result.outcome is INC
    assert f"{R.GATE_MIN_DURATION} 900/3600 (accumulating, 25%)" in result.message
    assert f"{R.GATE_MAX_LATENCY} (not measured)" in result.message
    assert R.GATE_MIN_FILLS not in result.message


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "12", True])
def test_unusable_values_are_errors(bad) -> None:  # noqa: ANN001
    result = evaluate_shadow_gate(GATE, {**GOOD_METRICS, "fills": bad})
    assert result.outcome is ERR


def test_scorecard_verdicts() -> None:
    assert [scorecard_outcome(v) for v in ("PASS", "FAIL", "INCONCLUSIVE", "pass")] == \
        [OK, FAIL, INC, OK]


# (desired, observed, scorecard, shadow, previously_live) -> (phase, reason)
PHASES = [
    (None, None, FAIL, INC, False, Phase.HEALTHY, R.NOT_DEPLOYED),
    ("shadow", None, OK, INC, False, Phase.PROGRESSING, R.AWAITING_DEPLOYER),
    ("shadow", "shadow", OK, INC, False, Phase.HEALTHY, R.CONVERGED),
    ("shadow", "shadow", FAIL, OK, False, Phase.DEGRADED, R.GATE_FAILED),
    ("shadow", None, INC, OK, False, Phase.PAUSED, R.GATE_INCONCLUSIVE),
    ("live", "shadow", OK, OK, False, Phase.PROGRESSING, R.AWAITING_DEPLOYER),
    ("live", "shadow", OK, INC, False, Phase.PAUSED, R.GATE_INCONCLUSIVE),
    ("live", "shadow", OK, FAIL, False, Phase.DEGRADED, R.GATE_FAILED),
    ("live", "shadow", OK, ERR, False, Phase.DEGRADED, R.GATE_FAILED),
    # precedence: a failed gate outranks an inconclusive one, which outranks progress
    ("live", "shadow", INC, FAIL, False, Phase.DEGRADED, R.GATE_FAILED),
    ("live", None, INC, INC, False, Phase.PAUSED, R.GATE_INCONCLUSIVE),
    # once live, the shadow gate is history; a rollback target needs none
    ("live", "live", OK, INC, False, Phase.HEALTHY, R.CONVERGED),
    ("live", "retired", OK, INC, True, Phase.PROGRESSING, R.AWAITING_DEPLOYER),
    ("retired", "live", FAIL, FAIL, False, Phase.PROGRESSING, R.AWAITING_DEPLOYER),
    ("retired", "retired", FAIL, FAIL, False, Phase.HEALTHY, R.CONVERGED),
]


@pytest.mark.parametrize(("desired", "observed", "card", "shadow", "was_live", "want", "reason"),
                         PHASES)
def test_phase_table(desired, observed, card, shadow, was_live, want, reason) -> None:  # noqa: ANN001
    got = phase(desired, observed, Gates(card, shadow, previously_live=was_live))
    assert (got.phase, got.reason) == (want, reason)


def test_the_shadow_gate_comes_from_a_real_specs_gates(repo) -> None:  # noqa: ANN001
    """register_build's caller turns a loaded spec's gates into the registry's ShadowGate."""
    spec = load_spec(repo / "tests" / "fixtures" / "specs" / "kc-gap-fade.yaml").spec
    gate = ShadowGate.from_spec_gates(spec.gates)
    assert gate.min_fills == spec.gates.shadow.min_fills
    assert gate.max_drawdown_pct == spec.gates.max_drawdown_pct
    assert gate.max_callback_p99_ns == spec.gates.max_callback_p99_ns
    assert gate.max_risk_breaches == 0
    assert ShadowGate.from_dict(gate.to_dict()) == gate


def test_a_slow_p99_of_few_callbacks_is_inconclusive_until_there_are_enough() -> None:
    # one preempted callback among a handful is their p99: not a measured latency yet
    few = {**GOOD_METRICS, "callback_p99_ns": 119_000, "callback_count": 14}
    result = evaluate_shadow_gate(GATE, few)
    assert result.outcome is INC
    (c,) = [c for c in result.criteria if c.outcome is INC]
    assert (c.name, c.observed, c.progress) == (R.GATE_MAX_LATENCY, 119_000, 0.14)
    # enough callbacks: the same p99 fails the gate; a count is never needed to pass or fail
    enough = {**few, "callback_count": MIN_P99_SAMPLES}
    assert evaluate_shadow_gate(GATE, enough).outcome is FAIL
    assert evaluate_shadow_gate(GATE, {**GOOD_METRICS, "callback_p99_ns": 119_000}).outcome \
        is FAIL
    assert evaluate_shadow_gate(GATE, {**GOOD_METRICS, "callback_count": 3}).outcome is OK
    assert MIN_P99_SAMPLES == SCORECARD_MIN_P99_SAMPLES  # one rule for backtest and shadow


def test_a_pnl_deviation_over_few_fills_is_inconclusive_never_a_pass_nor_a_failure() -> None:
    # the spec asks few fills (min_fills 2), so only the sample rule holds the comparison back
    gate = ShadowGate(min_duration_s=60, min_fills=2, max_pnl_deviation_pct=100.0,
                      max_fill_ratio_deviation_pct=20.0, max_drawdown_pct=10.0,
                      max_callback_p99_ns=5_000)
    base = {"duration_s": 600, "drawdown_pct": 0.5, "fill_ratio_deviation_pct": 0.0,
            "risk_breaches": 0, "callback_p99_ns": 1_000, "callback_count": 500}
    for dev in (250.0, 77.0):  # over and under the limit: the first fills say neither
        result = evaluate_shadow_gate(gate, {**base, "fills": 12, "pnl_deviation_pct": dev})
        assert result.outcome is INC, dev
        (c,) = [c for c in result.criteria if c.outcome is INC]
        assert (c.name, c.observed, c.progress) == (R.GATE_MAX_PNL_DEVIATION, dev,
                                                    12 / MIN_DEVIATION_FILLS)
        assert f"{R.GATE_MAX_PNL_DEVIATION} {dev:g}/100 (accumulating, 40%)" in result.message


def test_a_real_pnl_deviation_fails_once_enough_fills_exist() -> None:
    gate = ShadowGate(min_duration_s=60, min_fills=2, max_pnl_deviation_pct=100.0,
                      max_fill_ratio_deviation_pct=20.0, max_drawdown_pct=10.0,
                      max_callback_p99_ns=5_000)
    base = {"duration_s": 600, "drawdown_pct": 0.5, "fill_ratio_deviation_pct": 0.0,
            "risk_breaches": 0, "callback_p99_ns": 1_000, "callback_count": 500}
    # a shadow earning a third of the backtest's PnL per fill, by then over 30 fills: decided
    bad = evaluate_shadow_gate(gate, {**base, "fills": MIN_DEVIATION_FILLS,
                                      "pnl_deviation_pct": 166.7})
    assert bad.outcome is FAIL
    assert [c.name for c in bad.criteria if c.outcome is FAIL] == [R.GATE_MAX_PNL_DEVIATION]
    # one fill fewer: still accumulating; within the limit with enough fills: it holds
    assert evaluate_shadow_gate(gate, {**base, "fills": MIN_DEVIATION_FILLS - 1,
                                       "pnl_deviation_pct": 166.7}).outcome is INC
    assert evaluate_shadow_gate(gate, {**base, "fills": 31,
                                       "pnl_deviation_pct": 40.0}).outcome is OK
    assert MIN_DEVIATION_FILLS == MIN_RETURNS  # the scorecard's sample policy's count
