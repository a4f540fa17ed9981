"""CSV converters on a user's own files: two-symbol files, other date layouts, column names,
time zones, and every malformed row reported at once (issue 10)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stratforge.runtime.data.csvfmt import (CsvOptions, convert_bars_csv, convert_quotes_csv,
                                            convert_trades_csv)
from stratforge.runtime.data.errors import MAX_ROW_ERRORS, InputError, MalformedRowsError
from stratforge.runtime.data.summary import info


def utc_ns(*args) -> int:
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000


def _two_symbol_bars(n: int, blocks: bool) -> str:
    """Daily bars of two symbols on the same dates: rows by date (both symbols each day) or one
    block per symbol."""
    rows = ["ts,symbol,open,high,low,close,volume"]
    cells = [(d, sym, base) for d in range(n) for sym, base in (("KXA", 41.0), ("KXB", 7.5))]
    if blocks:
        cells.sort(key=lambda c: c[1])
    for d, sym, base in cells:
        t = 1_300_000_000 + d * 86_400
        px = base + 0.25 * (d % 5)
        rows.append(f"{t},{sym},{px},{px + 0.5},{px - 0.5},{px + 0.25},{100 + d}")
    return "\n".join(rows) + "\n"


def test_duplicate_times_are_counted_per_symbol(tmp_path):
    """Issue 10: "duplicate_times 5031" for a two-symbol CSV whose times are unique per symbol."""
    p = tmp_path / "two.csv"
    p.write_text(_two_symbol_bars(37, blocks=False))
    c = convert_bars_csv(p, ts_unit="s", tick_size="0.01")
    assert [i.symbol for i in c.instruments] == ["KXA", "KXB"]
    assert (c.report["duplicate_times"], c.report["unsorted_rows"]) == (0, 0)
    p.write_text(_two_symbol_bars(37, blocks=True))
    c = convert_bars_csv(p, ts_unit="s", tick_size="0.01")
    assert (c.report["duplicate_times"], c.report["unsorted_rows"]) == (0, 0)  # KXB starting over
    # a real duplicate within one symbol is still counted, once
    lines = p.read_text().splitlines()
    lines.insert(5, lines[4])
    p.write_text("\n".join(lines) + "\n")
    assert convert_bars_csv(p, ts_unit="s", tick_size="0.01").report["duplicate_times"] == 1


def test_quotes_and_trades_order_stats_are_per_symbol(tmp_path):
    q = tmp_path / "q.csv"
    q.write_text("ts,symbol,bid_px,bid_qty,ask_px,ask_qty\n"
                 "5,AB,1,1,2,1\n6,AB,1,1,2,1\n5,CD,3,1,4,1\n6,CD,3,1,4,1\n6,CD,3,2,4,1\n")
    rep = convert_quotes_csv(q, ts_unit="s", tick_size="1").report
    assert (rep["duplicate_times"], rep["unsorted_rows"]) == (1, 0)
    t = tmp_path / "t.csv"
    t.write_text("ts,symbol,price,qty\n9,AB,1,1\n10,AB,1,1\n9,CD,3,1\n8,CD,3,1\n")
    rep = convert_trades_csv(t, ts_unit="s", tick_size="1").report
    assert (rep["duplicate_times"], rep["unsorted_rows"]) == (0, 1)


def test_every_malformed_row_is_reported_at_once(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ts,price,qty,side\n"
                 "1,5,1,buy\n"        # 2 ok
                 "2,abc,1,buy\n"      # 3 bad price
                 "3,5,1\n"            # 4 too few fields
                 "x4,5,1,sell\n"      # 5 bad ts
                 "5,5,1,up\n"         # 6 bad side
                 "6,5,1,sell\n")      # 7 ok
    with pytest.raises(MalformedRowsError) as err:
        convert_trades_csv(p, symbol="ZZ")
    assert [line for line, _ in err.value.rows] == [3, 4, 5, 6]
    text = str(err.value)
    assert text.startswith(f"{p}: 4 malformed rows")
    for line, what in ((3, "price 'abc' is not a number"), (4, "expected 4 fields, found 3"),
                       (5, "ts 'x4' is not a number"), (6, "side 'up'")):
        assert f"{p}:{line}: {what}" in text


def test_many_malformed_rows_are_capped_then_counted(tmp_path):
    p = tmp_path / "q.csv"
    body = ["ts,bid_px,bid_qty,ask_px,ask_qty"]
    body += [f"{k},1,1,oops,1" for k in range(MAX_ROW_ERRORS + 13)]
    p.write_text("\n".join(body) + "\n")
    with pytest.raises(MalformedRowsError) as err:
        convert_quotes_csv(p, symbol="QQ", tick_size="1")
    text = str(err.value)
    assert len(err.value.rows) == MAX_ROW_ERRORS + 13
    assert text.count("ask_px 'oops' is not a number") == MAX_ROW_ERRORS
    assert text.rstrip().endswith("... and 13 more")


INDEX_MDY = """Date,Open,High,Low,Close,Adj Close,Volume
1/4/1999,1229.23,1248.81,1219.10,1228.10,1228.10,0
1/5/1999,1228.10,1246.11,1228.10,1244.78,1244.78,0
7/6/1999,1391.22,1405.30,1386.75,1388.73,1388.73,0
"""


def test_yahoo_layout_with_month_day_year_dates(tmp_path):
    """Issue 10: index files with ``1/4/1999`` dates had to be rewritten by the user."""
    p = tmp_path / "idx.csv"
    p.write_text(INDEX_MDY)
    with pytest.raises(InputError, match=r"idx\.csv:2: Date '1/4/1999' is not YYYY-MM-DD"):
        convert_bars_csv(p, symbol="IDXA")
    c = convert_bars_csv(p, symbol="IDXA", options=CsvOptions(date_format="%m/%d/%Y"))
    # 16:00 New York: EST in January, EDT in July
    assert c.events["exch_ts"].tolist() == [utc_ns(1999, 1, 4, 21), utc_ns(1999, 1, 5, 21),
                                            utc_ns(1999, 7, 6, 20)]
    assert c.events["v"][0, 3] == 122810


def test_generic_bars_with_column_names_date_format_and_session_close(tmp_path):
    p = tmp_path / "idx2.csv"
    p.write_text("Day;Ticker;O;H;L;C\n"
                 "03/02/2021;IDXB;100.5;101;99.5;100\n"
                 "03/02/2021;IDXC;20.5;21;19.5;20\n"
                 "04/02/2021;IDXB;100;102;99;101.5\n"
                 "04/02/2021;IDXC;20;22;19;21.5\n")
    opts = CsvOptions(columns={"ts": "Day", "symbol": "Ticker", "open": "O", "high": "H",
                               "low": "L", "close": "C"},
                      date_format="%d/%m/%Y", tz="Europe/London", delimiter=";")
    c = convert_bars_csv(p, options=opts, session_close="16:30", tick_size="0.5")
    assert c.report["layout"] == "generic" and c.report["duplicate_times"] == 0
    assert [i.symbol for i in c.instruments] == ["IDXB", "IDXC"]
    assert c.events["exch_ts"].tolist() == [utc_ns(2021, 2, 3, 16, 30)] * 2 + [
        utc_ns(2021, 2, 4, 16, 30)] * 2
    assert c.instruments[0].bar_interval_ns == 86_400 * 10**9
    assert c.report["zero_volume"] == 4  # no volume column: volume 0, reported


def test_local_times_in_a_zone_and_strptime_errors_listed(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("when,px,size\n2024-03-08 09:30:00,10,1\n2024-03-11 09:30:00,11,1\n")
    opts = CsvOptions(columns={"ts": "when", "price": "px", "qty": "size"}, tz="America/Chicago")
    c = convert_trades_csv(p, symbol="CHX", ts_unit="iso", tick_size="1", options=opts)
    # CST (UTC-6) before the 2024-03-10 switch, CDT (UTC-5) after
    assert c.events["exch_ts"].tolist() == [utc_ns(2024, 3, 8, 15, 30), utc_ns(2024, 3, 11, 14, 30)]
    p.write_text("when,px,size\n08.03.2024,10,1\n2024-03-11,11,1\n31.02.2024,11,1\n")
    opts = CsvOptions(columns=opts.columns, date_format="%d.%m.%Y")
    with pytest.raises(MalformedRowsError) as err:
        convert_trades_csv(p, symbol="CHX", tick_size="1", options=opts)
    assert [line for line, _ in err.value.rows] == [3, 4]
    assert "does not match the date format '%d.%m.%Y'" in str(err.value)


def test_unknown_zone_and_unmapped_column_are_clear(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ts,price,qty\n2024-01-02 10:00,1,1\n")
    with pytest.raises(InputError, match="not an IANA zone"):
        convert_trades_csv(p, symbol="Z", ts_unit="iso", options=CsvOptions(tz="Mars/Base"))
    with pytest.raises(InputError, match=r"no column 'stamp' \(mapped from 'ts'\)"):
        convert_trades_csv(p, symbol="Z", ts_unit="iso", options=CsvOptions(columns={"ts": "stamp"}))


def test_a_file_without_a_header_row_read_by_column_positions(tmp_path):
    p = tmp_path / "ticks.csv"
    p.write_text("1300000000,5.25,0.5\n1300000000,5.5,1.25\n1300000007,5.0,2\n")
    opts = CsvOptions(columns={"ts": "1", "price": "2", "qty": "3"}, header=False)
    c = convert_trades_csv(p, symbol="KXT", ts_unit="s", tick_size="0.25", lot_size="0.25",
                           options=opts)
    assert c.events["v"][:, :2].tolist() == [[21, 2], [22, 5], [20, 8]]
    assert c.report["duplicate_times"] == 1 and c.report["unknown_side"] == 3
    p.write_text("1300000000,5.25,0.5\n1300000001,5.x,0.5\n")
    with pytest.raises(InputError, match=r"ticks\.csv:2: price '5\.x' is not a number"):
        convert_trades_csv(p, symbol="KXT", ts_unit="s", options=opts)


def test_zero_size_trades_are_dropped_and_reported(tmp_path):
    """Real trade files carry the odd zero-size print (the shared Bitstamp file has one)."""
    p = tmp_path / "t.csv"
    p.write_text("ts,price,qty\n1,5,1\n2,5,0\n3,5,0.000\n4,6,2\n")
    c = convert_trades_csv(p, symbol="KXT", ts_unit="s", tick_size="1")
    assert c.events["v"][:, 1].tolist() == [1, 2]
    assert c.report["zero_qty_dropped"] == 2 and c.report["zero_qty_lines"] == [3, 4]


def test_info_counts_duplicate_bar_ends_per_instrument(tmp_path):
    from_csv = tmp_path / "two.csv"
    from_csv.write_text(_two_symbol_bars(12, blocks=False))
    out = convert_bars_csv(from_csv, ts_unit="s", tick_size="0.01").write(tmp_path / "two.sfe")
    s = info(out)
    assert [i["duplicate_bar_ends"] for i in s["instruments"]] == [0, 0]


def test_a_blank_symbol_is_a_malformed_row(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("ts,symbol,bid_px,bid_qty,ask_px,ask_qty\n1,AB,1,1,2,1\n2,,1,1,2,1\n")
    with pytest.raises(MalformedRowsError, match=r"q\.csv:3: symbol '' must be 1\.\.32 ASCII"):
        convert_quotes_csv(p, ts_unit="s", tick_size="1")
