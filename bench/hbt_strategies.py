"""hftbacktest workloads for bench/replay_vs_hftbacktest.py (numba @njit, hftbacktest 2.x API).

- `noop(hbt)`: steps through the whole feed with `wait_next_feed(False, ...)` and does nothing.
  hftbacktest returns from `wait_next_feed` once per distinct local timestamp, i.e. once per
  source message (batch) - the same granularity at which stratforge calls `on_book`.
- `market_maker(hbt, ...)`: the same symmetric quoter as stratforge's `builtin:market_maker`
  (runtime/engine/strategies/market_maker.cpp): one bid and one ask, `qty` lots each, at
  floor(mid - offset) / ceil(mid + offset) ticks; `modify` (replace) when the target moves by at
  least `requote` ticks; stops quoting (and cancels) the side that would take |position| beyond
  `max_inv` lots; never quotes a one-sided, crossed or locked book. It also wakes up on order
  responses (`wait_next_feed(True, ...)`), as stratforge delivers order updates as callbacks.
- `record_bbo(hbt, ts, bid, ask)`: best bid/ask ticks after every `wait_next_feed` return, for the
  conversion check.
"""

from __future__ import annotations

from numba import njit
from hftbacktest import GTC, LIMIT
from hftbacktest.order import NEW, NONE, PARTIALLY_FILLED

FOREVER = 1 << 50  # wait_next_feed timeout (ns): longer than any data set here
NO_BID = -(1 << 62)  # best_bid_tick is i64::MIN when the side is empty
NO_ASK = 1 << 62  # best_ask_tick is i64::MAX when the side is empty


@njit(cache=False)
def noop(hbt):
    steps = 0
    while True:
        r = hbt.wait_next_feed(False, FOREVER)
        if r == 1:
            break
        if r != 0 and r != 2:
            return -r
        steps += 1
    return steps


@njit(cache=False)
def record_bbo(hbt, ts, bid, ask):
    n = 0
    while n < len(ts):
        r = hbt.wait_next_feed(False, FOREVER)
        if r == 1:
            break
        d = hbt.depth(0)
        ts[n] = hbt.current_timestamp
        bid[n] = d.best_bid_tick
        ask[n] = d.best_ask_tick
        n += 1
    return n


@njit(cache=False)
def _quote(hbt, oid, next_id, is_buy, px, want, qty, tick, requote):
    """Returns (order id, next id, action): 0 none, 1 new, 2 modify, 3 cancel."""
    if oid != 0:
        o = hbt.orders(0).get(oid)
        if o is None:
            oid = 0  # filled/cancelled and already cleared
        elif o.req != NONE:
            return oid, next_id, 0  # a request is in flight
        elif o.status != NEW and o.status != PARTIALLY_FILLED:
            oid = 0  # inactive: cleared by clear_inactive_orders
        elif not want:
            hbt.cancel(0, oid, False)
            return oid, next_id, 3
        else:
            diff = px - o.price_tick
            if diff < 0:
                diff = -diff
            if diff >= requote:
                hbt.modify(0, oid, px * tick, qty, False)
                return oid, next_id, 2
            return oid, next_id, 0
    if oid == 0 and want:
        oid = next_id
        next_id += 1
        if is_buy:
            hbt.submit_buy_order(0, oid, px * tick, qty, GTC, LIMIT, False)
        else:
            hbt.submit_sell_order(0, oid, px * tick, qty, GTC, LIMIT, False)
        return oid, next_id, 1
    return oid, next_id, 0


@njit(cache=False)
def market_maker(hbt, offset, qty_lots, max_inv, requote, counts):
    d = hbt.depth(0)
    tick = d.tick_size
    lot = d.lot_size
    qty = qty_lots * lot
    bid_id = 0
    ask_id = 0
    next_id = 1
    last_m2 = 0
    steps = 0
    while True:
        r = hbt.wait_next_feed(True, FOREVER)
        if r == 1:
            break
        if r != 0 and r != 2 and r != 3:
            return -r
        steps += 1
        hbt.clear_inactive_orders(0)
        d = hbt.depth(0)
        bb = d.best_bid_tick
        ba = d.best_ask_tick
        if bb <= NO_BID or ba >= NO_ASK or bb >= ba:
            continue
        m2 = bb + ba
        bid = (m2 - 2 * offset) // 2
        ask = -((-(m2 + 2 * offset)) // 2)
        pos = round(hbt.position(0) / lot)
        up = m2 >= last_m2
        last_m2 = m2
        if up:
            ask_id, next_id, a1 = _quote(hbt, ask_id, next_id, False, ask, pos > -max_inv, qty, tick, requote)
            bid_id, next_id, a2 = _quote(hbt, bid_id, next_id, True, bid, pos < max_inv, qty, tick, requote)
        else:
            bid_id, next_id, a1 = _quote(hbt, bid_id, next_id, True, bid, pos < max_inv, qty, tick, requote)
            ask_id, next_id, a2 = _quote(hbt, ask_id, next_id, False, ask, pos > -max_inv, qty, tick, requote)
        counts[a1] += 1
        counts[a2] += 1
    return steps
