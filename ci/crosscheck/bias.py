"""Bias checks of a generated strategy, recomputed with its Python twin in backtrader.

Every twin run happens inside the sandbox (:func:`run_backtrader`).

* **Look-ahead.** The twin runs once over the whole file, then once per cut point ``c`` over a
  copy of the file that ends with bar ``c`` (:func:`write_truncated`: nothing after it exists in
  the sandbox). Every decision the full run made while processing bars ``0..c`` must equal, in
  order and field for field, the decisions of the truncated run. Cut points (seeded,
  ``random.Random(seed)``): up to ``cuts // 2 + 1`` bars on which the full run made a decision
  (a decision that used the next bar changes when that bar is cut away), the rest uniform over
  ``[0, bars − 2]``. A twin that faults on truncated data but not on the full file fails too.
* **Warm-up.** From the spec, as the generator compiles it (:func:`stratforge.generator.render.render_context`): ``W_long`` /
  ``W_short`` = the warm-up (``TypedExpr.warmup``: the bar update at which the value is first
  defined) of the signal driving the ``entry_long`` / ``entry_short`` role. An *entry* — a buy
  while the position is >= 0, a sell while it is <= 0 — made after ``n`` signal updates
  (``n`` = bars seen, the current one included for decisions in ``on_bar``) must have
  ``n >= W`` for its side. Exits need a position, hence an earlier checked entry. Only
  directional types on bar data are checked (others: ``None``).
* **Holdout.** The run's period ``[first bar, last bar + 1 ns)`` split as the scorecard splits it
  (``out_of_sample_start = start + int((end − start) × (1 − f))``); decisions, fills and PnL
  of each side are reported in :class:`HoldoutSplit` (:func:`bias_report`); the scorecard's
  own metrics come from the engine run, so :class:`BiasResult` carries no PnL.
"""

from __future__ import annotations

import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stratforge.ci.crosscheck.backtrader_run import BacktraderResult, BacktraderRun, run_backtrader
from stratforge.ci.crosscheck.bars import bar_instruments, bar_times, write_truncated
from stratforge.ci.crosscheck.warmup import DIRECTIONAL_TYPES, KIND_TEXT, WarmupPlan, warmup_plan
from stratforge.ci.scorecard.inputs import BiasResult, CheckStatus
from stratforge.core.spec import SpecLike, StrategySpec, as_loaded_spec, as_strategy_spec
from stratforge.generator.render import render_context
from stratforge.sandbox.base import Backend

__all__ = ["BiasReport", "HoldoutSplit", "bias_checks", "bias_report", "choose_cuts", "warmup_bars",
           "DIRECTIONAL_TYPES"]

ORDER_OPS = frozenset({"submit", "cancel", "replace"})


@dataclass(frozen=True)
class HoldoutSplit:
    """In-sample vs out-of-sample activity of the twin's backtrader run."""

    start_ns: int
    end_ns: int
    out_of_sample_start_ns: int | None
    in_sample_bars: int
    out_of_sample_bars: int
    in_sample_orders: int
    out_of_sample_orders: int
    in_sample_fills: int
    out_of_sample_fills: int
    in_sample_pnl: float
    out_of_sample_pnl: float


@dataclass(frozen=True)
class BiasReport:
    result: BiasResult
    cuts: tuple[int, ...] = ()
    warmup: dict[str, int | None] = field(default_factory=dict)
    holdout: HoldoutSplit | None = None
    full_run: BacktraderRun | None = None


def warmup_bars(spec: SpecLike) -> dict[str, int | None] | None:
    """``{"long": W_long, "short": W_short}`` (``None`` for a side no role signal drives), or
    ``None`` when the strategy is not a directional bar strategy."""
    ctx = render_context(as_loaded_spec(spec), build_id="warmup")
    if ctx.type not in DIRECTIONAL_TYPES or ctx.data != "bars":
        return None
    out: dict[str, int | None] = {}
    for side in ("long", "short"):
        name = ctx.roles.get(f"entry_{side}")
        out[side] = int(ctx.sigset.exprs[name].warmup) if name else None
    return out


def choose_cuts(n_bars: int, decision_bars: list[int], cuts: int, seed: int) -> tuple[int, ...]:
    """Seeded cut points (bar indices in ``[0, n_bars − 2]``); see the module docstring."""
    if n_bars < 2 or cuts <= 0:
        return ()
    rng = random.Random(seed)
    chosen: set[int] = set()
    on_decisions = sorted({b for b in decision_bars if 0 <= b <= n_bars - 2})
    for b in rng.sample(on_decisions, min(len(on_decisions), cuts // 2 + 1)):
        chosen.add(b)
    for _ in range(100 * cuts):
        if len(chosen) >= min(cuts, n_bars - 1):
            break
        chosen.add(rng.randint(0, n_bars - 2))
    return tuple(sorted(chosen))


def _orders(r: BacktraderResult) -> list[tuple[int, dict[str, Any]]]:
    return [(b, d) for d, b in zip(r.decisions, r.decision_bars)]


def _lookahead_one(full: BacktraderResult, cut_run: BacktraderRun, cut: int) -> str:
    if not cut_run.ok or cut_run.result is None:
        return ""  # handled by the caller
    want = [d for b, d in _orders(full) if b <= cut]
    got = list(cut_run.result.decisions)
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return (f"cut after bar {cut}: decision #{i} differs — full data {a} vs truncated {b}")
    if len(want) != len(got):
        n = min(len(want), len(got))
        extra = want[n] if len(want) > n else got[n]
        who = "full-data run" if len(want) > n else "truncated run"
        return (f"cut after bar {cut}: the {who} made {abs(len(want) - len(got))} more decision(s) up to "
                f"that bar; first extra: {extra}")
    return ""


def _seen(counts: np.ndarray, bar: int, cb: str) -> int:
    """Updates counted in bars ``0..bar`` for a decision made in ``on_bar`` of bar ``bar``, else
    (fills and reports reach the twin before that bar) in bars ``0..bar-1``."""
    k = bar if cb == "on_bar" else bar - 1
    return int(counts[k]) if 0 <= k < len(counts) else 0


def _warmup_check(r: BacktraderResult, w: dict[str, int | None], counts: np.ndarray) -> tuple[bool, str]:
    """``counts[g]``: bars of the strategy's first instrument (its signal updates) in bars 0..g."""
    for d, bar, cb, pos in zip(r.decisions, r.decision_bars, r.decision_callbacks, r.decision_positions):
        if d.get("op") != "submit":
            continue
        seen = _seen(counts, bar, cb)
        side = "long" if d.get("side") == 1 else "short"
        entry = (pos >= 0) if side == "long" else (pos <= 0)
        need = w.get(side)
        if entry and need is not None and seen < need:
            return False, (f"{'buy' if side == 'long' else 'sell'} entry (order id {d.get('id')}, {cb}) after "
                           f"{seen} bar update(s); entry_{side} is warm from update {need}")
    return True, ""


def bar_counts(inst_of_bar: np.ndarray, first: int, n_legs: int) -> dict[str, np.ndarray]:
    """Per counted kind (``bias_l2.KIND_TEXT``), the number of updates in bars ``0..g`` (index
    ``g``, file order): ``bar`` — bars of the first instrument (``first``, its file id: the
    signals' updates); ``pair`` — bars of either leg once every leg has had one (the pair's
    spread updates)."""
    mine = inst_of_bar == first
    out = {"bar": np.cumsum(mine)}
    legs = np.unique(inst_of_bar)
    if n_legs >= 2 and len(legs) >= 2:
        first_bar = [int(np.argmax(inst_of_bar == x)) for x in legs[:n_legs]]
        start = max(first_bar) if len(first_bar) == n_legs else len(inst_of_bar)
        pair = np.zeros(len(inst_of_bar), dtype=np.int64)
        pair[start:] = 1
        out["pair"] = np.cumsum(pair)
    else:
        out["pair"] = np.zeros(len(inst_of_bar), dtype=np.int64)
    return out


def _plan_check(r: BacktraderResult, plan: WarmupPlan, counts: dict[str, np.ndarray]) -> tuple[bool | None, str]:
    """Warm-up of a strategy without entry roles on bars (a pair, ...), from :func:`warmup_plan`."""
    if not plan.required:
        return True, plan.note
    other = sorted({n.kind for n in plan.needs} - set(counts))
    if other:
        return None, (f"not checked: the warm-up needs {', '.join(KIND_TEXT[k] for k in other)}, which bar "
                      "data does not have")
    first: tuple[int, dict[str, int]] | None = None
    for d, bar, cb, pos in zip(r.decisions, r.decision_bars, r.decision_callbacks, r.decision_positions):
        if d.get("op") != "submit":
            continue
        side = "long" if d.get("side") == 1 else "short"
        if not (plan.every_submit or ((pos >= 0) if side == "long" else (pos <= 0))):
            continue
        have = {n.kind: _seen(counts[n.kind], bar, cb) for n in plan.needs}
        for need in plan.needs:
            if side in need.sides and have[need.kind] < need.count:
                verb = "buy" if side == "long" else "sell"
                what = "quote" if plan.every_submit else "entry"
                return False, (f"{verb} {what} (order id {d.get('id')}, instrument {d.get('inst', 0)}, {cb} of bar "
                               f"#{bar}) after {have[need.kind]} {KIND_TEXT[need.kind]}; {need.why} is warm from "
                               f"{need.count}")
        if first is None:
            first = (bar, have)
    if first is None:
        return True, f"no order was sent ({plan.describe()})"
    bar, have = first
    got = ", ".join(f"{have[n.kind]} {KIND_TEXT[n.kind]} (need {n.count}: {n.why})" for n in plan.needs)
    return True, f"first gated order at bar #{bar}, after {got}"


def _holdout(r: BacktraderResult, times: list[int], spec: StrategySpec) -> HoldoutSplit:
    f = float(spec.backtest.period.out_of_sample_fraction)
    start = times[0]
    end = times[-1] + 1
    oos = start + int((end - start) * (1.0 - f)) if f > 0 else None
    split = len(times) if oos is None else sum(1 for t in times if t < oos)
    is_orders = sum(1 for d, b in zip(r.decisions, r.decision_bars) if d.get("op") == "submit" and b < split)
    n_orders = sum(1 for d in r.decisions if d.get("op") == "submit")
    is_fills = sum(1 for x in r.fills if x.bar < split)
    is_pnl = r.equity[split - 1] if split > 0 and r.equity else 0.0
    total = r.equity[-1] if r.equity else 0.0
    return HoldoutSplit(start, end, oos, split, len(times) - split, is_orders, n_orders - is_orders, is_fills,
                        len(r.fills) - is_fills, float(is_pnl), float(total - is_pnl))


def bias_report(backend: Backend, bundle: Path, build: Path, data: Path, spec: SpecLike, *,
                cuts: int = 5, seed: int = 0, workers: int = 2) -> BiasReport:
    """:func:`bias_checks` with the evidence: cut points, warm-up bars, the holdout split."""
    s = as_strategy_spec(spec)
    work = Path(build) / "crosscheck"
    full = run_backtrader(backend, Path(bundle), Path(data), s, work_dir=work, label="bias-full")
    try:
        w = warmup_bars(spec)
    except Exception as err:  # noqa: BLE001 - the spec did not compile: report, do not guess
        w, werr = None, f"warm-up not derivable: {err}"
    else:
        werr = ""
    if not full.ok or full.result is None:
        status = CheckStatus.error
        return BiasReport(BiasResult(lookahead=status, lookahead_details=f"full-data run failed: {full.message}"[:2000],
                                     warmup_respected=None, warmup_details="not checked: the twin did not run"),
                          full_run=full)
    r = full.result

    times = [int(t) for t in bar_times(data)]
    first_id = int(r.instruments[0]["id"]) if r.instruments else 0
    counts = bar_counts(bar_instruments(data), first_id, max(1, len(r.instruments)))
    order_bars = [b for d, b in zip(r.decisions, r.decision_bars) if d.get("op") in ORDER_OPS]
    cut_points = choose_cuts(r.bars, order_bars, cuts, seed)

    def one(cut: int) -> tuple[int, BacktraderRun]:
        trunc = work / "bias-data" / f"cut-{cut}.sfe"
        write_truncated(data, trunc, cut)
        try:
            return cut, run_backtrader(backend, Path(bundle), trunc, s, work_dir=work, label=f"bias-cut-{cut}")
        finally:
            trunc.unlink(missing_ok=True)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        runs = list(pool.map(one, cut_points))
    shutil.rmtree(work / "bias-data", ignore_errors=True)
    la_status, la_details = CheckStatus.passed, ""
    for cut, run in runs:
        if run.status == "strategy_fault":
            la_status = CheckStatus.failed
            la_details = (f"cut after bar {cut}: the twin faulted on truncated data but not on the full file "
                          f"(it reads beyond the data it was given?): {run.message}")
            break
        if not run.ok:
            la_status, la_details = CheckStatus.error, f"cut after bar {cut}: the run failed: {run.message}"
            break
        diff = _lookahead_one(r, run, cut)
        if diff:
            la_status, la_details = CheckStatus.failed, diff
            break
    if la_status is CheckStatus.passed:
        la_details = (f"{len(cut_points)} cut(s) at bars {list(cut_points)} of {r.bars}: "
                      f"every decision up to each cut identical")
    if not cut_points:
        la_status, la_details = CheckStatus.not_run, "fewer than 2 bars: nothing to truncate"
    if w is None and not werr:
        try:
            wr, wd = _plan_check(r, warmup_plan(spec), counts)
        except Exception as err:  # noqa: BLE001 - the spec did not compile: report, do not guess
            wr, wd = None, f"warm-up not derivable: {err}"
    elif w is None:
        wr, wd = None, werr
    else:
        wr, wd = _warmup_check(r, w, counts["bar"])
        if wr:
            wd = f"no entry before warm-up (entry_long from update {w['long']}, entry_short from update {w['short']})"
    result = BiasResult(lookahead=la_status, lookahead_details=la_details[:2000],
                        truncations_checked=len(runs) if la_status is not CheckStatus.not_run else 0,
                        warmup_respected=wr, warmup_details=wd[:2000])
    return BiasReport(result, cuts=cut_points, warmup=w or {}, holdout=_holdout(r, times, s), full_run=full)


def bias_checks(backend: Backend, bundle: Path, build: Path, data: Path, spec: SpecLike) -> BiasResult:
    """Look-ahead (5 seeded truncations), warm-up and holdout checks of ``bundle``'s Python twin
    over ``data`` (an ``.sfe`` bar file), every twin run inside ``backend``. Scratch goes to
    ``build/crosscheck``. The holdout numbers are in :func:`bias_report`."""
    return bias_report(backend, bundle, build, data, spec).result
