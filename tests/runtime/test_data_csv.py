"""CSV converters on inline fixtures, plus the shared Yahoo/NinjaTrader bar files."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stratforge.runtime.data.book import replay
from stratforge.runtime.data.csvfmt import convert_bars_csv, convert_quotes_csv, convert_trades_csv, parse_interval
from stratforge.runtime.data.errors import InputError
from stratforge.runtime.data.format import ASK, BAR, BID, QUOTE, SIDE_NONE, TRADE, open_events


def utc_ns(*args) -> int:
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000


def test_quotes_multi_symbol(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(
        "ts,symbol,bid_px,bid_qty,ask_px,ask_qty\n"
        "1700000000.5,AAA,10.01,5,10.02,7\n"
        "1700000000.25,BBB,99.5,1,99.75,2\n"
        "\n"
        "1700000001,AAA,10.005,5,10.03,7\n"
    )
    c = convert_quotes_csv(p, ts_unit="s", tick_size="0.01")
    assert [i.symbol for i in c.instruments] == ["AAA", "BBB"]
    ev = c.events
    assert ev["type"].tolist() == [QUOTE] * 3
    assert ev["instrument"].tolist() == [1, 0, 0]  # sorted by time
    assert ev["recv_ts"][0] == 1_700_000_000_250_000_000
    assert ev["v"][1, :4].tolist() == [1001, 5, 1002, 7]
    assert c.report["off_grid_prices"] == 1  # 10.005
    best = replay(ev)
    assert best.bid_px[-1] == 1001 or best.bid_px[-1] == 1000


def test_quotes_symbol_filter_and_iso(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("ts,symbol,bid_px,bid_qty,ask_px,ask_qty,recv_ts\n"
                 "2024-01-02 09:30:00.5,AAA,1,1,2,1,2024-01-02T09:30:00.6Z\n"
                 "2024-01-02 09:30:01,BBB,1,1,2,1,2024-01-02T09:30:01.1Z\n")
    c = convert_quotes_csv(p, symbol="AAA", ts_unit="iso", tick_size="1")
    assert len(c.events) == 1 and c.instruments[0].symbol == "AAA"
    assert c.events["exch_ts"][0] == utc_ns(2024, 1, 2, 9, 30) + 500_000_000
    assert c.events["recv_ts"][0] == utc_ns(2024, 1, 2, 9, 30) + 600_000_000


def test_trades(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ts,price,qty,side,trade_id\n1000,5.5,0.25,buy,11\n2000,5.25,0.5,S,12\n3000,5.5,1,,13\n")
    c = convert_trades_csv(p, symbol="X", ts_unit="ms", tick_size="0.25", lot_size="0.05")
    ev = c.events
    assert ev["type"].tolist() == [TRADE] * 3
    assert ev["side"].tolist() == [BID, ASK, SIDE_NONE]
    assert ev["v"][:, :3].tolist() == [[22, 5, 11], [21, 10, 12], [22, 20, 13]]
    assert ev["recv_ts"].tolist() == [1_000_000_000, 2_000_000_000, 3_000_000_000]
    assert c.report["unknown_side"] == 1


@pytest.mark.parametrize(
    "body,match",
    [
        ("ts,price,qty,side\n1,5,1,buy\n2,5,1\n", r"t\.csv:3: expected 4 fields, found 3"),
        ("ts,price,qty,side\n1,5,1,buy\n2,abc,1,buy\n", r"t\.csv:3: price 'abc' is not a number"),
        ("ts,price,qty,side\n1,5,1,buy\nxx,5,1,buy\n", r"t\.csv:3: ts 'xx' is not a number"),
        ("ts,price,qty,side\n1,5,1,up\n", r"t\.csv:2: side 'up'"),
        ("ts,price,qty\n1,5,-1\n", r"t\.csv:2: trade qty must be > 0"),
        ("ts,price,qty\n1,5,0.2\n", r"t\.csv:2: trade qty 0\.2 rounds to 0 lots of 1"),
        ("ts,px,qty\n1,5,1\n", r"no column 'price'"),
        ("", r"empty file"),
    ],
)
def test_malformed_rows_name_the_line(tmp_path, body, match):
    p = tmp_path / "t.csv"
    p.write_text(body)
    with pytest.raises(InputError, match=match):
        convert_trades_csv(p, symbol="X")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        convert_quotes_csv(tmp_path / "nope.csv", symbol="X")


YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2015-03-04,210.00,211.00,209.00,210.50,200.00,1000
2015-03-05,209.42,210.40,209.85,210.00,199.50,2000
2015-03-09,210.10,211.20,209.90,211.00,200.45,3000
"""


def test_yahoo_daily_bar_end_is_session_close(tmp_path):
    p = tmp_path / "spy.csv"
    p.write_text(YAHOO)
    c = convert_bars_csv(p, symbol="SPY")
    ev = c.events
    assert c.report["layout"] == "yahoo" and c.instruments[0].bar_interval_ns == 86_400 * 10**9
    # 16:00 New York: EST (UTC-5) before 2015-03-08, EDT (UTC-4) after
    assert ev["exch_ts"].tolist() == [utc_ns(2015, 3, 4, 21), utc_ns(2015, 3, 5, 21), utc_ns(2015, 3, 9, 20)]
    assert np.array_equal(ev["recv_ts"], ev["exch_ts"])
    assert ev["type"].tolist() == [BAR] * 3
    assert ev["v"][1].tolist() == [20942, 21040, 20985, 21000, 2000]
    # the vendor row with low above open is kept and flagged, not fatal
    assert c.report["inconsistent_ohlc"] == 1 and c.report["inconsistent_ohlc_rows"] == ["2015-03-05"]
    adj = convert_bars_csv(p, symbol="SPY", adjust=True)
    assert adj.events["v"][0, 3] == 20000


def test_ninjatrader_minute_bars(tmp_path):
    p = tmp_path / "nt.csv"
    p.write_bytes(b"20110103 143100;126.35;126.39;126.30;126.39;1579\r\n20110103 143200;126.45;126.45;126.45;126.45;300\r\n"
                  b"20110103 143500;126.5;126.6;126.4;126.41;10\r\n")
    c = convert_bars_csv(p, symbol="SPY")
    assert c.report["layout"] == "ninjatrader"
    assert c.events["exch_ts"][0] == utc_ns(2011, 1, 3, 14, 31)  # the row time is the bar end, UTC
    assert c.instruments[0].bar_interval_ns == 60 * 10**9
    assert c.events["v"][0].tolist() == [12635, 12639, 12630, 12639, 1579]
    p.write_bytes(b"20110103 143100;126.35;126.39;126.30;126.39;1579\r\n2011-01-03 14:32;1;1;1;1;1\r\n")
    with pytest.raises(InputError, match=r"nt\.csv:2: time '2011-01-03 14:32' is not 'YYYYMMDD HHMMSS'"):
        convert_bars_csv(p, symbol="SPY", layout="ninjatrader")


def test_generic_bars_start_label(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("ts,symbol,open,high,low,close,volume\n0,A,1,2,0.5,1.5,10\n300,A,1.5,2,1,1,5\n0,B,3,3,3,3,1\n")
    c = convert_bars_csv(p, ts_unit="s", ts_label="start", interval="5m", tick_size="0.5")
    assert [i.symbol for i in c.instruments] == ["A", "B"]
    assert c.events["exch_ts"].tolist() == [300 * 10**9, 300 * 10**9, 600 * 10**9]
    assert c.events["instrument"].tolist() == [0, 1, 0]


def test_bars_unknown_layout(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="unknown bars layout"):
        convert_bars_csv(p)


def test_parse_interval():
    assert parse_interval("1min") == parse_interval("60s") == 60 * 10**9
    assert parse_interval("1d") == 86_400 * 10**9
    with pytest.raises(InputError):
        parse_interval("fast")


@pytest.mark.shared_data
def test_shared_yahoo_spy_vendor_errors_flagged(shared, tmp_path):
    p = shared("daily-us-stocks-yahoo-mplfinance", "yahoofinance-SPY-20080101-20180101.csv")
    c = convert_bars_csv(p, symbol="SPY", tick_size="0.000001")
    assert c.report["rows"] == 2519 and c.report["off_grid_prices"] == 0
    assert c.report["inconsistent_ohlc_rows"] == ["2015-03-05", "2015-03-30"]
    f = open_events(c.write(tmp_path / "spy.sfe"))
    assert len(f) == 2519 and f.instruments[0].bar_interval_ns == 86_400 * 10**9


@pytest.mark.shared_data
def test_shared_ninjatrader_spy_regular_session(shared):
    p = shared("spy-minute-bars-2011-01-pyalgotrade", "nt-spy-minute-2011.csv")
    c = convert_bars_csv(p, symbol="SPY")
    ev = c.events
    assert c.report["rows"] == 14_180 and c.report["inconsistent_ohlc"] == 0
    ends = ev["exch_ts"]
    # regular-session bars end 14:31..21:00 UTC: 390 a day over 20 days
    tod = (ends // 10**9) % 86_400
    assert np.count_nonzero((tod >= 14 * 3600 + 31 * 60) & (tod <= 21 * 3600)) == 7_800
