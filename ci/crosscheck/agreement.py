"""Runtime bar mode vs the Python twin in backtrader: same fills, same final PnL.

The runtime's side is an ``sf-replay`` results document of a bar-mode run (``bar_mode: true``);
backtrader's side is :func:`run_backtrader` over the same ``.sfe`` file. They agree when

* the fills are identical, in order: time (the bar they filled on), instrument, side, price in
  ticks, quantity in lots — so the same orders were sent on the same bars and filled at the same next
  open (or limit);
* the closed-trade counts are equal (runtime: position cycles from its fills, a flip closing one
  and opening the next — the definition of backtrader's ``TradeAnalyzer`` ``total.closed``);
* ``|runtime PnL − backtrader PnL| <= pnl_tolerance``, where
  ``pnl_tolerance = 0.01 + 1e-9 × Σ|fill notional|`` (one cent, plus double rounding: the engine
  keeps cash in integer ticks×lots and rounds once, backtrader accumulates doubles per fill).

The first differing fill is named in ``details``. docs/crosscheck.md records the semantics and
the numbers measured on the shared data.

The build's gate (:func:`build_bar_agreement`) compares backtrader with a replay of its own: the
same plugin and bars under ``crosscheck_spec`` (risk limits that cannot bind), because backtrader
has no risk gate. Comparing it with the spec's own run made a kill switch (or any denial) look
like the two engines reading the bars differently: on the real ORCL file a drawdown cap that
tripped in 1999 gave "46 vs 215 closed trades". What the spec's limits did in its own run is named
in ``details``; it is judged by the performance and risk numbers of that run, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratforge.ci.crosscheck.backtrader_run import BacktraderRun, run_backtrader
from stratforge.ci.crosscheck.replay_spec import crosscheck_spec
from stratforge.ci.scorecard.inputs import BarAgreement, CheckStatus
from stratforge.core.spec import SpecLike, as_strategy_spec
from stratforge.sandbox.base import Backend
from stratforge.sandbox.replay import ReplayError, run_replay

__all__ = ["AgreementReport", "agreement_report", "bar_agreement", "build_bar_agreement", "compare_fills",
           "pnl_tolerance", "risk_notes",
           "runtime_round_trips", "PNL_TOLERANCE_ABS", "PNL_TOLERANCE_REL"]

PNL_TOLERANCE_ABS = 0.01
PNL_TOLERANCE_REL = 1e-9


@dataclass(frozen=True)
class AgreementReport:
    """The verdict plus what it was computed from."""

    agreement: BarAgreement
    runtime_fills: int = 0
    backtrader_fills: int = 0
    runtime_fees: float = 0.0
    backtrader_fees: float = 0.0
    first_difference: str = ""
    backtrader: BacktraderRun | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def pnl_tolerance(fills: list[dict[str, Any]]) -> float:
    """``0.01 + 1e-9 × Σ |price × size|`` over the runtime's fills (quote currency)."""
    gross = sum(abs(float(f.get("price", 0.0)) * float(f.get("size", 0.0))) for f in fills)
    return PNL_TOLERANCE_ABS + PNL_TOLERANCE_REL * gross


def runtime_round_trips(fills: list[dict[str, Any]]) -> int:
    """Closed position cycles: fills after which a non-zero position is flat or flipped, counted
    per instrument (backtrader keeps one trade per data feed) and summed."""
    closed = 0
    pos: dict[str, int] = {}
    for f in fills:
        qty = int(f["qty"])
        inst = str(f.get("instrument", ""))
        before = pos.get(inst, 0)
        after = before + (qty if f["side"] == "BUY" else -qty)
        if before != 0 and (after == 0 or (after > 0) != (before > 0)):
            closed += 1
        pos[inst] = after
    return closed


def _key(f: dict[str, Any]) -> tuple[int, str, str, int, int]:
    return int(f["ts"]), str(f.get("instrument", "")), str(f["side"]), int(f["px"]), int(f["qty"])


def _fmt_fill(f: dict[str, Any] | None) -> str:
    if f is None:
        return "none"
    inst = f" {f['instrument']}" if f.get("instrument") else ""
    return (f"ts={int(f['ts'])}{inst} {f['side']} {int(f['qty'])} lots @ {int(f['px'])} ticks "
            f"({f.get('liquidity', '?')})")


def compare_fills(runtime: list[dict[str, Any]], backtrader: list[dict[str, Any]]) -> str:
    """'' when the fill lists are identical by (ts, side, px, qty); else the first difference."""
    for i, (a, b) in enumerate(zip(runtime, backtrader)):
        if _key(a) != _key(b):
            return f"fill #{i} differs: runtime {_fmt_fill(a)} vs backtrader {_fmt_fill(b)}"
    if len(runtime) != len(backtrader):
        n = min(len(runtime), len(backtrader))
        extra = runtime[n] if len(runtime) > n else backtrader[n]
        who = "runtime" if len(runtime) > n else "backtrader"
        return (f"{who} has {abs(len(runtime) - len(backtrader))} more fill(s); first extra #{n}: "
                f"{_fmt_fill(extra)}")
    return ""


def _pick(results: dict[str, Any], name: str) -> dict[str, Any]:
    strategies = results.get("strategies") or []
    if len(strategies) == 1:
        return strategies[0]
    for s in strategies:
        if s.get("id") == name:
            return s
    raise ValueError(f"replay results hold {len(strategies)} strategies and none has id {name!r}")


def _error(details: str, **kw: Any) -> AgreementReport:
    return AgreementReport(BarAgreement(runtime_trades=0, backtrader_trades=0, runtime_final_pnl=0.0,
                                        backtrader_final_pnl=0.0, pnl_tolerance=PNL_TOLERANCE_ABS,
                                        status=CheckStatus.error, details=details[:2000]), **kw)


def agreement_report(backend: Backend, bundle: Path, build: Path, data: Path, spec: SpecLike,
                     replay_results: dict[str, Any]) -> AgreementReport:
    """:func:`bar_agreement` with the evidence (fees, fill counts, the backtrader run)."""
    s = as_strategy_spec(spec)
    try:
        if replay_results.get("format") != "sf-replay-results":
            raise ValueError(f"replay results: format is {replay_results.get('format')!r}, "
                             "expected 'sf-replay-results'")
        if not (replay_results.get("models") or {}).get("bar_mode"):
            raise ValueError("replay results are not from a bar-mode run (models.bar_mode is false)")
        if not (replay_results.get("run") or {}).get("completed", False):
            raise ValueError("the bar-mode replay did not complete")
        rt = _pick(replay_results, s.metadata.name)
        if rt.get("fills_truncated"):
            raise ValueError("the runtime's fill list is truncated (output.max_fills_listed); "
                             "rerun with a larger limit")
        rt_fills = list(rt.get("fills") or [])
        rt_pnl = float(rt["summary"]["pnl"])
        rt_fees = float(rt["summary"].get("fees", 0.0))
    except (ValueError, KeyError, TypeError) as err:
        return _error(f"runtime results unusable: {err}")
    bt = run_backtrader(backend, Path(bundle), Path(data), s, work_dir=Path(build) / "crosscheck", label="agreement")
    if not bt.ok or bt.result is None:
        what = "the twin faulted in backtrader" if bt.status == "strategy_fault" else "the backtrader run failed"
        return _error(f"{what}: {bt.message}", backtrader=bt)
    r = bt.result
    bt_fills = [f.model_dump() for f in r.fills]
    notes = risk_notes(rt, "the runtime's")
    if notes:
        notes[0] += "; backtrader has no risk gate"
    if r.rejected_orders:
        notes.append(f"backtrader's broker refused {r.rejected_orders} order(s) for cash")
    first = compare_fills(rt_fills, bt_fills)
    rt_trades = runtime_round_trips(rt_fills)
    tol = pnl_tolerance(rt_fills)
    dpnl = abs(rt_pnl - r.final_pnl)
    problems = []
    if first:
        problems.append(first)
    if rt_trades != r.closed_trades:
        problems.append(f"closed trades differ: runtime {rt_trades}, backtrader {r.closed_trades}")
    if dpnl > tol:
        problems.append(f"|PnL difference| {dpnl:.6f} > tolerance {tol:.6f}")
    summary = (f"{len(rt_fills)} fills; PnL runtime {rt_pnl:.6f} vs backtrader {r.final_pnl:.6f} "
               f"(|diff| {dpnl:.2e}, tolerance {tol:.4f}); fees runtime {rt_fees:.6f} vs backtrader {r.fees:.6f}")
    details = "; ".join(problems + notes) if problems or notes else ""
    details = (details + ("; " if details else "") + summary)[:2000]
    agreement = BarAgreement(runtime_trades=rt_trades, backtrader_trades=r.closed_trades,
                             runtime_final_pnl=rt_pnl, backtrader_final_pnl=r.final_pnl, pnl_tolerance=tol,
                             trades_tolerance=0, status=CheckStatus.failed if problems else CheckStatus.passed,
                             details=details)
    return AgreementReport(agreement, runtime_fills=len(rt_fills), backtrader_fills=len(bt_fills),
                           runtime_fees=rt_fees, backtrader_fees=r.fees, first_difference=first, backtrader=bt,
                           notes=tuple(notes))


def risk_notes(strategy: dict[str, Any], whose: str) -> list[str]:
    """What the risk gate did in one strategy of an ``sf-replay`` results document: denials by
    reason, the kill switch and its reason ([] when it did nothing)."""
    notes: list[str] = []
    risk = strategy.get("risk") or {}
    by_reason = risk.get("denials_by_reason") or {}
    denials = sum(int(v) for v in by_reason.values())
    if denials:
        notes.append(f"{whose} risk gate denied {denials} request(s) ({', '.join(sorted(by_reason))})")
    if risk.get("kill_switch_engaged"):
        notes.append(f"{whose} kill switch engaged ({risk.get('kill_reason', '')})")
    return notes


def build_bar_agreement(backend: Backend, bundle: Path, build: Path, data: Path, spec: SpecLike, *,
                        plugin: Path, replay_results: dict[str, Any]) -> AgreementReport:
    """The build's bar-agreement gate: replay ``plugin`` (with ``bundle``'s params) over ``data``
    in bar mode under :func:`crosscheck_spec` — the spec's risk limits made non-binding, as
    backtrader has none — and compare that run with the twin in backtrader
    (:func:`agreement_report`). ``replay_results`` is the spec's own run: what its risk gate did
    (denials, kill switch) is named in ``details`` and does not decide this gate. Scratch goes to
    ``build/crosscheck``; ``error`` when the cross-check replay does not complete."""
    s = as_strategy_spec(spec)
    cc = crosscheck_spec(s)
    try:
        run = run_replay(backend, cc, plugin=Path(plugin), params=Path(bundle) / "params.txt",
                         data=Path(data), out_dir=Path(build) / "crosscheck" / "replay", bar_mode=True,
                         tape=False)
    except ReplayError as err:
        return _error(f"the cross-check replay (non-binding risk limits) could not run: {err}")
    if not run.ok or run.results is None:
        return _error(f"the cross-check replay (non-binding risk limits) failed: {run.message}")
    rep = agreement_report(backend, bundle, build, data, cc, run.results)
    if rep.agreement.status is CheckStatus.error:
        return rep
    try:
        own = risk_notes(_pick(replay_results, s.metadata.name), "the spec's own run's")
    except ValueError:
        own = []
    said = ("compared on a replay with non-binding risk limits (backtrader has no risk gate)"
            + (f"; {'; '.join(own)} — the spec's limits judge that run, not this gate" if own else ""))
    first = rep.agreement.details[:2000 - len(said) - 2]
    details = f"{first}; {said}" if first else said
    return AgreementReport(rep.agreement.model_copy(update={"details": details[:2000]}),
                           runtime_fills=rep.runtime_fills, backtrader_fills=rep.backtrader_fills,
                           runtime_fees=rep.runtime_fees, backtrader_fees=rep.backtrader_fees,
                           first_difference=rep.first_difference, backtrader=rep.backtrader,
                           notes=rep.notes + tuple(own))


def bar_agreement(backend: Backend, bundle: Path, build: Path, data: Path, spec: SpecLike,
                  replay_results: dict[str, Any]) -> BarAgreement:
    """Compare the runtime's bar-mode run (``replay_results``, an ``sf-replay`` results document
    over ``data``) with ``bundle``'s Python twin run in backtrader inside ``backend`` over the
    same ``data``. Scratch goes to ``build/crosscheck``. Status ``pass``/``fail`` from the fills,
    trade counts and PnL (module docstring); ``error`` when either side produced no numbers."""
    return agreement_report(backend, bundle, build, data, spec, replay_results).agreement
