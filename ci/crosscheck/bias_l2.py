"""Bias checks of a generated strategy on L2 (book/trade) data, on the real run's callback tape.

The bar checks (:mod:`.bias`) replay the twin in backtrader; L2 data has no bars, so these
checks reuse the parity machinery instead (:mod:`stratforge.ci.backtest.parity`): the engine's
``sf-replay --tape`` of the real run converted to the twin's callback tape, replayed through the
Python twin **inside the sandbox** by ``twin_host`` with the engine's own answers per callback.

* **Look-ahead.** The full-tape twin run (the parity run's, when given) is the reference. For
  each seeded cut point ``c`` (a callback index; :func:`choose_cuts`: up to ``cuts // 2 + 1``
  callbacks where the full run decided, the rest uniform over ``[0, n − 2]``) the twin runs
  again over a tape that ends with callback ``c`` — with the engine's answers up to ``c`` and
  nothing after it in the sandbox. Every decision (submit/cancel/replace, all fields incl.
  ``seq`` and ids) the full run made in callbacks ``0..c`` must equal the truncated run's, in
  order; the first differing one is reported. A twin that faults only on a truncated tape fails.
* **Warm-up** (every strategy type, :func:`warmup_plan`): derived from the generated strategy as
  the generator compiles it (:func:`stratforge.generator.render.render_context`) — the spec's and the reference signals'
  ``TypedExpr.warmup`` in signal updates (the role signal per side for directional strategies
  with role signals, otherwise every signal), ``vwap`` windows in trades, the market maker's
  ``vol_window`` (``vol_window + 1`` two-sided book updates: the volatility estimate needs that
  many returns) and the pair's z-score window (+ rolling-OLS window) in pair updates. Counted on
  the tape: an order (MM: every submit; others: an *entry*, i.e. a buy while the instrument's
  position is ≥ 0 or a sell while it is ≤ 0) made in callback ``k`` needs, for each requirement,
  at least its count of updates of that kind in callbacks ``0..k``. Checked on the engine's
  decisions and on the twin's. A strategy without a requirement (e.g. order-book imbalance
  without signals: the imbalance is instantaneous) passes with "no warm-up required".
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratforge.ci.backtest.parity import (ConvertedTape, ParityRun, TapeError, TwinRun, run_twin,
                                           twin_tape)
from stratforge.ci.crosscheck.bias import choose_cuts
from stratforge.ci.crosscheck.warmup import KIND_TEXT, WarmupNeed, WarmupPlan, warmup_plan
from stratforge.ci.scorecard.inputs import BiasResult, CheckStatus
from stratforge.core import abi
from stratforge.core.engine_config import instruments_of
from stratforge.core.spec import SpecLike, as_strategy_spec
from stratforge.generator.render import render_context
from stratforge.sandbox.base import Backend
from stratforge.sandbox.replay import ReplayError

__all__ = ["L2BiasReport", "WarmupNeed", "WarmupPlan", "l2_bias_checks", "l2_bias_report",
           "warmup_plan", "check_warmup", "compare_truncated"]

ORDER_OPS = frozenset({"submit", "cancel", "replace"})
BUY, SELL = abi.SF_SIDE_BUY, abi.SF_SIDE_SELL
NO_BID, NO_ASK = abi.SF_NO_BID, abi.SF_NO_ASK
CROSSED_OR_LOCKED = abi.SF_BOOK_LOCKED | abi.SF_BOOK_CROSSED

# ------------------------------------------------------------------------------------------------
# counting on the tape


def _quoted(book: dict) -> bool:
    return (book["bid_px"] != NO_BID and book["ask_px"] != NO_ASK
            and not (int(book.get("flags", 0)) & CROSSED_OR_LOCKED))


def _counts(records: list[dict], plan: WarmupPlan) -> dict[str, list[int]]:
    """Per kind, the number of updates of that kind in callbacks ``0..k`` (index ``k``)."""
    kinds = sorted({n.kind for n in plan.needs})
    out: dict[str, list[int]] = {k: [] for k in kinds}
    c = dict.fromkeys(kinds, 0)
    legs = [False, False]
    for rec in records:
        cb = rec["cb"]
        body = rec.get(cb) if cb in ("book", "trade", "bar") else None
        inst = int(body["instrument"]) if body is not None else -1
        if "signal" in c and cb in plan.signal_kinds and inst == 0:
            c["signal"] += 1
        if "bar" in c and cb == "bar" and inst == 0:
            c["bar"] += 1
        if "trade" in c and cb == "trade" and inst == 0 and int(body["qty"]) > 0:
            c["trade"] += 1
        if cb == "book" and ("quote" in c or "pair" in c):
            q = _quoted(body)
            if "quote" in c and inst == 0 and q:
                c["quote"] += 1
            if "pair" in c and inst in (0, 1) and q:
                legs[inst] = True
                if legs[0] and legs[1]:
                    c["pair"] += 1
        for k in kinds:
            out[k].append(c[k])
    return out


def check_warmup(records: list[dict], decisions: list[dict], plan: WarmupPlan,
                 counts: dict[str, list[int]] | None = None) -> tuple[bool, str, dict[str, int] | None]:
    """``(respected, first violation text, counts at the first gated order)``."""
    if not plan.required:
        return True, "", None
    counts = counts if counts is not None else _counts(records, plan)
    first: dict[str, int] | None = None
    for d in decisions:
        if d.get("op") != "submit":
            continue
        seq = int(d["seq"])
        if not 0 <= seq < len(records):
            return False, f"order id {d.get('id')} at callback #{seq}: not a callback of the tape", None
        side_code = int(d.get("side", 0))
        side = "long" if side_code == BUY else "short"
        inst = int(d.get("inst", 0))
        pos_v = records[seq].get("pos") or []
        pos = int(pos_v[inst]) if inst < len(pos_v) else 0
        gated = plan.every_submit or ((pos >= 0) if side == "long" else (pos <= 0))
        if not gated:
            continue
        for need in plan.needs:
            if side not in need.sides:
                continue
            n = counts[need.kind][seq]
            if n < need.count:
                what = "quote" if plan.every_submit else "entry"
                verb = "buy" if side_code == BUY else "sell"
                return False, (f"{verb} {what} (order id {d.get('id')}, instrument {inst}, {records[seq]['cb']} "
                               f"callback #{seq}) after {n} {KIND_TEXT[need.kind]}; {need.why} is warm from "
                               f"{need.count}"), None
        if first is None:
            first = {"seq": seq, **{k: v[seq] for k, v in counts.items()}}
    return True, "", first


# ------------------------------------------------------------------------------------------------
# look-ahead


def compare_truncated(full: list[dict], truncated: list[dict], cut: int, conv: ConvertedTape) -> str:
    """The first difference between the full run's decisions up to ``cut`` and the truncated
    run's, as text ('' when they agree)."""
    want = [d for d in full if int(d.get("seq", -1)) <= cut]
    where = f"cut after callback #{cut} of {len(conv.records)}"

    def at(d: dict) -> str:
        seq = int(d.get("seq", -1))
        line = conv.lines[seq][:200] if 0 <= seq < len(conv.lines) else "?"
        return f"callback #{seq} {line}"

    for i, (a, b) in enumerate(zip(want, truncated)):
        if a != b:
            return (f"{where}: decision #{i} differs — full tape {_render(a)} vs truncated {_render(b)} "
                    f"(at {at(a)})")
    if len(want) != len(truncated):
        n = min(len(want), len(truncated))
        extra = want[n] if len(want) > n else truncated[n]
        who = "full-tape run" if len(want) > n else "truncated run"
        return (f"{where}: the {who} made {abs(len(want) - len(truncated))} more decision(s) up to that "
                f"callback; first differing decision #{n}: {_render(extra)} (at {at(extra)})")
    return ""


def _render(d: dict) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


@dataclass
class L2BiasReport:
    result: BiasResult
    cuts: tuple[int, ...] = ()
    plan: WarmupPlan | None = None
    callbacks: int = 0
    full_decisions: int = 0
    first_order: dict[str, Any] | None = None
    truncated_runs: dict[int, TwinRun] = field(default_factory=dict)


def l2_bias_report(backend: Backend, bundle: Path, build: Path, data: Path | None, spec: SpecLike,
                   tape: Path | None = None, *, parity: ParityRun | None = None, cuts: int = 5,
                   seed: int = 0, workers: int = 2) -> L2BiasReport:
    """Look-ahead and warm-up checks of ``bundle``'s twin on the real run's tape.

    ``tape`` is the engine's ``--tape`` of the run (``ReplayRun.tape``); ``parity`` the
    :class:`ParityRun` of the same run (its converted tape and full twin run are reused; without
    it both are made here). ``data`` is the ``.sfe`` the engine replayed (for the L2 levels the
    twin reads). Scratch goes to ``build/crosscheck``."""

    s = as_strategy_spec(spec)
    instruments = instruments_of(s)
    work = Path(build) / "crosscheck"
    work.mkdir(parents=True, exist_ok=True)
    try:
        plan: WarmupPlan | None = warmup_plan(spec)
        plan_err = ""
    except Exception as err:  # noqa: BLE001 - the spec did not compile: report, do not guess
        plan, plan_err = None, f"warm-up not derivable: {err}"

    def error(text: str, conv: ConvertedTape | None = None) -> L2BiasReport:
        return L2BiasReport(BiasResult(lookahead=CheckStatus.error, lookahead_details=text[:2000],
                                       warmup_respected=None, warmup_details="not checked: " + text[:1900]),
                            plan=plan, callbacks=len(conv.records) if conv else 0)

    conv = parity.tape if parity is not None else None
    full = parity.twin if parity is not None else None
    if conv is None:
        if tape is None:
            return error("no engine tape of the run (sf-replay --tape) to replay the twin on")
        try:
            conv = twin_tape(Path(bundle), Path(tape), strategy_id=s.metadata.name,
                             n_instruments=len(instruments), data=data)
        except (TapeError, ReplayError) as err:
            return error(f"the run's tape cannot be converted: {err}")
    if not conv.records:
        return L2BiasReport(BiasResult(lookahead=CheckStatus.not_run,
                                       lookahead_details="the run delivered no callbacks to the strategy",
                                       warmup_respected=None, warmup_details="not checked: no callbacks"),
                            plan=plan)
    if full is None:
        full = run_twin(backend, Path(bundle), conv.records, conv.answers, instruments=instruments, work=work,
                        label="bias-l2-full")
    if not full.ok:
        return error(f"full-tape twin run failed: {full.message}", conv)

    # warm-up: the engine's decisions (what the scorecard judges) and the twin's
    n = len(conv.records)
    if plan is None:
        wr, wd, first = None, plan_err, None
    elif not plan.required:
        wr, wd, first = True, plan.note, None
    else:
        counts = _counts(conv.records, plan)
        wr, wd, first = check_warmup(conv.records, conv.decisions, plan, counts)
        if wr:
            ok_twin, why_twin, _ = check_warmup(conv.records, full.decisions, plan, counts)
            if not ok_twin:
                wr, wd = False, f"Python twin: {why_twin}"
        else:
            wd = f"engine: {wd}"
        if wr:
            if first is None:
                wd = f"no order was sent ({plan.describe()})"
            else:
                have = ", ".join(f"{first[k.kind]} {KIND_TEXT[k.kind]} (need {k.count}: {k.why})"
                                 for k in plan.needs)
                wd = f"first gated order at callback #{first['seq']} of {n}, after {have}"

    # look-ahead: truncated tapes
    seqs = [int(d["seq"]) for d in full.decisions if d.get("op") in ORDER_OPS]
    cut_points = choose_cuts(n, seqs, cuts, seed)

    def one(cut: int) -> tuple[int, TwinRun]:
        answers = {k: v for k, v in conv.answers.items() if int(k) <= cut}
        return cut, run_twin(backend, Path(bundle), conv.records[:cut + 1], answers, instruments=instruments,
                             work=work, label=f"bias-l2-cut-{cut}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        runs = list(pool.map(one, cut_points))
    la_status, la_details = CheckStatus.passed, ""
    for cut, run in runs:
        if not run.ok and run.fault:
            la_status = CheckStatus.failed
            la_details = (f"cut after callback #{cut} of {n}: the twin faulted on the truncated tape but not on "
                          f"the full one (it reads beyond the callbacks it was given?): {run.message}")
            break
        if not run.ok:
            la_status, la_details = CheckStatus.error, f"cut after callback #{cut}: the run failed: {run.message}"
            break
        diff = compare_truncated(full.decisions, run.decisions, cut, conv)
        if diff:
            la_status, la_details = CheckStatus.failed, diff
            break
    if la_status is CheckStatus.passed:
        upto = sum(1 for d in full.decisions if int(d.get("seq", -1)) <= max(cut_points, default=-1))
        la_details = (f"{len(cut_points)} cut(s) at callbacks {list(cut_points)} of {n}: every decision up to "
                      f"each cut identical ({upto} of {len(full.decisions)} decision(s) up to the last cut; "
                      f"seed {seed})")
    if not cut_points:
        la_status, la_details = CheckStatus.not_run, "fewer than 2 callbacks: nothing to truncate"
    shutil.rmtree(work / "bias-l2-full", ignore_errors=True)
    result = BiasResult(lookahead=la_status, lookahead_details=la_details[:2000],
                        truncations_checked=len(runs) if la_status is not CheckStatus.not_run else 0,
                        warmup_respected=wr, warmup_details=(wd or "")[:2000])
    return L2BiasReport(result, cuts=cut_points, plan=plan, callbacks=n, full_decisions=len(full.decisions),
                        first_order=first, truncated_runs=dict(runs))


def l2_bias_checks(backend: Backend, bundle: Path, build: Path, data: Path | None, spec: SpecLike,
                   tape: Path | None = None, *, parity: ParityRun | None = None) -> BiasResult:
    """Look-ahead (5 seeded truncations of the run's callback tape) and warm-up checks of
    ``bundle``'s Python twin on an L2 run, every twin run inside ``backend``."""
    return l2_bias_report(backend, bundle, build, data, spec, tape, parity=parity).result
