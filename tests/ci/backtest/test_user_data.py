"""A user's own data in a backtest (issue 10, item 4): the failures the user met, each
reproduced here, and the data features they needed (paths anywhere, several files merged in time
order, converter options in the spec, the data kind read from the file header)."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest

from stratforge.ci.backtest.data import prepare_data
from stratforge.ci.build import Workspace, build
from stratforge.core.errors import SpecError, StratforgeError, UserInputError
from stratforge.generator.generate import parity_market
from stratforge.generator.render.context import build_context
from stratforge.runtime.data.spec_data import DATA_ROOTS_ENV, data_kind
from stratforge.runtime.data.csvfmt import convert_bars_csv, convert_quotes_csv
from stratforge.runtime.data.format import BAR, QUOTE, open_events
from stratforge.runtime.data.sources import events_kind
from stratforge.sandbox.base import Reason, RunResult
from stratforge.sandbox.replay import DATA, ReplayError, run_replay

from user_data_kit import (spec_text, user_spec, write_quote_capture, write_two_symbol_bars,
                           write_yahoo_mdy)


def _bars_sfe(tmp_path, name="kxa.sfe"):
    csv = write_two_symbol_bars(tmp_path / "two.csv", 60)
    conv = convert_bars_csv(csv, ts_unit="s", symbol="KXA", tick_size="0.01")
    return conv.write(tmp_path / name)


# ------------------------------------------------------------------------------ data kind


def test_bars_sfe_is_bar_data_everywhere(tmp_path):
    """Issue 10: a converted .sfe of bars was treated as book data by the generator ("RenderError:
    signal 'ratio' reads bar data but the strategy's data is book")."""
    sfe = _bars_sfe(tmp_path)
    assert events_kind(sfe) == "bars"
    loaded = user_spec({"kind": "file", "format": "sfe", "path": str(sfe)})
    spec = loaded.spec
    assert data_kind(spec) == "bars"
    ctx = build_context(loaded, "b1")  # raised RenderError before
    assert ctx.data == "bars" and ctx.update_on == ("bar",) and ctx.price_series == "close"
    assert parity_market(spec)[0] == "bars"
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "cache")
    assert p.profile == "bars" and p.events == 60


def test_book_sfe_is_book_data_and_a_mixed_file_is_refused(tmp_path):
    q = write_quote_capture(tmp_path / "cap")[0]
    book = convert_quotes_csv(q, ts_unit="ms", tick_size="0.01").write(tmp_path / "q.sfe")
    assert events_kind(book) == "book"
    spec = user_spec({"kind": "file", "format": "sfe", "path": str(book)}, symbols=("KXQ",),
                     signals={"gap": "spread", "entry_long": "gap < 0.015",
                              "exit_long": "gap > 0.025"}).spec
    assert data_kind(spec) == "book"
    bars = _bars_sfe(tmp_path)
    both = user_spec({"kind": "file", "format": "sfe", "path": [str(book), str(bars)]}).spec
    with pytest.raises(UserInputError, match="mix bar and book data"):
        data_kind(both)


def test_override_of_the_other_kind_is_refused(tmp_path):
    q = write_quote_capture(tmp_path / "cap")[0]
    book = convert_quotes_csv(q, ts_unit="ms", tick_size="0.01").write(tmp_path / "q.sfe")
    spec = user_spec({"kind": "file", "format": "sfe", "path": str(_bars_sfe(tmp_path))}).spec
    with pytest.raises(UserInputError, match="holds book data but the strategy was generated "
                                             "for bars data"):
        prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c", override=book)


# ------------------------------------------------------------------------------ malformed rows


def test_malformed_csv_is_a_user_error_with_every_bad_line(tmp_path):
    """Issue 10: a malformed CSV given as backtest data ended in "internal error (a bug)"."""
    csv = write_two_symbol_bars(tmp_path / "two.csv", 30)
    lines = csv.read_text().splitlines()
    lines[4] = lines[4].replace(",KXA,", ",KXA,n/a-") if ",KXA," in lines[4] else lines[4] + ",9"
    lines[9] = "1459000000,KXB,1,2"
    csv.write_text("\n".join(lines) + "\n")
    spec = user_spec({"kind": "file", "format": "bars-csv", "path": "two.csv",
                      "options": {"ts_unit": "s"}}, symbols=("KXA", "KXB")).spec
    cache = tmp_path / "cache"
    with pytest.raises(UserInputError) as err:
        prepare_data(spec, repo_root=tmp_path, cache_dir=cache)
    text = str(err.value)
    assert isinstance(err.value, StratforgeError)  # the CLI prints it, no "internal error"
    assert f"{csv}:5:" in text and f"{csv}:10: expected 7 fields, found 4" in text
    assert not cache.exists() or not list(cache.glob("*.sfe"))  # nothing half-written


# ------------------------------------------------------------------------------ paths


def test_a_path_outside_the_repository_home_relative_and_through_a_symlink(tmp_path, monkeypatch):
    """Issue 10: data paths had to lie inside the repository."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "market-data"
    repo.mkdir()
    elsewhere.mkdir()
    f = write_yahoo_mdy(elsewhere / "IDXA.csv", 80, 1229.0)
    opts = {"date_format": "%m/%d/%Y"}
    absolute = user_spec({"kind": "file", "format": "bars-csv", "path": str(f), "options": opts},
                         symbols=("IDXA",)).spec
    a = prepare_data(absolute, repo_root=repo, cache_dir=tmp_path / "c")
    assert a.events == 80 and a.profile == "bars"
    monkeypatch.setenv("HOME", str(tmp_path))
    home = user_spec({"kind": "file", "format": "bars-csv", "path": "~/market-data/IDXA.csv",
                      "options": opts}, symbols=("IDXA",)).spec
    assert prepare_data(home, repo_root=repo, cache_dir=tmp_path / "c").source_hash == a.source_hash
    (repo / "data").symlink_to(elsewhere)
    linked = user_spec({"kind": "file", "format": "bars-csv", "path": "data/IDXA.csv",
                        "options": opts}, symbols=("IDXA",)).spec
    assert prepare_data(linked, repo_root=repo, cache_dir=tmp_path / "c").source_hash == a.source_hash
    # confined to allowed roots: a link that leads out of them is refused after resolution
    monkeypatch.setenv(DATA_ROOTS_ENV, str(repo))
    with pytest.raises(UserInputError, match="outside the allowed data folders"):
        prepare_data(linked, repo_root=repo, cache_dir=tmp_path / "c2")
    monkeypatch.setenv(DATA_ROOTS_ENV, os.pathsep.join([str(repo), str(elsewhere)]))
    assert prepare_data(linked, repo_root=repo, cache_dir=tmp_path / "c2").events == 80


def test_missing_files_and_empty_globs_name_where_they_were_looked_for(tmp_path):
    spec = user_spec({"kind": "file", "format": "quotes-csv", "path": "cap/capture-*.csv"},
                     symbols=("KXQ",), signals={"gap": "spread", "entry_long": "gap < 0.015",
                                                "exit_long": "gap > 0.025"}).spec
    with pytest.raises(UserInputError, match=r"'cap/capture-\*\.csv' matches no file in the "
                                             r"repository"):
        prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    spec = user_spec({"kind": "file", "format": "sfe", "path": "nope/kx.sfe"}).spec
    with pytest.raises(UserInputError, match="'nope/kx.sfe' does not exist in the repository"):
        data_kind(spec, tmp_path)


# ------------------------------------------------------------------------------ several files


def test_a_two_file_capture_as_a_glob_is_merged_in_time_order(tmp_path):
    """Issue 10: a two-day capture had to be pre-merged by hand."""
    files = write_quote_capture(tmp_path / "cap")
    spec = user_spec({"kind": "file", "format": "quotes-csv", "path": "cap/capture-*.csv",
                      "options": {"ts_unit": "ms"}}, symbols=("KXQ",),
                     signals={"gap": "spread", "entry_long": "gap < 0.015",
                              "exit_long": "gap > 0.025"}).spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    ev = np.array(open_events(p.path).events)
    assert len(ev) == 120 and np.all(ev["type"] == QUOTE)
    assert np.all(np.diff(ev["recv_ts"]) > 0)
    assert ev["recv_ts"][0] < dt.datetime(2025, 5, 7, tzinfo=dt.timezone.utc).timestamp() * 1e9 \
        < ev["recv_ts"][-1]
    # the same files as a list in the other order give the same stream
    listed = user_spec({"kind": "file", "format": "quotes-csv",
                        "path": [str(files[1]), str(files[0])], "options": {"ts_unit": "ms"}},
                       symbols=("KXQ",), signals={"gap": "spread",
                                                  "entry_long": "gap < 0.015",
                                                  "exit_long": "gap > 0.025"}).spec
    q = prepare_data(listed, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert q.path.read_bytes()[64:] == p.path.read_bytes()[64:]


def test_files_per_instrument_for_a_pair_of_index_series(tmp_path):
    """Two index files without a symbol column, one per leg, with m/d/yyyy dates."""
    write_yahoo_mdy(tmp_path / "a.csv", 70, 1229.0)
    write_yahoo_mdy(tmp_path / "b.csv", 70, 4180.0, first=dt.date(1999, 1, 11))
    data = {"kind": "file", "format": "bars-csv", "files": {"IDXA": "a.csv", "IDXB": "b.csv"},
            "options": {"date_format": "%m/%d/%Y", "session_close": "16:15"}}
    spec = user_spec(data, symbols=("IDXA", "IDXB")).spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    ef = open_events(p.path)
    assert [i.symbol for i in ef.instruments] == ["IDXA", "IDXB"] and p.profile == "bars"
    ev = np.array(ef.events)
    assert np.all(ev["type"] == BAR) and len(ev) == 140
    assert np.all(np.diff(ev["recv_ts"]) >= 0)
    first_b = ev[ev["instrument"] == 1]["exch_ts"][0]
    # 1999-01-11 16:15 New York (EST) = 21:15 UTC
    assert first_b == int(dt.datetime(1999, 1, 11, 21, 15, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    # one file for both legs, without a symbol column, cannot be split: the fix is named
    one = user_spec({**data, "files": None, "path": "a.csv"}, symbols=("IDXA", "IDXB")).spec
    with pytest.raises(UserInputError, match="no symbol column.*backtest.data.files"):
        prepare_data(one, repo_root=tmp_path, cache_dir=tmp_path / "c")


def test_a_two_symbol_csv_for_a_pair_uses_each_legs_tick(tmp_path):
    write_two_symbol_bars(tmp_path / "two.csv", 40)
    spec = user_spec({"kind": "file", "format": "bars-csv", "path": "two.csv",
                      "options": {"ts_unit": "s", "symbol_column": "symbol"}},
                     symbols=("KXA", "KXB")).spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    ef = open_events(p.path)
    assert sorted(i.symbol for i in ef.instruments) == ["KXA", "KXB"] and p.events == 80


# ------------------------------------------------------------------------------ sandbox


class _Recorder:
    """Records the sandbox request and refuses to run it (we only inspect the mounts)."""

    name = "recorder"

    def __init__(self):
        self.requests = []

    def available(self):
        return True, "ok"

    def run(self, request):
        self.requests.append(request)
        return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, (), "recorded")


def test_the_sandbox_sees_only_the_prepared_file_read_only(tmp_path):
    """User files stay outside the sandbox: the replay mounts the job folder and the one prepared
    .sfe file (resolved, read-only), never the user's data folder or a link into it."""
    elsewhere = tmp_path / "market-data"
    elsewhere.mkdir()
    write_yahoo_mdy(elsewhere / "IDXA.csv", 40, 980.0)
    spec = user_spec({"kind": "file", "format": "bars-csv", "path": str(elsewhere / "IDXA.csv"),
                      "options": {"date_format": "%m/%d/%Y"}}, symbols=("IDXA",)).spec
    prep = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "cache")
    link = tmp_path / "link.sfe"
    link.symlink_to(prep.path)
    (tmp_path / "plugin.so").write_bytes(b"\x7fELF")
    (tmp_path / "params.txt").write_text("x=1\n")
    rec = _Recorder()
    run_replay(rec, spec, plugin=tmp_path / "plugin.so", params=tmp_path / "params.txt",
               data=link, out_dir=tmp_path / "out", bar_mode=True)
    (req,) = rec.requests
    sources = {str(m.target): m for m in req.inputs}
    assert set(sources) == {"/job", str(DATA)}
    assert sources[str(DATA)].source == prep.path.resolve() and not sources[str(DATA)].writable
    assert not any(str(m.source).startswith(str(elsewhere)) for m in req.inputs)
    assert not sources["/job"].writable
    with pytest.raises(ReplayError, match="one regular .sfe file"):
        run_replay(rec, spec, plugin=tmp_path / "plugin.so", params=tmp_path / "params.txt",
                   data=elsewhere, out_dir=tmp_path / "out", bar_mode=True)


def test_sfe_files_per_instrument_take_only_their_symbol(tmp_path):
    csv = write_two_symbol_bars(tmp_path / "two.csv", 50)
    both = convert_bars_csv(csv, ts_unit="s", tick_size="0.01").write(tmp_path / "both.sfe")
    only_b = convert_bars_csv(csv, ts_unit="s", symbol="KXB", tick_size="0.01").write(
        tmp_path / "kxb.sfe")
    spec = user_spec({"kind": "file", "format": "sfe",
                      "files": {"KXA": "both.sfe", "KXB": "kxb.sfe"}}, symbols=("KXA", "KXB")).spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert p.events == 100 and [i.symbol for i in p.instruments] == ["KXA", "KXB"]
    wrong = user_spec({"kind": "file", "format": "sfe",
                       "files": {"KXA": "kxb.sfe", "KXB": "kxb.sfe"}}, symbols=("KXA", "KXB")).spec
    with pytest.raises(UserInputError, match="backtest.data.files.KXA: .*kxb.sfe has no "
                                             "instrument KXA"):
        prepare_data(wrong, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert both.exists()


def test_what_the_converter_changed_is_reported(tmp_path):
    """Off-grid prices (rounded to the tick) and dropped rows reach the data step's notes, from
    a fresh conversion and from the cache alike."""
    write_yahoo_mdy(tmp_path / "IDXA.csv", 30, 1229.0)
    spec = user_spec({"kind": "file", "format": "bars-csv", "path": "IDXA.csv",
                      "options": {"date_format": "%m/%d/%Y"}}, symbols=("IDXA",), tick="0.25").spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert len(p.notes) == 1 and p.notes[0].startswith("IDXA.csv: off grid prices ")
    again = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert again.cached and again.notes == p.notes


def test_a_corrupt_gzip_file_is_a_user_error(tmp_path):
    (tmp_path / "q.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not a gzip stream")
    spec = user_spec({"kind": "file", "format": "quotes-csv", "path": "q.csv.gz"},
                     symbols=("KXQ",), signals={"gap": "spread", "entry_long": "gap < 0.015",
                                                "exit_long": "gap > 0.025"}).spec
    with pytest.raises(UserInputError, match="backtest.data: cannot read"):
        prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")


def test_overlapping_files_are_merged_and_noted(tmp_path):
    files = write_quote_capture(tmp_path / "cap")
    (tmp_path / "cap" / "again.csv").write_text(files[0].read_text())  # the same hour twice
    spec = user_spec({"kind": "file", "format": "quotes-csv",
                      "path": ["cap/capture-*.csv", "cap/again.csv"],
                      "options": {"ts_unit": "ms"}}, symbols=("KXQ",),
                     signals={"gap": "spread", "entry_long": "gap < 0.015",
                              "exit_long": "gap > 0.025"}).spec
    p = prepare_data(spec, repo_root=tmp_path, cache_dir=tmp_path / "c")
    assert p.events == 180
    assert "KXQ: again.csv and capture-2025-05-06.csv overlap in time" in p.notes


def test_a_build_reports_bad_data_before_building_code(tmp_path, backend):
    """The data is prepared first: a malformed file stops the build at once, nothing generated."""
    csv = write_yahoo_mdy(tmp_path / "IDXA.csv", 40, 1229.0)
    lines = csv.read_text().splitlines()
    lines[3] = "1/7/1999,1,2"
    csv.write_text("\n".join(lines) + "\n")
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "idx-dip-buyer.yaml"
    spec.write_text(spec_text({"kind": "file", "format": "bars-csv", "path": "IDXA.csv",
                               "options": {"date_format": "%m/%d/%Y"}}, symbols=("IDXA",)))
    ws = Workspace.default(tmp_path, tmp_path / "build")
    with pytest.raises(UserInputError, match=r"IDXA\.csv:4: expected 7 fields, found 3"):
        build(spec, backend=backend, ws=ws, out_root=tmp_path / "strategies")
    assert not (tmp_path / "strategies").exists()


def test_bar_signals_on_book_data_is_a_user_error_naming_the_signal(tmp_path):
    """Known from the spec (a converted format): validation refuses it. In an .sfe file (kind in
    the header): generating the code refuses it, as a user error naming the signal."""
    with pytest.raises(SpecError, match=r"strategy.signals.ratio: reads bar data but "
                                        r"backtest.data is book data"):
        user_spec({"kind": "file", "format": "quotes-csv", "path": "cap/capture-*.csv"},
                  symbols=("KXQ",))  # the dip buyer reads close: bar data
    q = write_quote_capture(tmp_path / "cap")[0]
    book = convert_quotes_csv(q, ts_unit="ms", tick_size="0.01").write(tmp_path / "q.sfe")
    loaded = user_spec({"kind": "file", "format": "sfe", "path": str(book)}, symbols=("KXQ",))
    with pytest.raises(UserInputError, match=r"strategy.signals.ratio: reads bar data but "
                                             r"backtest.data is book data"):
        build_context(loaded, "b1")
