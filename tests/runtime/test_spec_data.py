"""The spec's backtest.data section for a user's own files (issue 10): one path still works;
lists, globs and files per instrument; converter options, and the rules that name an option or a
file that does not fit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stratforge.core.errors import SpecError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ci" / "backtest"))
from user_data_kit import user_spec  # noqa: E402


BOOK_SIGNALS = {"gap": "spread", "entry_long": "gap < 0.02", "exit_long": "gap > 0.05"}


def _issues(data: dict, **kw) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as err:
        user_spec(data, **kw)
    return [(i.path, i.message) for i in err.value.issues]


@pytest.mark.parametrize("path", [
    "data/kxa.sfe",                       # the old form: one repository-relative file
    "shared:daily/kxa.sfe",
    "/srv/market-data/kxa.sfe",           # absolute
    "~/md/kxa.sfe",
    "../captures/kxa-*.sfe",              # outside the repository, a glob
    ["day1/kxa.sfe", "day2/kxa.sfe"],     # a list
])
def test_path_forms_are_valid(path):
    spec = user_spec({"kind": "file", "format": "sfe", "path": path}).spec
    assert spec.backtest.data.path == path


def test_files_per_instrument_and_options_are_valid():
    data = {"kind": "file", "format": "bars-csv",
            "files": {"IDXA": "idx/a-*.csv", "IDXB": ["idx/b1.csv", "idx/b2.csv"]},
            "options": {"date_format": "%m/%d/%Y", "timezone": "America/Chicago",
                        "session_close": "15:15", "columns": {"ts": "Date", "close": "Last"},
                        "delimiter": ";", "interval": "1d"}}
    d = user_spec(data, symbols=("IDXA", "IDXB")).spec.backtest.data
    assert d.files["IDXB"] == ["idx/b1.csv", "idx/b2.csv"]
    assert d.options.columns == {"ts": "Date", "close": "Last"}


def test_path_and_files_together_or_neither_is_an_error():
    both = _issues({"kind": "file", "format": "sfe", "path": "a.sfe", "files": {"KXA": "b.sfe"}})
    assert ("backtest.data.path", "give path (one file, a glob or a list) or files (per "
            "instrument), not both and not neither") in both
    neither = _issues({"kind": "file", "format": "sfe"})
    assert any(p == "backtest.data.path" and "not neither" in m for p, m in neither)


def test_files_name_the_strategys_instruments():
    got = _issues({"kind": "file", "format": "sfe", "files": {"KXZ": "z.sfe"}})
    assert ("backtest.data.files.KXZ", "is not an instrument of the strategy (KXA)") in got


def test_options_that_do_not_apply_are_named_with_the_formats_they_fit():
    got = _issues({"kind": "file", "format": "sfe", "path": "a.sfe",
                   "options": {"date_format": "%d/%m/%Y", "market": "spot"}})
    assert ("backtest.data.options.date_format",
            "only applies to format bars-csv or quotes-csv or trades-csv, format is sfe") in got
    assert ("backtest.data.options.market", "only applies to format binance, format is sfe") in got


def test_bad_zone_unknown_column_and_conflicts():
    got = _issues({"kind": "file", "format": "trades-csv", "path": "t.csv",
                   "options": {"timezone": "Europe/Atlantis", "columns": {"open": "O",
                                                                          "symbol": "Sym"},
                               "symbol_column": "Ticker", "ts_unit": "ms",
                               "date_format": "%Y%m%d"}})
    paths = {p: m for p, m in got}
    assert "IANA" in paths["backtest.data.options.timezone"]
    assert "is not a column of format trades-csv" in paths["backtest.data.options.columns.open"]
    assert "columns.symbol" in paths["backtest.data.options.symbol_column"]
    assert "date_format replaces ts_unit" in paths["backtest.data.options.ts_unit"]


def test_lobster_orderbook_goes_with_one_message_file():
    got = _issues({"kind": "file", "format": "lobster", "path": ["a_message_5.csv", "b.csv"],
                   "orderbook_path": "a_orderbook_5.csv"}, signals=BOOK_SIGNALS)
    assert any(p == "backtest.data.orderbook_path" and "one message file" in m for p, m in got)
    ok = user_spec({"kind": "file", "format": "lobster", "path": "x_message_5.csv"},
                   signals=BOOK_SIGNALS).spec
    assert ok.backtest.data.orderbook_path is None  # found beside the message file


def test_control_characters_in_a_path_are_refused():
    got = _issues({"kind": "file", "format": "sfe", "path": "a\nb.sfe"})
    assert any(p == "backtest.data.path" and "control characters" in m for p, m in got)


def test_header_false_needs_column_positions():
    got = _issues({"kind": "file", "format": "trades-csv", "path": "t.csv",
                   "options": {"header": False, "columns": {"ts": "A", "price": "2"},
                               "symbol_column": "Ticker"}})
    paths = {p: m for p, m in got}
    assert "1-based column position" in paths["backtest.data.options.columns.ts"]
    assert "columns.symbol" in paths["backtest.data.options.symbol_column"]
    got = _issues({"kind": "file", "format": "trades-csv", "path": "t.csv",
                   "options": {"header": False}})
    assert any(p == "backtest.data.options.columns" and "at least ts" in m for p, m in got)


def test_signals_must_read_the_datas_kind_when_it_is_known_from_the_spec():
    got = _issues({"kind": "file", "format": "quotes-csv", "path": "q.csv"})  # dip buyer: close
    assert ("strategy.signals.ratio", "reads bar data but backtest.data is book data; use book "
            "and trade series (mid, bid, ask, spread, last, ...) or data of the other kind") in got
    # an .sfe file's kind is in its header: checked when the code is generated, not here
    assert user_spec({"kind": "file", "format": "sfe", "path": "q.sfe"}).spec
