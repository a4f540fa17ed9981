"""A user's own data from the shared data folders (skipped when ../shared/data is absent):
a two-file Binance capture as a glob, two daily series per instrument with their own column
names, and a data file named by an absolute path outside the repository."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stratforge.ci.backtest.data import prepare_data
from stratforge.runtime.data.spec_data import data_kind
from stratforge.runtime.data.format import BAR, DEPTH, TRADE, open_events

from backtest_kit import REPO
from user_data_kit import user_spec

pytestmark = pytest.mark.shared_data

BINANCE = "binance-l2-trades-hftbacktest-2024-08-08"
ZIPLINE = "daily-us-stocks-corporate-actions-zipline"
YAHOO = "daily-us-stocks-yahoo-backtrader"
MIDNIGHT = int(dt.datetime(2024, 8, 9, tzinfo=dt.timezone.utc).timestamp()) * 10**9


@pytest.mark.parametrize("prefix,symbol,lot", [("spot_ethusdt", "ETHUSDT", "0.0001"),
                                               ("cm_ethusd_perp", "ETHUSD_PERP", "1")])
def test_two_day_binance_capture_as_a_glob(shared_data, tmp_path, prefix, symbol, lot):
    """Issue 10: "a two-day capture must be pre-merged by hand" (spot, and a perpetual)."""
    spec = user_spec({"kind": "file", "format": "binance",
                      "path": f"shared:{BINANCE}/{prefix}_2024080*.gz"}, symbols=(symbol,),
                     tick="0.01", lot=lot, qty=lot,
                     signals={"gap": "spread", "entry_long": "gap > 0.05",
                              "exit_long": "gap < 0.02"}).spec
    assert data_kind(spec, REPO) == "book"
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    assert p.profile == "l2" and set(np.unique(ev["type"]).tolist()) >= {DEPTH, TRADE}
    assert ev["recv_ts"][0] < MIDNIGHT < ev["recv_ts"][-1]  # both files, one session
    assert np.all(np.diff(ev["recv_ts"]) >= 0)
    one = user_spec({"kind": "file", "format": "binance",
                     "path": f"shared:{BINANCE}/{prefix}_20240808.gz"}, symbols=(symbol,),
                    tick="0.01", lot=lot, qty=lot,
                    signals={"gap": "spread", "entry_long": "gap > 0.05",
                             "exit_long": "gap < 0.02"}).spec
    first = prepare_data(one, repo_root=REPO, cache_dir=tmp_path)
    assert first.events < p.events and first.end_ns <= MIDNIGHT + 10**9


def test_two_daily_series_per_instrument_with_their_column_names(shared_data, tmp_path):
    """A pair on two stocks, one file each, in zipline's csvdir layout (date,open,...,split):
    read through column names and a date format, bars ending at the 16:00 New York close."""
    data = {"kind": "file", "format": "bars-csv",
            "files": {"KO": f"shared:{ZIPLINE}/KO.csv.gz", "IBM": f"shared:{ZIPLINE}/IBM.csv.gz"},
            "options": {"layout": "generic", "columns": {"ts": "date"},
                        "date_format": "%Y-%m-%d", "session_close": "16:00",
                        "timezone": "America/New_York"}}
    spec = user_spec(data, symbols=("KO", "IBM")).spec
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ef = open_events(p.path)
    ev = np.array(ef.events)
    assert p.profile == "bars" and np.all(ev["type"] == BAR) and len(ev) == 2 * 754
    assert [i.symbol for i in ef.instruments] == ["KO", "IBM"]
    ko, ibm = (ev[ev["instrument"] == k]["exch_ts"] for k in (0, 1))
    assert np.array_equal(ko, ibm)  # same trading days
    assert ko[0] == int(dt.datetime(2012, 1, 3, 21, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    assert ef.instruments[0].bar_interval_ns == 86_400 * 10**9


def test_an_absolute_path_outside_the_repository(shared_data, tmp_path):
    path = (shared_data / YAHOO / "orcl-1995-2014.txt").resolve()
    spec = user_spec({"kind": "file", "format": "bars-csv", "path": str(path)},
                     symbols=("ORCL",), tick="0.000001").spec
    p = prepare_data(spec, repo_root=tmp_path / "elsewhere", cache_dir=tmp_path / "c")
    assert p.events == 5036 and p.profile == "bars"


def test_a_trade_file_without_a_header(shared_data, tmp_path):
    """bitcoincharts' CSV has no header row: unix seconds, price, amount."""
    data = {"kind": "file", "format": "trades-csv",
            "path": "shared:bitstamp-btcusd-trades-2011-2012-pyalgotrade/bitstampUSD.csv",
            "options": {"header": False, "ts_unit": "s",
                        "columns": {"ts": "1", "price": "2", "qty": "3"}}}
    spec = user_spec(data, symbols=("BTCUSD",), tick="0.00001", lot="0.00000001", qty="0.5",
                     signals={"px": "last", "entry_long": "px < 4", "exit_long": "px > 6"}).spec
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    # 9,999 rows, one a zero-size print (line 8524), which is dropped
    assert p.profile == "l2" and len(ev) == 9_998 and np.all(ev["type"] == TRADE)
    assert ev["recv_ts"][0] == int(dt.datetime(2011, 9, 13, 13, 53, 36,
                                               tzinfo=dt.timezone.utc).timestamp()) * 10**9


def test_a_lobster_level5_book_of_another_ticker(shared_data, tmp_path):
    """GOOG's level-5 sample through a glob; the orderbook file is found beside the message
    file, and the data kind is book."""
    spec = user_spec({"kind": "file", "format": "lobster",
                      "path": "shared:lobster-nasdaq-sample-2012-06-21/GOOG_*_message_5.csv"},
                     symbols=("GOOG",), tick="0.01",
                     signals={"gap": "spread", "entry_long": "gap < 0.02",
                              "exit_long": "gap > 0.1"}).spec
    assert data_kind(spec, REPO) == "book"
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    assert p.profile == "l2" and np.count_nonzero(ev["type"] == TRADE) == 7_765 + 3_913
    # hidden executions at sub-penny prices are rounded to the tick, and the data step says so
    assert p.notes == ("GOOG_2012-06-21_34200000_57600000_message_5.csv: off grid trade prices 50",)
