"""The backtrader adapter's engine semantics, with small hand-written (trusted) twins run
in-process: order types, report order and clocks, cancel, IOC expiry, maker/taker fees."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.ci.crosscheck.adapter import CASH_HEADROOM, AdapterConfig, BarSeries, BarTape, run_cerebro
from stratforge.runtime.twin import (SF_ORDER_ACCEPTED, SF_ORDER_CANCELED, SF_ORDER_EXPIRED,
                                     SF_ORDER_FILLED, SF_ORDER_REJECTED, SF_SIDE_BUY, SF_TIF_IOC, Instrument, Strategy)

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


# ---------------------------------------------------------------------------------------------
# several instruments: one backtrader feed per instrument, bars replayed in the file's order


def _leg(inst_id, symbol, times, opens, tick=10_000_000):
    ts = np.array(times, dtype=np.int64)
    o = np.array(opens, dtype=np.int64)
    return BarSeries(Instrument(inst_id, symbol, tick, 1_000_000_000), ts, ts, o, o + 50, o - 50, o + 5,
                     np.full(len(o), 1000, dtype=np.int64))


def _tape(legs, file_order):
    """``file_order``: (leg, bar) pairs in file order."""
    pos = [np.zeros(len(s), dtype=np.int64) for s in legs]
    for g, (k, i) in enumerate(file_order):
        pos[k][i] = g
    return BarTape(tuple(legs), tuple(pos))


class PairScript(Scripted):
    """Scripted per (instrument, bar of that instrument)."""

    def __init__(self, script):
        super().__init__(script)
        self.bars = {}

    def on_bar(self, ctx, b):
        n = self.bars.get(b.instrument, -1) + 1
        self.bars[b.instrument] = n
        self.log.append(("bar", b.instrument, ctx.now(), ctx.position(0), ctx.position(1)))
        for fn in self.script.get((b.instrument, n), ()):
            fn(ctx)


def test_two_instruments_fill_on_their_own_next_bar_in_file_order():
    a = _leg(0, "AAA", [DAY, 2 * DAY, 3 * DAY], [1000, 1010, 1020])
    b = _leg(1, "BBB", [DAY, 2 * DAY, 3 * DAY], [5000, 4990, 4980], tick=1_000_000)
    tape = _tape([a, b], [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)])
    # on B's first bar: buy A and sell B (a pair entry); on B's second bar: close both
    tw = PairScript({(1, 0): [lambda c: c.buy_market(0, 10), lambda c: c.sell_market(1, 20)],
                     (1, 1): [lambda c: c.sell_market(0, 10), lambda c: c.buy_market(1, 20)]})
    doc = run_cerebro(tw, tape, CFG)
    fills = [(f["instrument"], f["side"], f["px"], f["qty"], f["bar"]) for f in doc["fills"]]
    assert fills == [("AAA", "BUY", 1010, 10, 2), ("BBB", "SELL", 4990, 20, 3),
                     ("AAA", "SELL", 1020, 10, 4), ("BBB", "BUY", 4980, 20, 5)]
    # A's fill reaches the twin before A's bar, B's before B's: on A's second bar the twin is
    # long A but not yet short B
    assert ("bar", 0, 2 * DAY, 10, 0) in tw.log and ("bar", 1, 2 * DAY, 10, -20) in tw.log
    assert doc["positions"] == {"AAA": 0, "BBB": 0}
    assert doc["bars"] == 6 and len(doc["equity"]) == 6
    assert doc["closed_trades"] == 2  # one round trip per instrument
    pnl = 10 * (10.20 - 10.10) + 20 * (4.990 - 4.980)
    fees = (101.0 + 99.8 + 102.0 + 99.6) * 2e-4
    assert doc["final_pnl"] == pytest.approx(pnl - fees)


def test_file_order_decides_which_bar_of_a_time_comes_first():
    a = _leg(0, "AAA", [DAY, 2 * DAY], [1000, 1010])
    b = _leg(1, "BBB", [DAY, 2 * DAY], [5000, 4990], tick=1_000_000)
    tw = PairScript({})
    run_cerebro(tw, _tape([a, b], [(1, 0), (0, 0), (1, 1), (0, 1)]), CFG)
    assert [x[1] for x in tw.log if x[0] == "bar"] == [1, 0, 1, 0]


def test_a_leg_without_a_bar_at_some_time_does_not_fill_on_its_stale_bar():
    """B has no bars on days 2 and 3: a limit on B sent on day 2 is matched on B's day-4 bar, its
    next, never on the day-1 bar that backtrader still shows for B on day 3 (plain backtrader
    matches it there)."""
    a = _leg(0, "AAA", [DAY, 2 * DAY, 3 * DAY, 4 * DAY], [1000, 1010, 1020, 1030])
    b = _leg(1, "BBB", [DAY, 4 * DAY], [5000, 5200], tick=1_000_000)
    # day-1 B bar: low 4950; day-4 B bar: open 5200, low 5150. A buy limit at 4960 is reachable
    # only on the day-1 bar.
    tw = PairScript({(0, 1): [lambda c: c.buy_limit(1, 4960, 5)]})
    doc = run_cerebro(tw, _tape([a, b], [(0, 0), (1, 0), (0, 1), (0, 2), (0, 3), (1, 1)]), CFG)
    assert doc["fills"] == []
    assert [x[1:3] for x in tw.log if x[0] == "bar"] == [(0, DAY), (1, DAY), (0, 2 * DAY), (0, 3 * DAY),
                                                         (0, 4 * DAY), (1, 4 * DAY)]


def test_an_order_on_an_unknown_instrument_is_rejected():
    a = _leg(0, "AAA", [DAY, 2 * DAY], [1000, 1010])
    b = _leg(1, "BBB", [DAY, 2 * DAY], [5000, 4990], tick=1_000_000)
    tw = PairScript({(0, 0): [lambda c: c.buy_market(7, 1)]})
    doc = run_cerebro(tw, _tape([a, b], [(0, 0), (1, 0), (0, 1), (1, 1)]), CFG)
    assert doc["fills"] == [] and ("update", DAY, 1, SF_ORDER_REJECTED) in tw.log


def test_a_leg_with_no_bars_yet_runs_the_other():
    """A look-ahead cut before the second leg's first bar leaves that feed empty."""
    a = _leg(0, "AAA", [DAY, 2 * DAY], [1000, 1010])
    empty = _leg(1, "BBB", [], [], tick=1_000_000)
    tw = PairScript({(0, 0): [lambda c: c.buy_market(0, 3)]})
    doc = run_cerebro(tw, _tape([a, empty], [(0, 0), (0, 1)]), CFG)
    assert [x[1:3] for x in tw.log if x[0] == "bar"] == [(0, DAY), (0, 2 * DAY)]
    assert [(f["instrument"], f["px"]) for f in doc["fills"]] == [("AAA", 1010)]
    assert doc["bars"] == 2 and doc["positions"] == {"AAA": 3, "BBB": 0}


# ---------------------------------------------------------------------------------------------
# cash: the engine has no cash check (the spec's risk limits bound exposure), so backtrader's
# broker must not refuse an order its starting cash cannot pay for


def test_an_order_worth_more_than_the_starting_cash_fills_as_in_the_engine():
    """Old adapter: backtrader's broker refused the buy (``Margin``, reported ``REJECTED``) while
    the runtime filled it; on real SPY bars with 120 shares on 12,000 USD the bar agreement then
    failed at the first fill for a rule the runtime does not have."""
    small = AdapterConfig(initial_cash=1_000.0, maker_bps=0.0, taker_bps=1.0)
    tw = Scripted({0: [lambda c: c.buy_market(0, 4_000)], 2: [lambda c: c.sell_market(0, 4_000)]})
    doc = run_cerebro(tw, _series([1000, 1013, 1020, 1029], [1100] * 4, [900] * 4, [1007, 1016, 1023, 1031]),
                      small)
    assert doc["rejected_orders"] == 0 and not any(x[0] == "update" and x[3] == SF_ORDER_REJECTED
                                                   for x in tw.log)
    assert [(f["side"], f["px"], f["qty"]) for f in doc["fills"]] == [("BUY", 1013, 4_000), ("SELL", 1029, 4_000)]
    fees = (4_000 * 10.13 + 4_000 * 10.29) * 1e-4
    # 40,520 USD bought on 1,000 USD of cash: PnL and equity stay relative to the spec's capital,
    # exact to the cent (the headroom does not cost precision)
    assert doc["final_pnl"] == pytest.approx(4_000 * 0.16 - fees, abs=1e-6)
    assert doc["initial_cash"] == 1_000.0 and doc["final_value"] == pytest.approx(1_000.0 + doc["final_pnl"])
    assert doc["equity"][-1] == pytest.approx(doc["final_pnl"], abs=1e-6)


def test_an_order_beyond_the_cash_headroom_is_still_refused_and_counted():
    """The headroom is finite: a buy worth more than it is refused and named (rejected_orders),
    which the bar agreement reports, rather than filled in silence."""
    tw = Scripted({0: [lambda c: c.buy_market(0, int(CASH_HEADROOM / 10) + 1)]})
    doc = run_cerebro(tw, _series([1000, 1013, 1020], [1100] * 3, [900] * 3, [1007, 1016, 1023]), CFG)
    assert doc["fills"] == [] and doc["rejected_orders"] == 1
    assert ("update", 2 * DAY, 1, SF_ORDER_REJECTED) in tw.log
