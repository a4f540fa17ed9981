"""Synthetic market: determinism and statistical sanity."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.runtime.data import synth
from stratforge.runtime.data.book import NO_ASK, NO_BID, L2Book, replay
from stratforge.runtime.data.errors import InputError
from stratforge.runtime.data.format import (ASK, BAR, BID, CLEAR, DEPTH, END_OF_BATCH, SNAPSHOT, TRADE, Instrument,
                                           open_events)

SMALL = synth.L2Params(chunk_steps=20_000)


def test_l2_deterministic_and_prefix_stable():
    _, a = synth.generate("l2", 50_000, seed=7, params=SMALL)
    _, b = synth.generate("l2", 50_000, seed=7, params=SMALL)
    _, c = synth.generate("l2", 50_000, seed=8, params=SMALL)
    _, d = synth.generate("l2", 20_000, seed=7, params=SMALL)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(a) == 50_000 and len(d) == 20_000
    assert np.array_equal(a[: len(d) - 1], d[:-1])  # only the cut batch's flag differs


def test_l2_book_sanity():
    _, ev = synth.generate("l2", 100_000, seed=1, params=SMALL)
    assert ev["type"][0] == CLEAR and np.all(ev["flags"][:11] & SNAPSHOT)
    assert np.all(np.diff(ev["recv_ts"]) >= 0)
    assert np.all(ev["recv_ts"] >= ev["exch_ts"])
    best = replay(ev)
    ends = np.flatnonzero(ev["flags"] & END_OF_BATCH)
    assert not best.crossed().any()  # not even between the records of a batch
    spread = (best.ask_px - best.bid_px)[ends]
    assert spread.min() >= 1 and spread.max() <= 3
    assert set(np.unique(spread)) == {1, 2, 3}
    assert np.all(best.bid_px[ends] != NO_BID) and np.all(best.ask_px[ends] != NO_ASK)
    # trades hit the touch, for no more than it holds, on both sides
    ti = np.flatnonzero(ev["type"] == TRADE)
    sell = ev["side"][ti] == ASK
    touch_px = np.where(sell, best.bid_px[ti - 1], best.ask_px[ti - 1])
    touch_q = np.where(sell, best.bid_qty[ti - 1], best.ask_qty[ti - 1])
    assert np.array_equal(ev["v"][ti, 0], touch_px)
    assert np.all((ev["v"][ti, 1] >= 1) & (ev["v"][ti, 1] <= touch_q))
    assert 0.3 < sell.mean() < 0.7
    assert 0.02 < len(ti) / len(ends) < 0.3
    # every complete batch leaves exactly K contiguous levels per side
    book = L2Book()
    types, sides = ev["type"].tolist(), ev["side"].tolist()
    v0, v1 = ev["v"][:, 0].tolist(), ev["v"][:, 1].tolist()
    end_set = set(ends[:-1][::50].tolist())
    for i in range(len(ev)):
        if types[i] == DEPTH:
            book.set_level(sides[i], v0[i], v1[i])
        elif types[i] == CLEAR:
            book.clear()
        if i in end_set:
            bids = [p for p, _ in book.levels(BID, 10)]
            asks = [p for p, _ in book.levels(ASK, 10)]
            assert len(bids) == 5 and bids[0] - bids[-1] == 4
            assert len(asks) == 5 and asks[-1] - asks[0] == 4


def test_bars_deterministic_and_consistent():
    p = synth.BarParams(chunk_bars=5_000)
    ins, ev = synth.generate("bars", 12_000, seed=3, params=p)
    _, ev2 = synth.generate("bars", 12_000, seed=3, params=p)
    assert np.array_equal(ev, ev2)
    assert ins[0].bar_interval_ns == 60_000_000_000
    assert np.all(ev["type"] == BAR) and np.all(ev["flags"] & END_OF_BATCH)
    o, h, lo, c, v = (ev["v"][:, j] for j in range(5))
    assert np.all(lo <= np.minimum(o, c)) and np.all(h >= np.maximum(o, c))
    assert np.all(o[1:] == c[:-1])  # continuous series
    assert np.all(v > 0)
    assert np.all(np.diff(ev["exch_ts"]) == 60_000_000_000)
    r = np.diff(np.log(c))
    assert 0 < r.std() < 0.01


def test_write_streams(tmp_path):
    n = synth.write_synth(tmp_path / "s.sfe", "l2", 30_000, seed=2, params=SMALL)
    f = open_events(tmp_path / "s.sfe")
    assert n == len(f) == 30_000 and f.source == "synth-l2"
    _, ev = synth.generate("l2", 30_000, seed=2, params=SMALL)
    assert np.array_equal(np.asarray(f.events), ev)


def test_bad_params():
    with pytest.raises(InputError, match="max_spread must be 1..3"):
        synth.generate("l2", 10, params=synth.L2Params(max_spread=5))
    with pytest.raises(InputError, match="kind must be l2 or bars"):
        synth.generate("ticks", 10)


# ---------------------------------------------------------------------------------------------
# markets for a strategy: bars of several instruments (market_bars / cointegrated_bars)

DAY = 86_400 * 10**9
START = 1_300_000_000 * 10**9 - (1_300_000_000 * 10**9) % DAY + 21 * 3_600 * 10**9  # a 21:00 UTC close
LEGS = [Instrument("LEGA", "0.01", "1"), Instrument("LEGB", "0.05", "10")]


def test_bars_of_two_instruments_share_the_clock_leg_by_leg():
    ins, ev = synth.market_bars(LEGS, 800, 11, START, 42.0, 0.3, continuous=False)
    assert [i.symbol for i in ins] == ["LEGA", "LEGB"] and all(i.bar_interval_ns == DAY for i in ins)
    assert len(ev) == 1600 and np.all(ev["type"] == BAR)
    assert (ev["instrument"][0::2] == 0).all() and (ev["instrument"][1::2] == 1).all()
    assert np.array_equal(ev["recv_ts"][0::2], ev["recv_ts"][1::2])  # both legs at every close
    assert np.all(np.diff(ev["recv_ts"]) >= 0)
    o, h, lo, c = (ev["v"][:, j] for j in range(4))
    assert np.all(lo <= np.minimum(o, c)) and np.all(h >= np.maximum(o, c)) and np.all(lo >= 1)


def test_the_second_leg_is_cointegrated_with_the_first():
    _, ev = synth.market_bars(LEGS, 2000, 12, START, 42.0, 0.3, continuous=False)
    a = ev["v"][ev["instrument"] == 0][:, 3] * 0.01
    b = ev["v"][ev["instrument"] == 1][:, 3] * 0.05
    spread = np.log(b) - np.log(a)
    assert abs(spread.mean()) < 0.02 and 0.01 < spread.std() < 0.03  # ~2 % around the start ratio
    lag1 = np.corrcoef(spread[:-1], spread[1:])[0, 1]
    assert 0.75 < lag1 < 0.98  # reverts (half-life of a few bars), unlike either leg's own price
    assert np.corrcoef(np.diff(np.log(a)), np.diff(np.log(b)))[0, 1] > 0.5
    # volume in each leg's own lots at about the same notional
    va = ev["v"][ev["instrument"] == 0][:, 4] * 1.0 * a
    vb = ev["v"][ev["instrument"] == 1][:, 4] * 10.0 * b
    assert 0.8 < np.median(vb / va) < 1.25


def test_adding_a_leg_leaves_the_first_unchanged_and_is_seeded():
    _, one = synth.market_bars(LEGS[:1], 500, 13, START, 42.0, 0.3, continuous=False)
    _, two = synth.market_bars(LEGS, 500, 13, START, 42.0, 0.3, continuous=False)
    _, again = synth.market_bars(LEGS, 500, 13, START, 42.0, 0.3, continuous=False)
    _, other = synth.market_bars(LEGS, 500, 14, START, 42.0, 0.3, continuous=False)
    assert np.array_equal(one, two[two["instrument"] == 0])
    assert np.array_equal(two, again) and not np.array_equal(two, other)


def test_hourly_bars_for_a_continuous_venue():
    ins, ev = synth.market_bars(LEGS, 50, 15, START, 42.0, 0.3, continuous=True)
    assert ins[0].bar_interval_ns == 3_600 * 10**9
    assert set(np.diff(ev["recv_ts"][0::2]).tolist()) == {3_600 * 10**9}
