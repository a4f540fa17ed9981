"""runtime.data.sources: spec paths to files, the data kind from an .sfe header, merging parts."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.runtime.data.errors import DataFormatError, InputError
from stratforge.runtime.data.format import (BAR, EVENT_DTYPE, QUOTE, Instrument, write_events)
from stratforge.runtime.data.result import Converted
from stratforge.runtime.data.sources import events_kind, merge, resolve_paths


def _events(times, typ, inst=0):
    ev = np.zeros(len(times), dtype=EVENT_DTYPE)
    ev["recv_ts"] = ev["exch_ts"] = times
    ev["type"] = typ
    ev["instrument"] = inst
    ev["flags"] = 2
    return ev


def test_kind_comes_from_the_instrument_table(tmp_path):
    day = 86_400 * 10**9
    bars = write_events(tmp_path / "b.sfe", [Instrument("KXA", "0.01", 1, day)],
                        _events([day, 2 * day], BAR))
    book = write_events(tmp_path / "q.sfe", [Instrument("KXA", "0.01", 1)], _events([5, 6], QUOTE))
    assert (events_kind(bars), events_kind(book)) == ("bars", "book")
    mixed = write_events(tmp_path / "m.sfe", [Instrument("KXA", "0.01", 1, day),
                                              Instrument("KXB", "0.01", 1)], _events([5], QUOTE, 1))
    with pytest.raises(DataFormatError, match=r"mixes bar and book instruments \(KXA=bars, KXB=book\)"):
        events_kind(mixed)
    (tmp_path / "x.sfe").write_bytes(b"not an event file at all" * 4)
    with pytest.raises(DataFormatError, match="not an .sfe event file"):
        events_kind(tmp_path / "x.sfe")


def test_resolve_globs_lists_links_and_roots(tmp_path):
    md = tmp_path / "md"
    (md / "sub").mkdir(parents=True)
    for name in ("b.csv", "a.csv", "sub/c.csv"):
        (md / name).write_text("x\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link.csv").symlink_to(md / "b.csv")
    got = resolve_paths([str(md / "*.csv"), "link.csv", str(md / "**" / "c.csv")], repo)
    assert got == [md / "a.csv", md / "b.csv", md / "sub" / "c.csv"]  # b.csv once, via the link too
    with pytest.raises(InputError, match="outside the allowed data folders"):
        resolve_paths("link.csv", repo, roots=[repo])
    with pytest.raises(InputError, match="matches only folders"):
        resolve_paths(str(md / "su*"), repo)
    with pytest.raises(InputError, match="is not a regular file"):
        resolve_paths(str(md), repo)
    (repo / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    with pytest.raises(InputError, match="does not exist"):
        resolve_paths("dangling.csv", repo)


def test_merge_joins_symbols_and_keeps_time_order(tmp_path):
    a = Converted([Instrument("KXA", "0.01", 1)], _events([10, 30], QUOTE), "q", {"input": "a"})
    b = Converted([Instrument("KXB", "0.5", 1), Instrument("KXA", "0.01", 1)],
                  np.concatenate([_events([20], QUOTE, 0), _events([30, 40], QUOTE, 1)]), "q",
                  {"input": "b"})
    m = merge([a, b], "q")
    assert [i.symbol for i in m.instruments] == ["KXA", "KXB"]
    assert m.events["recv_ts"].tolist() == [10, 20, 30, 30, 40]
    assert m.events["instrument"].tolist() == [0, 1, 0, 0, 0]
    clash = Converted([Instrument("KXA", "0.05", 1)], _events([50], QUOTE), "q", {"input": "c"})
    with pytest.raises(InputError, match="KXA has tick 0.05.*earlier file has 0.01"):
        merge([a, clash], "q")
