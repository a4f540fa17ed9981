"""Pure functions of promotion: the shadow gate's evaluation and a deployment's phase.

Nothing here reads the database, a clock or the environment: the same inputs give the same
answer, so controller tests assert exact results (Argo Rollouts' ``rolloututil.go`` style).

Gate outcomes (Argo Rollouts' ``AnalysisPhase``): ``SUCCESSFUL``, ``FAILED``, ``ERROR`` (the
inputs are unusable, e.g. a negative duration) and ``INCONCLUSIVE`` (no data, a metric not
measured, or an "at least" criterion — ``min_duration_s``, ``min_fills`` — still accumulating
while the shadow runs, and a PnL-per-fill deviation over fewer than ``MIN_DEVIATION_FILLS``
fills). An inconclusive gate never promotes: it pauses for a human or for more data. Only a decided criterion fails the gate: a maximum exceeded (drawdown, deviation, risk
breaches, latency) — the shadow cannot take it back by running longer.

:func:`phase` precedence (first match wins):

1. ``DEGRADED`` — a gate the desired slot needs has FAILED or ERROR (scorecard for shadow and
   live; the shadow gate for live while the version is not yet observed live, unless it ran
   live before — a rollback target returns without a new shadow run).
2. ``PAUSED`` — such a gate is INCONCLUSIVE.
3. ``PROGRESSING`` — the deployer has not (yet) reported the desired slot (observed ≠ desired).
4. ``HEALTHY`` — observed equals desired and every needed gate holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from stratforge.registry import reasons as R


class GateOutcome(str, Enum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"


class Phase(str, Enum):
    DEGRADED = "Degraded"
    PAUSED = "Paused"
    PROGRESSING = "Progressing"
    HEALTHY = "Healthy"


@dataclass(frozen=True)
class ShadowGate:
    """The shadow gate's thresholds (from the spec's ``gates.shadow`` plus the scorecard's
    drawdown and latency limits, so shadow is held to what the backtest was held to)."""

    min_duration_s: int
    min_fills: int
    max_pnl_deviation_pct: float
    max_fill_ratio_deviation_pct: float
    max_drawdown_pct: float
    max_callback_p99_ns: int
    max_risk_breaches: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ShadowGate":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @classmethod
    def from_spec_gates(cls, gates: Any) -> "ShadowGate":
        """From a spec's ``gates`` section (read by attribute, so the registry need not import
        the spec model): ``gates.shadow`` plus the scorecard's drawdown and latency limits."""
        shadow = gates.shadow
        return cls(min_duration_s=shadow.min_duration_s, min_fills=shadow.min_fills,
                   max_pnl_deviation_pct=shadow.max_pnl_deviation_pct,
                   max_fill_ratio_deviation_pct=shadow.max_fill_ratio_deviation_pct,
                   max_drawdown_pct=gates.max_drawdown_pct,
                   max_callback_p99_ns=gates.max_callback_p99_ns)


#: the observed metrics the shadow gate reads (absent or None: not measured)
SHADOW_METRICS = ("duration_s", "fills", "drawdown_pct", "pnl_deviation_pct",
                  "fill_ratio_deviation_pct", "risk_breaches", "callback_p99_ns",
                  "callback_count")


@dataclass(frozen=True)
class Criterion:
    """One line of the gate: the metric, its threshold, what was observed and the outcome."""

    name: str
    threshold: float
    observed: float | None
    outcome: GateOutcome
    #: an "at least" criterion: observed / threshold, capped at 1 (None for a maximum, or when
    #: not measured) — how far a still-accumulating shadow run is
    progress: float | None = None


@dataclass(frozen=True)
class GateResult:
    outcome: GateOutcome
    criteria: tuple[Criterion, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "message": self.message,
                "criteria": [{"name": c.name, "threshold": c.threshold, "observed": c.observed,
                              "outcome": c.outcome.value, "progress": c.progress}
                             for c in self.criteria]}


#: A p99 from fewer callbacks is just their slowest: above its budget it cannot fail the gate
#: yet (the scorecard's latency gates follow the same rule, ci/scorecard/gates.py).
MIN_P99_SAMPLES = 100

#: PnL per fill is a mean over the shadow's fills: judged against the backtest's only from this
#: many fills on (the scorecard's sample policy asks the same 30 observations of a mean before
#: it is compared, ci/scorecard/metrics.py MIN_RETURNS). Over fewer fills one trade moves it by
#: more than any limit a spec sets (a daily-bar mean reversion's deviation swung between 77 %
#: and 250 % over its first 7-21 shadow fills), so below it the criterion is INCONCLUSIVE with
#: its progress whatever the value: it neither fails nor passes the gate.
MIN_DEVIATION_FILLS = 30

# (criterion, metric, threshold attribute, True when the observed value must be >= threshold)
_CRITERIA = (
    (R.GATE_MIN_DURATION, "duration_s", "min_duration_s", True),
    (R.GATE_MIN_FILLS, "fills", "min_fills", True),
    (R.GATE_MAX_DRAWDOWN, "drawdown_pct", "max_drawdown_pct", False),
    (R.GATE_MAX_PNL_DEVIATION, "pnl_deviation_pct", "max_pnl_deviation_pct", False),
    (R.GATE_MAX_FILL_RATIO_DEVIATION, "fill_ratio_deviation_pct",
     "max_fill_ratio_deviation_pct", False),
    (R.GATE_MAX_RISK_BREACHES, "risk_breaches", "max_risk_breaches", False),
    (R.GATE_MAX_LATENCY, "callback_p99_ns", "max_callback_p99_ns", False),
)


def evaluate_shadow_gate(gate: ShadowGate, metrics: Mapping[str, Any] | None,
                         age_s: float | None = None,
                         max_age_s: float | None = None) -> GateResult:
    """The shadow gate over the latest observed metrics. Per criterion: a value that is not a
    finite non-negative number → ERROR; not measured → INCONCLUSIVE; a maximum exceeded →
    FAILED (decided: running longer cannot undo it) — except a callback p99 over fewer than
    :data:`MIN_P99_SAMPLES` callbacks (``callback_count``), INCONCLUSIVE while they accumulate;
    a PnL-per-fill deviation over fewer than :data:`MIN_DEVIATION_FILLS` fills (``fills``),
    INCONCLUSIVE with its progress whether it is over its maximum or under it (never a pass);
    an "at least" criterion below its
    threshold → INCONCLUSIVE with its progress (still accumulating: the shadow runs on); else
    SUCCESSFUL. The gate: any ERROR → ERROR; else any FAILED → FAILED; else any INCONCLUSIVE →
    INCONCLUSIVE (the message names what is missing and how far each accumulating criterion
    is); else SUCCESSFUL. No metrics at all → INCONCLUSIVE.

    ``age_s``: how old the observation is; older than ``max_age_s`` it counts as no
    observation (INCONCLUSIVE): a stopped metrics source never lets a version promote on what
    it reported before it stopped."""
    if not metrics:
        return GateResult(GateOutcome.INCONCLUSIVE, (), "no shadow metrics observed yet")
    if age_s is not None and max_age_s is not None and age_s > max_age_s:
        return GateResult(GateOutcome.INCONCLUSIVE, (),
                          f"the latest shadow metrics are {age_s:.0f} s old (more than "
                          f"{max_age_s:g} s): the metrics source stopped reporting")
    criteria = []
    for name, metric, attr, at_least in _CRITERIA:
        threshold = getattr(gate, attr)
        value = metrics.get(metric)
        progress = None
        if value is None:
            outcome = GateOutcome.INCONCLUSIVE
        elif (isinstance(value, bool) or not isinstance(value, (int, float))
              or not math.isfinite(value) or value < 0):
            outcome, value = GateOutcome.ERROR, None
        elif at_least:
            progress = min(1.0, value / threshold) if threshold > 0 else 1.0
            outcome = GateOutcome.SUCCESSFUL if value >= threshold else GateOutcome.INCONCLUSIVE
        elif metric == "pnl_deviation_pct" and _few_fills(metrics):
            # a mean over a handful of fills: not evidence either way yet (accumulating)
            outcome = GateOutcome.INCONCLUSIVE
            progress = metrics["fills"] / MIN_DEVIATION_FILLS
        elif value <= threshold:
            outcome = GateOutcome.SUCCESSFUL
        elif metric == "callback_p99_ns" and _few_callbacks(metrics):
            # the slowest of a few callbacks (one preemption) is no p99: accumulating
            outcome = GateOutcome.INCONCLUSIVE
            progress = metrics["callback_count"] / MIN_P99_SAMPLES
        else:
            outcome = GateOutcome.FAILED
        criteria.append(Criterion(name, threshold, value, outcome, progress))
    outcomes = {c.outcome for c in criteria}
    for worst in (GateOutcome.ERROR, GateOutcome.FAILED, GateOutcome.INCONCLUSIVE):
        if worst in outcomes:
            names = ", ".join(_describe(c) for c in criteria if c.outcome is worst)
            return GateResult(worst, tuple(criteria), f"{worst.value.lower()}: {names}")
    return GateResult(GateOutcome.SUCCESSFUL, tuple(criteria), "every criterion holds")


def _few_fills(metrics: Mapping[str, Any]) -> bool:
    """The observation counts its fills, and they are too few for a PnL-per-fill comparison."""
    n = metrics.get("fills")
    return isinstance(n, int) and not isinstance(n, bool) and 0 <= n < MIN_DEVIATION_FILLS


def _few_callbacks(metrics: Mapping[str, Any]) -> bool:
    """The observation counts its callbacks, and they are too few for a p99."""
    n = metrics.get("callback_count")
    return isinstance(n, int) and not isinstance(n, bool) and 0 <= n < MIN_P99_SAMPLES


def _describe(c: Criterion) -> str:
    """A criterion in a gate message: accumulating ones with ``observed/threshold``."""
    if c.outcome is not GateOutcome.INCONCLUSIVE:
        return c.name
    if c.observed is None:
        return f"{c.name} (not measured)"
    return f"{c.name} {c.observed:g}/{c.threshold:g} (accumulating, {c.progress:.0%})"


def scorecard_outcome(verdict: str) -> GateOutcome:
    """The scorecard's verdict as a gate outcome (PASS / FAIL / anything else inconclusive)."""
    v = verdict.upper()
    if v == "PASS":
        return GateOutcome.SUCCESSFUL
    if v == "FAIL":
        return GateOutcome.FAILED
    return GateOutcome.INCONCLUSIVE


@dataclass(frozen=True)
class Gates:
    """The gates' outcomes that :func:`phase` weighs."""

    scorecard: GateOutcome
    shadow: GateOutcome = GateOutcome.INCONCLUSIVE
    #: the version ran live before (a rollback target): it needs no shadow gate to return
    previously_live: bool = False


@dataclass(frozen=True)
class PhaseResult:
    phase: Phase
    reason: str
    message: str = field(default="")


def phase(desired: str | None, observed: str | None, gates: Gates) -> PhaseResult:
    """A deployment's phase from its desired slot, its observed slot and its gates (see the
    module docstring for the precedence). ``desired`` None: the version was never deployed."""
    if desired is None:
        return PhaseResult(Phase.HEALTHY, R.NOT_DEPLOYED, "not deployed")
    needed: list[tuple[str, GateOutcome]] = []
    if desired in ("shadow", "live"):
        needed.append(("scorecard", gates.scorecard))
    if desired == "live" and observed != "live" and not gates.previously_live:
        needed.append(("shadow gate", gates.shadow))
    for bad in (GateOutcome.FAILED, GateOutcome.ERROR):
        hit = [name for name, outcome in needed if outcome is bad]
        if hit:
            return PhaseResult(Phase.DEGRADED, R.GATE_FAILED,
                               f"{', '.join(hit)} {bad.value.lower()}")
    hit = [name for name, outcome in needed if outcome is GateOutcome.INCONCLUSIVE]
    if hit:
        return PhaseResult(Phase.PAUSED, R.GATE_INCONCLUSIVE,
                           f"{', '.join(hit)} inconclusive: waiting for data or a human")
    if observed != desired:
        return PhaseResult(Phase.PROGRESSING, R.AWAITING_DEPLOYER,
                           f"desired {desired}, observed {observed or 'nothing yet'}")
    return PhaseResult(Phase.HEALTHY, R.CONVERGED, f"{desired} as desired")
