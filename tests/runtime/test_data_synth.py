"""Synthetic market: determinism and statistical sanity."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.runtime.data import synth
from stratforge.runtime.data.book import NO_ASK, NO_BID, L2Book, replay
from stratforge.runtime.data.errors import InputError
from stratforge.runtime.data.format import ASK, BAR, BID, CLEAR, DEPTH, END_OF_BATCH, SNAPSHOT, TRADE, open_events

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
