"""Binance capture conversion: inline fixtures for the sequencing rules, and the shared sample."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from stratforge.runtime.data.binance import check_book_ticker, convert_binance
from stratforge.runtime.data.book import replay
from stratforge.runtime.data.errors import DataFormatError, InputError
from stratforge.runtime.data.format import ASK, BID, CLEAR, DEPTH, END_OF_BATCH, SNAPSHOT, TRADE

BINANCE = "binance-l2-trades-hftbacktest-2024-08-08"


def _write(path, lines):
    with gzip.open(path, "wt") as fh:
        for ts, obj in lines:
            fh.write(f"{ts} {json.dumps(obj)}\n")
    return path


def _diff(U, u, b, a, pu=None, stream="xusdt@depth@100ms", E=5000):
    d = {"e": "depthUpdate", "E": E, "s": "XUSDT", "U": U, "u": u, "b": b, "a": a}
    if pu is not None:
        d["pu"] = pu
    return {"stream": stream, "data": d}


SNAP = {"lastUpdateId": 100, "bids": [["10.00", "1.5"], ["9.99", "2"]], "asks": [["10.01", "3"], ["10.02", "4"]]}


def test_spot_sequencing(tmp_path):
    lines = [
        (1000, _diff(90, 95, [["9.98", "1"]], [])),  # u <= L: dropped
        (1100, _diff(96, 102, [["10.00", "0"]], [])),  # buffered, bridges L+1 = 101
        (1200, SNAP),
        (1300, {"stream": "xusdt@trade", "data": {"s": "XUSDT", "t": 7, "p": "10.01", "q": "0.5", "T": 6000, "m": False}}),
        (1400, _diff(103, 104, [], [["10.01", "2.5"]])),
        (1500, _diff(106, 107, [["10.005", "1"]], [])),  # gap: 105 missing; off-grid price
        (1600, {"stream": "xusdt@bookTicker", "data": {"u": 104, "s": "XUSDT", "b": "9.99", "B": "2", "a": "10.01", "A": "2.5"}}),
    ]
    c = convert_binance([_write(tmp_path / "s.gz", lines)])
    r = c.report
    assert r["market"] == "spot" and r["tick_size"] == "0.001" and r["lot_size"] == "0.1"
    assert r["depth_dropped_before_sync"] == 1 and r["depth_applied"] == 3
    assert r["sequence_gaps"] == 1 and r["gaps"][0]["prev_u"] == 104 and r["gaps"][0]["U"] == 106
    ev = c.events
    assert ev["type"][0] == CLEAR and np.all(ev["flags"][:5] & SNAPSHOT) and ev["flags"][4] & END_OF_BATCH
    # the buffered diff comes right after the snapshot, at the snapshot's receive time
    assert ev["type"][5] == DEPTH and ev["recv_ts"][5] == 1200 and ev["v"][5, :2].tolist() == [10000, 0]
    t = ev[ev["type"] == TRADE][0]
    assert t["side"] == BID and t["v"][:3].tolist() == [10010, 5, 7] and t["exch_ts"] == 6000 * 10**6
    chk = check_book_ticker(c)
    assert chk["aligned"] == 1 and chk["aligned_price_match_rate"] == 1.0 and chk["crossed_batches"] == 0


def test_futures_sequencing_uses_pu(tmp_path):
    st = "xusdt@depth@0ms"
    lines = [
        (1000, {**SNAP, "E": 1, "T": 1}),
        (1100, _diff(95, 100, [["10.00", "2"]], [], pu=94, stream=st)),  # U <= L <= u
        (1200, _diff(101, 103, [], [["10.01", "0"]], pu=100, stream=st)),
        (1300, _diff(110, 111, [], [], pu=105, stream=st)),  # pu != prev u -> gap
    ]
    c = convert_binance([_write(tmp_path / "f.gz", lines)], tick_size="0.01", lot_size="0.5")
    assert c.report["market"] == "futures" and c.report["sequence_gaps"] == 1
    assert c.report["gaps"][0]["pu"] == 105
    best = replay(c.events)
    assert best.bid_px[-1] == 1000 and best.bid_qty[-1] == 4 and best.ask_px[-1] == 1002


def test_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no REST depth snapshot"):
        convert_binance([_write(tmp_path / "a.gz", [(1, _diff(1, 2, [], []))])])
    p = tmp_path / "b.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("123 {not json\n")
    with pytest.raises(InputError, match=r"b\.gz:1: not '<local_ts_ns> <json>'"):
        convert_binance([p])
    with pytest.raises(InputError, match="no such file"):
        convert_binance([tmp_path / "missing.gz"])


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "files,market,tick,lot",
    [
        (["spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"], "spot", "0.01", "0.000001"),
        (["usdm_btcusdt_20240808.gz"], "futures", "0.1", "0.001"),
        pytest.param(["cm_btcusd_perp_20240808.gz", "cm_btcusd_perp_20240809.gz"], "futures", "0.1", "1", marks=pytest.mark.slow),
    ],
)
def test_shared_capture_matches_book_ticker(shared, files, market, tick, lot):
    c = convert_binance([shared(BINANCE, f) for f in files])
    r = c.report
    assert (r["market"], r["tick_size"], r["lot_size"]) == (market, tick, lot)
    assert r["sequence_gaps"] == 0 and r["off_grid_prices"] == 0 and r["off_grid_qty"] == 0
    chk = check_book_ticker(c)
    assert chk["crossed_batches"] == 0 and chk["one_side_empty_batches"] == 0
    # bookTickers whose update id equals a diff's last update id see exactly that book.
    # Observed on this sample: 100 % (price and size) for every market.
    assert chk["aligned"] > 500
    assert chk["aligned_price_match_rate"] == 1.0
    assert chk["aligned_price_qty_match_rate"] == 1.0
    assert np.all(np.diff(c.events["recv_ts"]) >= 0)
    tr = c.events[c.events["type"] == TRADE]
    assert set(np.unique(tr["side"])) == {BID, ASK}
