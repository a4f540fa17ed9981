"""Hand-made callback tapes and the behaviour each strategy type must show on them.

The generated tests (templates/tests/) replay the same tape through the Python twin and the C++
plugin and check the same expectations, so both languages are held to the documented behaviour:

- momentum: buys after the fast EMA crosses above the slow one;
- mean_reversion: sells when the price jumps above +entry_z standard deviations;
- custom: acts on its role signals (a long entry when entry_long holds);
- order_book_imbalance: buys (IOC at the ask) on a strong bid imbalance, sets the hold timer, and
  sells when the timer fires;
- market_making: quotes a bid below and an ask above the mid; with a long inventory the bid is
  lower (skew against inventory);
- stat_arb: enters the pair with opposite legs once the spread's z-score passes entry_z.

An expectation is ``(op, inst, side)``: the decision records must contain matching decisions in
this order (other decisions may come between).
"""

from __future__ import annotations

import math
from typing import Any

from stratforge.runtime.twin.abi import SF_SIDE_BUY, SF_SIDE_SELL

from .context import StrategyContext

__all__ = ["scenario"]


def _book(t: int, inst: int, bid: int, ask: int, bq: int, aq: int, pos: list[int], levels=None) -> dict[str, Any]:
    rec = {"cb": "book", "t": t, "pos": list(pos), "book": {
        "exch_ts": t, "recv_ts": t, "instrument": inst, "flags": 0, "bid_px": bid, "bid_qty": bq, "ask_px": ask,
        "ask_qty": aq, "bid_levels": 1, "ask_levels": 1}}
    if levels is not None:
        rec["levels"] = levels
    return rec


def _bar(t: int, close: int, pos: list[int]) -> dict[str, Any]:
    return {"cb": "bar", "t": t, "pos": list(pos), "bar": {
        "end_ts": t, "recv_ts": t, "instrument": 0, "open": close, "high": close, "low": close, "close": close,
        "volume": 1000}}


def _trade(t: int, px: int, qty: int, pos: list[int]) -> dict[str, Any]:
    return {"cb": "trade", "t": t, "pos": list(pos), "trade": {
        "exch_ts": t, "recv_ts": t, "instrument": 0, "side": 1, "px": px, "qty": qty, "trade_id": 0}}


def scenario(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    """``(tape, expectations)`` for the strategy's type."""
    sec = 1_000_000_000
    qty = next(p.value for p in ctx.params if p.name == "order_qty_lots")
    if ctx.type in ("momentum", "mean_reversion") and ctx.data != "bars":
        raise NotImplementedError("Condition failed: book-driven momentum/mean_reversion scenarios are not written yet")
    if ctx.type == "momentum":
        prices = [10000 - 20 * i for i in range(120)] + [7620 + 60 * i for i in range(80)]
        tape = [_bar((i + 1) * sec, p, [0]) for i, p in enumerate(prices)]
        return tape, [("submit", 0, SF_SIDE_BUY)]
    if ctx.type == "mean_reversion":
        prices = [10000 + (i % 2) * 10 for i in range(60)] + [10400]
        tape = [_bar((i + 1) * sec, p, [0]) for i, p in enumerate(prices)]
        allow_short = next(p.value for p in ctx.params if p.name == "allow_short")
        return tape, [("submit", 0, SF_SIDE_SELL if allow_short else SF_SIDE_BUY)] if allow_short else []
    if ctx.type == "custom":
        # trades at 127.00 then a bid-heavy book 0.2% below: the spec's entry_long (VWAP gap + imbalance)
        tape = [_book(sec, 0, 12699, 12701, 500, 500, [0])]
        tape += [_trade(sec + i + 1, 12700, 100, [0]) for i in range(400)]
        tape.append(_book(2 * sec, 0, 12673, 12675, 900, 100, [0]))
        return tape, [("submit", 0, SF_SIDE_BUY)]
    if ctx.type == "order_book_imbalance":
        lv = {"bid": [[100000 - i, 50] for i in range(10)], "ask": [[100001 + i, 5] for i in range(10)]}
        hold = next(p.value for p in ctx.params if p.name == "hold_ns")
        tape = [_book(sec, 0, 100000, 100001, 50, 5, [0], lv)]
        tape.append({"cb": "fill", "t": sec + 1, "pos": [qty], "fill": {
            "ts": sec + 1, "order_id": 1, "instrument": 0, "side": SF_SIDE_BUY, "liquidity": 2, "px": 100001, "qty": qty,
            "leaves_qty": 0, "position": qty, "fee": 0.0}})
        tape.append({"cb": "timer", "t": sec + hold, "pos": [qty], "timer": 1})
        return tape, [("submit", 0, SF_SIDE_BUY), ("set_timer", 0, 0), ("submit", 0, SF_SIDE_SELL)]
    if ctx.type == "market_making":
        n = int(ctx.consts["vol_window"]) + 5
        tape = []
        for i in range(n):
            mid = 600000 + (3 if i % 2 else 0) + (i // 50) % 3
            tape.append(_book((i + 1) * sec // 10, 0, mid - 1, mid + 1, 10, 10, [0]))
        return tape, [("submit", 0, SF_SIDE_BUY), ("submit", 0, SF_SIDE_SELL)]
    if ctx.type == "stat_arb":
        n = int(ctx.consts["window"]) + (int(ctx.consts["ols_window"]) if ctx.consts["rolling_ols"] else 0) + 5
        tape = []
        for i in range(n):
            l2 = 6100000 + int(2000 * math.sin(i / 37.0)) + (i % 7) * 10
            l1 = 260000 + (l2 - 6100000) // 25 + int(20 * math.sin(i / 11.0)) + (i % 5) * 3
            tape.append(_book(2 * i * sec // 10, 1, l2 - 1, l2 + 1, 10, 10, [0, 0]))
            tape.append(_book((2 * i + 1) * sec // 10, 0, l1 - 1, l1 + 1, 10, 10, [0, 0]))
        t = 2 * n * sec // 10
        tape.append(_book(t, 0, 262000, 262002, 10, 10, [0, 0]))  # leg 1 jumps: spread far above its mean
        return tape, [("submit", 0, SF_SIDE_SELL), ("submit", 1, SF_SIDE_BUY)]
    raise NotImplementedError(f"Invariant: no scenario for strategy type {ctx.type}")
