"""Malformed rows of LOBSTER and Binance inputs: every bad row named as file:line, at once."""

from __future__ import annotations

import gzip
import json

import pytest

from stratforge.runtime.data.binance import convert_binance
from stratforge.runtime.data.errors import MalformedRowsError
from stratforge.runtime.data.lobster import convert_lobster


def test_lobster_bad_rows_are_listed(tmp_path):
    msg = tmp_path / "KXL_2023-03-14_34200000_57600000_message_1.csv"
    book = tmp_path / "KXL_2023-03-14_34200000_57600000_orderbook_1.csv"
    msg.write_text("34200.01,1,11,100,1012300,1\n34200.02,1,12,50,1012200,-1\n"
                   "34200.03,one,13,50,1012200,-1\n34200.04,1,14,7,10124OO,1\n")
    book.write_text("1012300,100,1012000,20\n1012300,100,1012200,50\n"
                    "1012300,100,1012200,100\n1012300,107,1012200,100\n")
    with pytest.raises(MalformedRowsError) as err:
        convert_lobster(msg, book)
    assert [line for line, _ in err.value.rows] == [3, 4]
    assert f"{msg}:3: message column 2 'one' is not a number" in str(err.value)


def _capture(path, lines):
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def test_binance_bad_lines_are_listed_and_skipped_lines_are_not_silent(tmp_path):
    t0 = 1_723_161_240_000_000_000
    snap = {"lastUpdateId": 10, "bids": [["100.0", "1.0"]], "asks": [["100.1", "2.0"]]}
    diff = {"stream": "kxusdt@depth@100ms", "data": {"e": "depthUpdate", "E": 1723161240100,
                                                      "s": "KXUSDT", "U": 11, "u": 12,
                                                      "b": [["100.0", "1.5"]], "a": []}}
    trade_bad = {"stream": "kxusdt@trade", "data": {"s": "KXUSDT", "p": "100.1", "q": "0.1"}}
    p = _capture(tmp_path / "cap.gz", [
        f"{t0} {json.dumps(snap)}",
        f"{t0 + 1} {json.dumps(diff)}",
        f"{t0 + 2} {{not json",
        f"{t0 + 3} {json.dumps(trade_bad)}",
        f"x{t0 + 4} {json.dumps(diff)}",
        f"{t0 + 5} [1, 2]",
    ])
    with pytest.raises(MalformedRowsError) as err:
        convert_binance([p], symbol="KXUSDT", tick_size="0.1", lot_size="0.1")
    assert [line for line, _ in err.value.rows] == [3, 4, 5, 6]
    text = str(err.value)
    assert f"{p}:4: malformed message: KeyError" in text and "4 malformed rows" in text
