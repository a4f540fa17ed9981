"""LOBSTER conversion: inline fixtures, and the shared AAPL/GOOG samples replayed row by row."""

from __future__ import annotations

import gzip
import heapq

import numpy as np
import pytest

from stratforge.runtime.data.book import NO_ASK, NO_BID, L2Book, replay
from stratforge.runtime.data.errors import DataFormatError, InputError
from stratforge.runtime.data.format import ASK, BID, CLEAR, DEPTH, END_OF_BATCH, SNAPSHOT, TRADE
from stratforge.runtime.data.lobster import convert_lobster

LOBSTER = ("lobster-nasdaq-sample-2012-06-21",)
EMPTY_ASK, EMPTY_BID = 9999999999, -9999999999


def _write(tmp_path, msgs, books, name="TEST_2012-06-21_34200000_57600000_{}_2.csv"):
    m = tmp_path / name.format("message")
    o = tmp_path / name.format("orderbook")
    m.write_text("\n".join(",".join(str(x) for x in r) for r in msgs) + "\n")
    o.write_text("\n".join(",".join(str(x) for x in r) for r in books) + "\n")
    return m, o


def test_inline_two_level(tmp_path):
    msgs = [
        (34200.000000001, 1, 11, 100, 1000100, -1),  # new ask 100.01
        (34200.5, 1, 12, 50, 999900, 1),  # new bid 99.99 (level 2 was empty)
        (34201.25, 4, 11, 30, 1000100, -1),  # execution of the sell order: buyer-initiated
        (34202.0, 1, 13, 10, 1000000, 1),  # better bid 100.00 pushes 99.98 out of the window
        (34203.0, 5, 0, 7, 1000050, 1),  # hidden execution against a buy: seller-initiated
    ]
    books = [
        (1000100, 100, 999800, 20, 1000200, 5, EMPTY_BID, 0),
        (1000100, 100, 999900, 50, 1000200, 5, 999800, 20),
        (1000100, 70, 999900, 50, 1000200, 5, 999800, 20),
        (1000100, 70, 1000000, 10, 1000200, 5, 999900, 50),
        (1000100, 70, 1000000, 10, 1000200, 5, 999900, 50),
    ]
    m, _ = _write(tmp_path, msgs, books)
    conv = convert_lobster(m)
    ev = conv.events
    assert conv.instruments[0].symbol == "TEST"
    # 2012-06-21 09:30 EDT == 13:30 UTC
    assert ev["recv_ts"][0] == 1340285400_000000001 and np.array_equal(ev["exch_ts"], ev["recv_ts"])
    # snapshot batch: CLEAR + 3 levels, all flagged SNAPSHOT, last one ends the batch
    assert ev["type"][:4].tolist() == [CLEAR, DEPTH, DEPTH, DEPTH]
    assert np.all(ev["flags"][:4] & SNAPSHOT) and ev["flags"][3] & END_OF_BATCH
    assert not np.any(ev["flags"][4:] & SNAPSHOT)
    trades = ev[ev["type"] == TRADE]
    assert trades["side"].tolist() == [BID, ASK]
    assert trades["v"][:, 0].tolist() == [10001, 10001]  # 100.005 rounds half up and trades["v"][:, 1].tolist() == [30, 7]
    assert conv.report["off_grid_trade_prices"] == 1  # 100.005 is a sub-penny hidden print
    # row 3: 99.98 leaves the 2-level window -> deleted; TRADE comes first in its batch
    row_end = conv.extra["row_end"]
    best = replay(ev)
    book = {}
    replay(ev[: row_end[3] + 1], book)
    assert book[0].levels(BID, 5) == [(10000, 10), (9999, 50)]
    assert book[0].levels(ASK, 5) == [(10001, 70), (10002, 5)]
    assert best.bid_px[row_end].tolist() == [9998, 9999, 9999, 10000, 10000]
    assert ev["type"][row_end[1] + 1] == TRADE


def test_errors(tmp_path):
    m, o = _write(tmp_path, [(34200.1, 1, 1, 1, 100, 1)], [(1, 1, 1, 1), (1, 1, 1, 1)])
    with pytest.raises(DataFormatError, match="not a matching pair"):
        convert_lobster(m)
    lonely = tmp_path / "Q_2012-06-21_1_2_message_1.csv"
    lonely.write_text("34200.1,1,1,1,100,1\n")
    with pytest.raises(InputError, match="no orderbook file"):
        convert_lobster(lonely)
    bad = tmp_path / "B_2012-06-21_1_2_message_1.csv"
    bad.write_text("34200.1,1,1,1,100\n")
    (tmp_path / "B_2012-06-21_1_2_orderbook_1.csv").write_text("1,1,1,1\n")
    with pytest.raises(DataFormatError, match="5 columns, expected 6"):
        convert_lobster(bad)
    bad.write_text("34200.1,1,1,1,abc,1\n")
    with pytest.raises(InputError, match=r"message_1\.csv:1: message column 5 'abc' is not a number"):
        convert_lobster(bad)
    with pytest.raises(InputError, match="no such LOBSTER message file"):
        convert_lobster(tmp_path / "C_2012-06-21_1_2_message_1.csv", tmp_path / "B_2012-06-21_1_2_orderbook_1.csv")


def _load_book(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return np.loadtxt(fh, delimiter=",", dtype=np.int64)


def _levels_per_row(events, row_end, levels):
    """Replay once; after each message row record the L best levels of each side."""
    book = L2Book()
    n = len(row_end)
    bids = np.zeros((n, levels, 2), dtype=np.int64)
    asks = np.zeros((n, levels, 2), dtype=np.int64)
    types = events["type"].tolist()
    sides = events["side"].tolist()
    v0 = events["v"][:, 0].tolist()
    v1 = events["v"][:, 1].tolist()
    k = 0
    ends = row_end.tolist()
    for i in range(len(events)):
        if types[i] == DEPTH:
            book.set_level(sides[i], v0[i], v1[i])
        elif types[i] == CLEAR:
            book.clear()
        while k < n and ends[k] == i:
            for j, p in enumerate(heapq.nlargest(levels, book.bids)):
                bids[k, j] = (p, book.bids[p])
            for j, p in enumerate(heapq.nsmallest(levels, book.asks)):
                asks[k, j] = (p, book.asks[p])
            k += 1
    return bids, asks


CASES = [
    ("AAPL", 1, "csv"),
    ("GOOG", 1, "csv"),
    ("GOOG", 5, "csv"),
    ("GOOG", 10, "csv.gz"),
]


@pytest.mark.shared_data
@pytest.mark.parametrize("symbol,levels,ext", CASES)
def test_shared_sample_reproduces_lobster_book_every_row(shared, symbol, levels, ext):
    base = f"{symbol}_2012-06-21_34200000_57600000"
    msg = shared(*LOBSTER, f"{base}_message_{levels}.csv")
    ob_path = shared(*LOBSTER, f"{base}_orderbook_{levels}.{ext}")
    conv = convert_lobster(msg)
    ev = conv.events
    row_end = conv.extra["row_end"]
    raw = _load_book(ob_path)
    n = len(raw)
    assert len(row_end) == n and row_end[0] >= 0

    # 1) best bid/ask after every message, via the reference book's own best-price tracking
    best = replay(ev)
    ask_px = np.where(raw[:, 1] > 0, raw[:, 0] // 100, NO_ASK)
    bid_px = np.where(raw[:, 3] > 0, raw[:, 2] // 100, NO_BID)
    got = best.bid_px[row_end], best.bid_qty[row_end], best.ask_px[row_end], best.ask_qty[row_end]
    mismatch = (got[0] != bid_px) | (got[1] != raw[:, 3]) | (got[2] != ask_px) | (got[3] != raw[:, 1])
    assert not mismatch.any(), f"first mismatch at row {int(np.argmax(mismatch))} of {n}"

    # 2) every one of the L levels, every row
    bids, asks = _levels_per_row(ev, row_end, levels)
    exp_ask = np.stack([np.where(raw[:, 1::4] > 0, raw[:, 0::4] // 100, 0), raw[:, 1::4]], axis=2)
    exp_bid = np.stack([np.where(raw[:, 3::4] > 0, raw[:, 2::4] // 100, 0), raw[:, 3::4]], axis=2)
    assert np.array_equal(asks, exp_ask)
    assert np.array_equal(bids, exp_bid)

    # 3) trades: one per execution message, aggressor opposite to the resting order
    m = np.loadtxt(msg, delimiter=",")
    execs = np.isin(m[:, 1], (4, 5))
    trades = ev[ev["type"] == TRADE]
    assert len(trades) == execs.sum()
    assert np.array_equal(trades["side"], np.where(m[execs, 5] == 1, ASK, BID))
    assert not best.crossed()[row_end].any()
    assert np.all(np.diff(ev["recv_ts"]) >= 0)
