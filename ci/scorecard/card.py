"""The scorecard document and :func:`build_scorecard`, which assembles it from a run, the spec
and the side checks. Everything the renderers draw is carried in the document (charts are
down-sampled series), so ``scorecard.json`` alone reproduces every output file."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from stratforge.ci.scorecard import gates as G
from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    BarAgreement,
    BiasResult,
    LatencySummary,
    ParityResult,
    Provenance,
    RecordedModels,
    RunPeriod,
    StaticFindings,
    TestResults,
)
from stratforge.ci.scorecard.metrics import Metrics, compute_metrics
from stratforge.ci.scorecard.reasons import GateStatus, Verdict
from stratforge.core.spec import StrategySpec

SCHEMA_VERSION = "stratforge.scorecard/v1"
MAX_CHART_POINTS = 1500


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunInfo(Frozen):
    """How the backtest ran."""

    status: str
    error: str | None
    data_profile: Literal["l2", "bars"]
    models: RecordedModels
    period: RunPeriod
    events_processed: int
    wall_time_s: float
    events_per_s: float | None


class ChartSeries(Frozen):
    """Down-sampled series for the charts (each bucket keeps its first, min and max sample)."""

    ts_ns: tuple[int, ...]
    pnl: tuple[float, ...]
    drawdown_pct: tuple[float, ...] = Field(description="-(running peak - pnl) / capital x 100.")
    positions: dict[str, tuple[float, ...]]
    out_of_sample_start_ns: int | None
    callback_buckets: tuple[tuple[int, int], ...]
    tick_to_order_buckets: tuple[tuple[int, int], ...]


class GateCounts(Frozen):
    PASS: int
    FAIL: int
    INCONCLUSIVE: int
    ERROR: int


class Scorecard(Frozen):
    """A scored build: verdict, gates, metrics, checks and provenance."""

    schema_version: Literal["stratforge.scorecard/v1"] = SCHEMA_VERSION
    strategy: str
    spec_hash: str
    verdict: Verdict
    verdict_line: str
    gate_counts: GateCounts
    gates: tuple[G.GateResult, ...]
    metrics: Metrics
    callback_latency: LatencySummary | None
    tick_to_order_latency: LatencySummary | None
    run: RunInfo
    tests: TestResults | None
    static_findings: StaticFindings | None
    parity: ParityResult | None
    bias: BiasResult | None
    bar_agreement: BarAgreement | None
    provenance: Provenance
    charts: ChartSeries


def _downsample_idx(n: int, values: np.ndarray, max_points: int = MAX_CHART_POINTS) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    per = max(1, n // (max_points // 3))
    keep = [0, n - 1]
    for s in range(0, n, per):
        chunk = values[s:s + per]
        keep += [s, s + int(np.argmin(chunk)), s + int(np.argmax(chunk))]
    return np.unique(np.asarray(keep))


def chart_series(run: BacktestRun, capital: float) -> ChartSeries:
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    pnl = np.asarray(run.equity.pnl, dtype=float)
    dd = np.maximum.accumulate(np.maximum(pnl, 0.0)) - pnl if pnl.size else pnl
    idx = _downsample_idx(ts.size, np.c_[pnl, -dd].max(axis=1) if pnl.size else pnl)
    idx_dd = _downsample_idx(ts.size, -dd) if pnl.size else idx
    idx = np.union1d(idx, idx_dd) if ts.size > MAX_CHART_POINTS else idx
    return ChartSeries(
        ts_ns=tuple(int(x) for x in ts[idx]), pnl=tuple(float(x) for x in pnl[idx]),
        drawdown_pct=tuple(float(-x / capital * 100.0) for x in dd[idx]),
        positions={s: tuple(float(x) for x in np.asarray(v, dtype=float)[idx])
                   for s, v in sorted(run.equity.positions.items())},
        out_of_sample_start_ns=run.period.out_of_sample_start_ns,
        callback_buckets=run.callback_latency.buckets if run.callback_latency else (),
        tick_to_order_buckets=run.tick_to_order_latency.buckets if run.tick_to_order_latency else ())


def build_scorecard(run: BacktestRun, spec: StrategySpec, *, tests: TestResults | None, findings: StaticFindings | None,
                    parity: ParityResult | None, bias: BiasResult | None,
                    bar_agreement: BarAgreement | None = None, provenance: Provenance) -> Scorecard:
    """Score ``run`` against ``spec`` (a :class:`StrategySpec`). A side check passed as None is
    a missing input: its gate ends ERROR and the verdict cannot be PASS."""
    capital = float(spec.backtest.initial_capital)
    instruments = spec.strategy.instruments
    metrics = compute_metrics(
        run, initial_capital=capital, quote_currency=instruments[0].quote_currency,
        multipliers={i.symbol: float(i.contract_multiplier) for i in instruments})
    gate_list: list[G.GateResult] = [G.run_gate(run)]
    oos_fraction = spec.backtest.period.out_of_sample_fraction
    gate_list += G.performance_gates(metrics, spec.gates, oos_fraction)
    gate_list += G.latency_gates(run, spec)
    gate_list += [G.tests_gate(tests), G.sanitizer_gate(tests), G.static_gate(findings),
                  G.parity_gate(parity), G.lookahead_gate(bias), G.warmup_gate(bias)]
    bar = G.bar_agreement_gate(bar_agreement, run)
    if bar is not None:
        gate_list.append(bar)
    v, line = G.verdict(gate_list)
    counts = GateCounts(**{s.value: sum(1 for g in gate_list if g.status is s) for s in GateStatus})
    return Scorecard(
        strategy=run.strategy, spec_hash=provenance.spec_hash, verdict=v, verdict_line=line,
        gate_counts=counts, gates=tuple(gate_list), metrics=metrics,
        callback_latency=run.callback_latency, tick_to_order_latency=run.tick_to_order_latency,
        run=RunInfo(status=run.status.value, error=run.error, data_profile=run.data_profile,
                    models=run.models, period=run.period, events_processed=run.events_processed,
                    wall_time_s=run.wall_time_s,
                    events_per_s=(run.events_processed / run.wall_time_s) if run.wall_time_s > 0 else None),
        tests=tests, static_findings=findings, parity=parity, bias=bias, bar_agreement=bar_agreement,
        provenance=provenance, charts=chart_series(run, capital))
