"""The .sfe layout, writer and reader (docs/formats.md)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from stratforge.runtime.data import format as fmt
from stratforge.runtime.data.errors import DataFormatError, InputError
from stratforge.runtime.data.format import (
    ASK,
    BID,
    DEPTH,
    END_OF_BATCH,
    TRADE,
    EventFileWriter,
    Instrument,
    open_events,
    write_events,
)

REPO = Path(__file__).resolve().parents[2]


def _events(n: int, ts=None) -> np.ndarray:
    ev = fmt.empty_events(n)
    ev["recv_ts"] = np.arange(n) * 10 if ts is None else ts
    ev["exch_ts"] = ev["recv_ts"] - 1
    ev["type"] = DEPTH
    ev["side"] = np.where(np.arange(n) % 2, ASK, BID)
    ev["v"][:, 0] = 100 + np.arange(n)
    ev["v"][:, 1] = 7
    ev["flags"] = END_OF_BATCH
    return ev


def test_layout_matches_docs_tables():
    """Every field row of the three tables in docs/formats.md matches the numpy dtypes."""
    text = (REPO / "docs" / "formats.md").read_text()
    sections = {
        "FileHeader": fmt.HEADER_DTYPE,
        "InstrumentEntry": fmt.INSTRUMENT_DTYPE,
        "Event (64 bytes)": fmt.EVENT_DTYPE,
    }
    for title, dtype in sections.items():
        body = text.split(f"### {title}", 1)[1].split("###", 1)[0]
        rows = re.findall(r"^\| (\d+) \| (char\[\d+\]|[ui]\d+(?:\[\d+\])?) \| (\w+) \|", body, flags=re.M)
        assert rows, title
        assert [r[2] for r in rows] == list(dtype.names), title
        for off, typ, name in rows:
            assert dtype.fields[name][1] == int(off), (title, name)
            size = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i64": 8}.get(typ.split("[")[0])
            if size is not None:
                assert dtype.fields[name][0].base.itemsize == size, (title, name)
        assert dtype.itemsize == 64


def test_instrument_decimal_sizes():
    ins = Instrument("BTCUSDT", "0.01", "0.00001")
    assert ins.tick_size_e9 == 10_000_000
    assert ins.lot_size_e9 == 10_000
    assert Instrument("X", 0.01).tick_size == Decimal("0.01")
    with pytest.raises(InputError, match="multiple of 1e-9"):
        Instrument("X", "0.0000000001")
    with pytest.raises(InputError, match="must be > 0"):
        Instrument("X", "0")
    with pytest.raises(InputError, match="ASCII"):
        Instrument("X" * 33, "1")


def test_round_trip(tmp_path):
    ins = [Instrument("AAA", "0.01", "1"), Instrument("BBB", "0.5", "0.001", 60_000_000_000)]
    ev = _events(1000)
    ev["instrument"] = np.arange(1000) % 2
    path = write_events(tmp_path / "a.sfe", ins, ev, source="test")
    f = open_events(path)
    assert isinstance(f.events, np.memmap)
    assert f.instruments == ins
    assert f.source == "test" and f.sorted
    assert int(f.header["event_count"]) == 1000
    assert int(f.header["first_recv_ts"]) == 0 and int(f.header["last_recv_ts"]) == 9990
    np.testing.assert_array_equal(np.asarray(f.events), ev)
    assert path.stat().st_size == 64 + 64 * 2 + 64 * 1000


def test_writer_sorts_stably(tmp_path):
    ev = _events(6, ts=np.array([30, 10, 20, 10, 30, 10]))
    ev["v"][:, 2] = np.arange(6)  # original order marker
    f = open_events(write_events(tmp_path / "s.sfe", [Instrument("A", 1)], ev))
    assert f.events["recv_ts"].tolist() == [10, 10, 10, 20, 30, 30]
    assert f.events["v"][:, 2].tolist() == [1, 3, 5, 2, 0, 4]


def test_empty_file(tmp_path):
    f = open_events(write_events(tmp_path / "e.sfe", [Instrument("A", 1)], fmt.empty_events(0)))
    assert len(f) == 0 and int(f.header["first_recv_ts"]) == 0


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.sfe"
    write_events(target, [Instrument("A", 1)], _events(3))
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with EventFileWriter(target, [Instrument("A", 1)]) as w:
            w.append(_events(5))
            raise RuntimeError("boom")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sfe"]


def test_writer_refuses_unsorted_chunks_and_bad_instrument(tmp_path):
    with pytest.raises(InputError, match="sorted"):
        with EventFileWriter(tmp_path / "u.sfe", [Instrument("A", 1)]) as w:
            w.append(_events(3, ts=np.array([5, 6, 7])))
            w.append(_events(1, ts=np.array([1])))
    ev = _events(2)
    ev["instrument"][1] = 3
    with pytest.raises(InputError, match="instrument 3"):
        write_events(tmp_path / "i.sfe", [Instrument("A", 1)], ev)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def good_file(tmp_path) -> Path:
    return write_events(tmp_path / "g.sfe", [Instrument("A", 1)], _events(10))


def _patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_bad_magic(good_file):
    _patch(good_file, 0, b"NOTSFE!!")
    with pytest.raises(DataFormatError, match="magic is b'NOTSFE!!'"):
        open_events(good_file)


def test_bad_version(good_file):
    _patch(good_file, 8, np.uint32(2).tobytes())
    with pytest.raises(DataFormatError, match="version is 2"):
        open_events(good_file)


def test_wrong_record_size(good_file):
    _patch(good_file, 12, np.uint32(48).tobytes())
    with pytest.raises(DataFormatError, match="record_size is 48, expected 64"):
        open_events(good_file)


def test_truncated(good_file):
    good_file.write_bytes(good_file.read_bytes()[:-10])
    with pytest.raises(DataFormatError, match="truncated"):
        open_events(good_file)
    good_file.write_bytes(b"SFEV")
    with pytest.raises(DataFormatError, match="shorter than the 64-byte header"):
        open_events(good_file)


def test_trailing_bytes_and_count_mismatch(good_file):
    good_file.write_bytes(good_file.read_bytes() + bytes(64))
    with pytest.raises(DataFormatError, match="file size"):
        open_events(good_file)


def test_zero_instruments(good_file):
    _patch(good_file, 16, np.uint32(0).tobytes())
    with pytest.raises(DataFormatError, match="instrument_count is 0"):
        open_events(good_file)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such event file"):
        open_events(tmp_path / "nope.sfe")


def test_info_summary(tmp_path):
    from stratforge.runtime.data import info

    ev = _events(4, ts=np.array([10, 20, 30, 40]))
    ev["side"] = [BID, ASK, BID, ASK]
    ev["v"][:, 0] = [100, 102, 101, 103]
    ev[3]["type"] = TRADE
    s = info(write_events(tmp_path / "i.sfe", [Instrument("A", "0.5")], ev, source="t"))
    ins = s["instruments"][0]
    assert ins["counts"]["DEPTH"] == 3 and ins["counts"]["TRADE"] == 1
    assert ins["first_book"]["bid"] == "50.0" and ins["first_book"]["ask"] == "51.0"
    assert ins["last_book"]["bid"] == "50.5"
    assert s["source"] == "t" and s["events"] == 4
