"""A minimal closed-loop host for twin strategies: immediate fills, resting limits, timers.

It turns a market-data stream into a complete callback tape (fills, order updates, timers) by
running a strategy against a toy venue. It is a test fixture for parity checks — the tape it
records is then replayed, unchanged, through the C++ plugin and the Python twin — not a
backtester (no queue, latency or fees; the engine's simulated venue is the real one).

Rules: market orders and marketable limit/IOC orders fill completely at the touch (the bar close
for bar data); a non-marketable IOC expires; a non-marketable GTC limit rests and fills completely
at its price once a later book trades through it (buy: ask <= px; sell: bid >= px). Cancel and
replace act at once. A timer fires before the first market record with ``t >= at`` (``now = at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .abi import (SF_LIQ_MAKER, SF_LIQ_TAKER, SF_NO_ASK, SF_NO_BID, SF_ORD_MARKET, SF_ORDER_ACCEPTED,
                  SF_ORDER_CANCEL_REJECTED, SF_ORDER_CANCELED, SF_ORDER_EXPIRED, SF_ORDER_FILLED,
                  SF_ORDER_REPLACED, SF_SIDE_BUY, SF_TIF_IOC)
from .context import Decision, RecordingContext
from .driver import TapeRecord, _dispatch, apply_host_state
from .strategy import Strategy

__all__ = ["simulate"]

_MAX_CASCADE = 10_000


@dataclass
class _Order:
    id: int
    inst: int
    side: int
    px: int
    qty: int


def simulate(strategy: Strategy, market: Iterable[TapeRecord], n_instruments: int) -> tuple[list[TapeRecord], list[Decision]]:
    """Run ``strategy`` over market records (book / trade / bar, without ``pos``).

    Returns ``(tape, decisions)``: the complete callback tape as delivered, and the decisions.
    """
    ctx = RecordingContext()
    tape: list[TapeRecord] = []
    pos = [0] * n_instruments
    touch: dict[int, tuple[int, int]] = {}
    resting: dict[int, _Order] = {}
    timers: list[tuple[int, int, int]] = []  # (at, order of setting, id)
    queue: list[TapeRecord] = []
    seen = 0

    def deliver(rec: TapeRecord) -> None:
        nonlocal seen
        rec = dict(rec, pos=list(pos))
        seq = len(tape)
        tape.append(rec)
        apply_host_state(ctx, seq, rec)
        _dispatch(strategy, ctx, rec)
        new = ctx.decisions[seen:]
        seen = len(ctx.decisions)
        for d in new:
            react(d, rec["t"])

    def fill(o: _Order, px: int, liq: int, t: int) -> None:
        pos[o.inst] += o.qty if o.side == SF_SIDE_BUY else -o.qty
        queue.append({"cb": "fill", "t": t, "fill": {
            "ts": t, "order_id": o.id, "instrument": o.inst, "side": o.side, "liquidity": liq, "px": px,
            "qty": o.qty, "leaves_qty": 0, "position": pos[o.inst], "fee": 0.0}})
        queue.append(_update(o, SF_ORDER_FILLED, t, leaves=0))

    def marketable(o: _Order, limit: bool) -> int | None:
        bid, ask = touch.get(o.inst, (SF_NO_BID, SF_NO_ASK))
        if o.side == SF_SIDE_BUY:
            if ask == SF_NO_ASK or (limit and ask > o.px):
                return None
            return ask
        if bid == SF_NO_BID or (limit and bid < o.px):
            return None
        return bid

    def react(d: Decision, t: int) -> None:
        op = d["op"]
        if op == "submit":
            o = _Order(d["id"], d["inst"], d["side"], d["px"], d["qty"])
            px = marketable(o, d["type"] != SF_ORD_MARKET)
            if px is not None:
                fill(o, px, SF_LIQ_TAKER, t)
            elif d["type"] == SF_ORD_MARKET or d["tif"] == SF_TIF_IOC:
                queue.append(_update(o, SF_ORDER_EXPIRED, t, leaves=0))
            else:
                resting[o.id] = o
                queue.append(_update(o, SF_ORDER_ACCEPTED, t, leaves=o.qty))
        elif op == "cancel":
            o = resting.pop(d["id"], None)
            if o is None:
                queue.append({"cb": "order_update", "t": t, "update": {
                    "ts": t, "order_id": d["id"], "instrument": 0, "side": 0, "status": SF_ORDER_CANCEL_REJECTED,
                    "px": 0, "qty": 0, "leaves_qty": 0}})
            else:
                queue.append(_update(o, SF_ORDER_CANCELED, t, leaves=0))
        elif op == "replace":
            o = resting.get(d["id"])
            if o is None:
                queue.append({"cb": "order_update", "t": t, "update": {
                    "ts": t, "order_id": d["id"], "instrument": 0, "side": 0, "status": SF_ORDER_CANCEL_REJECTED,
                    "px": d["px"], "qty": d["qty"], "leaves_qty": 0}})
            else:
                o.px, o.qty = d["px"], d["qty"]
                queue.append(_update(o, SF_ORDER_REPLACED, t, leaves=o.qty))
        elif op == "set_timer":
            timers.append((d["at"], len(timers), d["timer"]))

    def drain() -> None:
        n = 0
        while queue:
            n += 1
            if n > _MAX_CASCADE:
                raise RuntimeError("Invariant: the strategy and the toy venue are looping (more than "
                                   f"{_MAX_CASCADE} host events after one market record)")
            deliver(queue.pop(0))

    for rec in market:
        t = int(rec["t"])
        timers.sort()
        while timers and timers[0][0] <= t:
            at, _, tid = timers.pop(0)
            deliver({"cb": "timer", "t": at, "timer": tid})
            drain()
            timers.sort()
        if rec["cb"] == "book":
            b = rec["book"]
            touch[b["instrument"]] = (b["bid_px"], b["ask_px"])
        elif rec["cb"] == "bar":
            b = rec["bar"]
            touch[b["instrument"]] = (b["close"], b["close"])
        deliver(rec)
        drain()
        for oid in sorted(resting):
            o = resting[oid]
            px = marketable(o, True)
            if px is not None:
                del resting[oid]
                fill(o, o.px, SF_LIQ_MAKER, t)
        drain()
    return tape, ctx.decisions


def _update(o: _Order, status: int, t: int, *, leaves: int) -> dict[str, Any]:
    return {"cb": "order_update", "t": t, "update": {
        "ts": t, "order_id": o.id, "instrument": o.inst, "side": o.side, "status": status, "px": o.px,
        "qty": o.qty, "leaves_qty": leaves}}
