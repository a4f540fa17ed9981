"""The backtrader adapter's engine semantics, with small hand-written (trusted) twins run
in-process: order types, report order and clocks, cancel, IOC expiry, maker/taker fees."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.ci.crosscheck.adapter import AdapterConfig, BarSeries, run_cerebro
from stratforge.runtime.twin import (SF_ORDER_ACCEPTED, SF_ORDER_CANCELED, SF_ORDER_EXPIRED,
                                     SF_ORDER_FILLED, SF_SIDE_BUY, SF_TIF_IOC, Instrument, Strategy)

DAY = 86_400 * 10**9


def _series(opens, highs, lows, closes):
    n = len(opens)
    ts = np.arange(1, n + 1, dtype=np.int64) * DAY
    return BarSeries(Instrument(0, "TST", 10_000_000, 1_000_000_000), ts, ts, np.array(opens), np.array(highs),
                     np.array(lows), np.array(closes), np.full(n, 1000, dtype=np.int64))


class Scripted(Strategy):
    """Sends the requests scripted per bar index; logs every callback it gets."""

    def __init__(self, script):
        self.script = script
        self.log = []
        self.bar = -1

    def on_bar(self, ctx, b):
        self.bar += 1
        self.log.append(("bar", ctx.now(), b.close, ctx.position(0)))
        for fn in self.script.get(self.bar, ()):
            fn(ctx)

    def on_fill(self, ctx, f):
        self.log.append(("fill", ctx.now(), f.px, f.qty, f.liquidity, f.position, f.leaves_qty))

    def on_order_update(self, ctx, u):
        self.log.append(("update", ctx.now(), u.order_id, u.status))


CFG = AdapterConfig(initial_cash=100_000.0, maker_bps=-1.0, taker_bps=2.0)


def test_market_fills_at_next_open_before_on_bar():
    tw = Scripted({0: [lambda c: c.buy_market(0, 10)], 2: [lambda c: c.sell_market(0, 10)]})
    doc = run_cerebro(tw, _series([1000, 1010, 1020, 1030], [1100] * 4, [900] * 4, [1005, 1015, 1025, 1035]), CFG)
    assert [f["px"] for f in doc["fills"]] == [1010, 1030]
    assert tw.log[1:4] == [("fill", 2 * DAY, 1010, 10, 2, 10, 0), ("update", 2 * DAY, 1, SF_ORDER_FILLED),
                           ("bar", 2 * DAY, 1015, 10)]
    # taker 2 bps on 10 x 10.10 and 10 x 10.30; PnL = 10 x 0.20 - fees
    assert doc["fees"] == pytest.approx((101.0 + 103.0) * 2e-4)
    assert doc["final_pnl"] == pytest.approx(2.0 - (101.0 + 103.0) * 2e-4)
    assert doc["closed_trades"] == 1


def test_limit_at_open_is_taker_inside_bar_is_maker():
    tw = Scripted({0: [lambda c: c.buy_limit(0, 1020, 1)], 1: [lambda c: c.sell_limit(0, 1050, 1)]})
    # bar 1 opens at 1010 <= 1020: taker at the open; bar 2 opens 1000, high 1060 >= 1050: maker at 1050
    doc = run_cerebro(tw, _series([1000, 1010, 1000], [1005, 1015, 1060], [995, 1005, 990], [1000, 1010, 1000]), CFG)
    assert [(f["px"], f["liquidity"]) for f in doc["fills"]] == [(1010, "TAKER"), (1050, "MAKER")]
    assert doc["fills"][1]["fee"] == pytest.approx(10.50 * -1e-4)
    # GTC limits are acknowledged at the start of the next bar with the sending bar's clock
    assert ("update", DAY, 1, SF_ORDER_ACCEPTED) in tw.log


def test_cancel_is_reported_before_the_next_bar_and_never_fills():
    tw = Scripted({0: [lambda c: c.buy_limit(0, 990, 1)], 1: [lambda c: c.cancel(1)]})
    doc = run_cerebro(tw, _series([1000, 1000, 980], [1000, 1000, 1000], [995, 995, 970], [1000, 1000, 990]), CFG)
    assert doc["fills"] == []
    assert ("update", 2 * DAY, 1, SF_ORDER_CANCELED) in tw.log
    i = tw.log.index(("update", 2 * DAY, 1, SF_ORDER_CANCELED))
    assert tw.log[i + 1][0] == "bar" and tw.log[i + 1][1] == 3 * DAY


def test_ioc_not_filled_by_the_next_bar_expires():
    tw = Scripted({0: [lambda c: c.limit(0, SF_SIDE_BUY, 900, 1, SF_TIF_IOC)]})
    doc = run_cerebro(tw, _series([1000, 1000, 800], [1000, 1000, 1000], [995, 950, 700], [1000, 1000, 800]), CFG)
    assert doc["fills"] == []  # bar 2 would have reached 900: the IOC was gone by then
    assert ("update", 2 * DAY, 1, SF_ORDER_EXPIRED) in tw.log


def test_decisions_are_recorded_with_bar_and_callback():
    tw = Scripted({1: [lambda c: c.buy_market(0, 2)]})
    doc = run_cerebro(tw, _series([1000] * 3, [1000] * 3, [1000] * 3, [1000] * 3), CFG)
    assert [d["op"] for d in doc["decisions"]] == ["submit"]
    assert doc["decision_bars"] == [1] and doc["decision_callbacks"] == ["on_bar"]
    assert doc["decisions"][0]["t"] == 2 * DAY and doc["decisions"][0]["id"] == 1
