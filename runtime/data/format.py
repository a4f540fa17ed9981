"""The ``.sfe`` market-data event file (version 1): numpy layout, writer and reader.

The layout is specified in ``docs/formats.md``; this module mirrors it field by field and asserts
every offset at import time, so a drift between the page and the code fails loudly. The C++
definition (``runtime/engine/include/sf/events.hpp``) mirrors the same page.

Writers sort records stably by ``recv_ts`` and write atomically: the bytes go to a temporary file
in the target directory, which is renamed over the target only when complete. Readers memory-map
the file and refuse it with a message naming the first mismatch.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import DataFormatError, InputError

MAGIC = b"SFEVENTS"
VERSION = 1
RECORD_SIZE = 64
HEADER_SIZE = 64
INSTRUMENT_SIZE = 64
MAX_INSTRUMENTS = 65535
SOURCE_LEN = 16
SYMBOL_LEN = 32

# Header flags.
HEADER_SORTED = 1

# Event types.
QUOTE = 1
DEPTH = 2
TRADE = 3
BAR = 4
CLEAR = 5
EVENT_TYPE_NAMES = {QUOTE: "QUOTE", DEPTH: "DEPTH", TRADE: "TRADE", BAR: "BAR", CLEAR: "CLEAR"}

# Sides.
SIDE_NONE = 0
BID = 1  # bid / buy
ASK = 2  # ask / sell
SIDE_NAMES = {SIDE_NONE: "none", BID: "bid", ASK: "ask"}

# Event flags.
SNAPSHOT = 1
END_OF_BATCH = 2

SCALE_E9 = 1_000_000_000

HEADER_DTYPE = np.dtype(
    [
        ("magic", "S8"),
        ("version", "<u4"),
        ("record_size", "<u4"),
        ("instrument_count", "<u4"),
        ("flags", "<u4"),
        ("event_count", "<u8"),
        ("first_recv_ts", "<i8"),
        ("last_recv_ts", "<i8"),
        ("source", f"S{SOURCE_LEN}"),
    ]
)

INSTRUMENT_DTYPE = np.dtype(
    [
        ("symbol", f"S{SYMBOL_LEN}"),
        ("tick_size_e9", "<i8"),
        ("lot_size_e9", "<i8"),
        ("bar_interval_ns", "<i8"),
        ("id", "<u4"),
        ("reserved", "<u4"),
    ]
)

EVENT_DTYPE = np.dtype(
    [
        ("exch_ts", "<i8"),
        ("recv_ts", "<i8"),
        ("type", "u1"),
        ("side", "u1"),
        ("instrument", "<u2"),
        ("flags", "<u4"),
        ("v", "<i8", (5,)),
    ]
)


def _check_layout(dtype: np.dtype, size: int, offsets: dict[str, int]) -> None:
    assert dtype.itemsize == size, f"Invariant: {dtype} itemsize {dtype.itemsize} != {size}"
    for name, off in offsets.items():
        got = dtype.fields[name][1]
        assert got == off, f"Invariant: field {name} at offset {got}, docs/formats.md says {off}"


_check_layout(
    HEADER_DTYPE,
    HEADER_SIZE,
    {
        "magic": 0,
        "version": 8,
        "record_size": 12,
        "instrument_count": 16,
        "flags": 20,
        "event_count": 24,
        "first_recv_ts": 32,
        "last_recv_ts": 40,
        "source": 48,
    },
)
_check_layout(
    INSTRUMENT_DTYPE,
    INSTRUMENT_SIZE,
    {"symbol": 0, "tick_size_e9": 32, "lot_size_e9": 40, "bar_interval_ns": 48, "id": 56, "reserved": 60},
)
_check_layout(
    EVENT_DTYPE,
    RECORD_SIZE,
    {"exch_ts": 0, "recv_ts": 8, "type": 16, "side": 17, "instrument": 18, "flags": 20, "v": 24},
)


def to_e9(value: str | int | float | Decimal, what: str) -> int:
    """Convert a decimal amount (``"0.01"``) to integer units of 1e-9, exactly.

    Floats are taken through ``repr`` so ``0.01`` means 0.01, not its binary approximation.
    """
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"{what} must be a decimal number, was {value!r}") from None
    scaled = dec * SCALE_E9
    if not dec.is_finite() or dec <= 0:
        raise InputError(f"{what} must be > 0, was {value!r}")
    if scaled != scaled.to_integral_value():
        raise InputError(f"{what} must be a multiple of 1e-9, was {value!r}")
    return int(scaled)


@dataclass(frozen=True)
class Instrument:
    """One row of the instrument table. ``tick_size`` and ``lot_size`` are decimal amounts."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    bar_interval_ns: int = 0

    def __init__(
        self,
        symbol: str,
        tick_size: str | int | float | Decimal,
        lot_size: str | int | float | Decimal = 1,
        bar_interval_ns: int = 0,
    ) -> None:
        if not symbol or not symbol.isascii() or len(symbol.encode()) > SYMBOL_LEN:
            raise InputError(f"symbol must be 1..{SYMBOL_LEN} ASCII characters, was {symbol!r}")
        if bar_interval_ns < 0:
            raise InputError(f"bar_interval_ns must be >= 0, was {bar_interval_ns}")
        tick_e9 = to_e9(tick_size, f"tick size of {symbol}")
        lot_e9 = to_e9(lot_size, f"lot size of {symbol}")
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "tick_size", Decimal(tick_e9) / SCALE_E9)
        object.__setattr__(self, "lot_size", Decimal(lot_e9) / SCALE_E9)
        object.__setattr__(self, "bar_interval_ns", int(bar_interval_ns))

    @property
    def tick_size_e9(self) -> int:
        return int(self.tick_size * SCALE_E9)

    @property
    def lot_size_e9(self) -> int:
        return int(self.lot_size * SCALE_E9)

    @classmethod
    def from_record(cls, rec: np.void) -> "Instrument":
        return cls(
            rec["symbol"].decode("ascii"),
            Decimal(int(rec["tick_size_e9"])) / SCALE_E9,
            Decimal(int(rec["lot_size_e9"])) / SCALE_E9,
            int(rec["bar_interval_ns"]),
        )


def empty_events(n: int) -> np.ndarray:
    """A zeroed event array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def instrument_table(instruments: Sequence[Instrument]) -> np.ndarray:
    if not 1 <= len(instruments) <= MAX_INSTRUMENTS:
        raise InputError(f"instrument count must be 1..{MAX_INSTRUMENTS}, was {len(instruments)}")
    symbols = [i.symbol for i in instruments]
    if len(set(symbols)) != len(symbols):
        raise InputError(f"instrument symbols must be unique, were {symbols}")
    table = np.zeros(len(instruments), dtype=INSTRUMENT_DTYPE)
    for k, ins in enumerate(instruments):
        table[k] = (ins.symbol.encode("ascii"), ins.tick_size_e9, ins.lot_size_e9, ins.bar_interval_ns, k, 0)
    return table


def _source_bytes(source: str) -> bytes:
    raw = source.encode("ascii", errors="replace")
    if len(raw) > SOURCE_LEN:
        raise InputError(f"source must be at most {SOURCE_LEN} ASCII characters, was {source!r}")
    return raw


class EventFileWriter:
    """Streams event chunks into a new ``.sfe`` file, atomically.

    Use as a context manager. Chunks must already be sorted by ``recv_ts`` and must not go back in
    time across chunks (``write_events`` sorts for you). On any exception the temporary file is
    removed and the target is left untouched.
    """

    def __init__(self, path: str | os.PathLike, instruments: Sequence[Instrument], source: str = "") -> None:
        self.path = Path(path)
        self._table = instrument_table(instruments)
        self._source = _source_bytes(source)
        self._count = 0
        self._first = 0
        self._last = 0
        self._fh = None
        self._tmp: str | None = None

    def __enter__(self) -> "EventFileWriter":
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.is_dir():
            raise InputError(f"output directory does not exist: {directory}")
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(bytes(HEADER_SIZE))  # placeholder, rewritten on close
        self._fh.write(self._table.tobytes())
        return self

    def append(self, events: np.ndarray) -> None:
        if events.dtype != EVENT_DTYPE:
            raise InputError(f"events must have EVENT_DTYPE, had {events.dtype}")
        if len(events) == 0:
            return
        ts = events["recv_ts"]
        if np.any(ts[1:] < ts[:-1]) or (self._count and ts[0] < self._last):
            raise InputError("Condition failed: event chunks must be sorted by recv_ts; use write_events")
        bad = events["instrument"] >= len(self._table)
        if np.any(bad):
            raise InputError(
                f"event {self._count + int(np.argmax(bad))} names instrument "
                f"{int(events['instrument'][np.argmax(bad)])}, table has {len(self._table)}"
            )
        if self._count == 0:
            self._first = int(ts[0])
        self._last = int(ts[-1])
        self._count += len(events)
        self._fh.write(np.ascontiguousarray(events).tobytes())

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                header = np.zeros(1, dtype=HEADER_DTYPE)
                header[0] = (
                    MAGIC,
                    VERSION,
                    RECORD_SIZE,
                    len(self._table),
                    HEADER_SORTED,
                    self._count,
                    self._first,
                    self._last,
                    self._source,
                )
                self._fh.seek(0)
                self._fh.write(header.tobytes())
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                os.replace(self._tmp, self.path)
                self._tmp = None
        finally:
            if self._fh is not None and not self._fh.closed:
                self._fh.close()
            if self._tmp is not None and os.path.exists(self._tmp):
                os.unlink(self._tmp)


def sort_events(events: np.ndarray) -> np.ndarray:
    """Stable sort by ``recv_ts``; returns the input itself when already sorted."""
    ts = events["recv_ts"]
    if len(ts) < 2 or not np.any(ts[1:] < ts[:-1]):
        return events
    return events[np.argsort(ts, kind="stable")]


def write_events(
    path: str | os.PathLike, instruments: Sequence[Instrument], events: np.ndarray, source: str = ""
) -> Path:
    """Write ``events`` (sorted stably by ``recv_ts`` first) to ``path`` atomically."""
    events = sort_events(np.asarray(events))
    with EventFileWriter(path, instruments, source=source) as w:
        w.append(events)
    return Path(path)


@dataclass
class EventFile:
    """An opened event file: header fields, instruments and the memory-mapped records."""

    path: Path
    header: np.void
    instruments: list[Instrument]
    events: np.ndarray  # np.memmap of EVENT_DTYPE (or an empty array)

    @property
    def source(self) -> str:
        return self.header["source"].rstrip(b"\0").decode("ascii", errors="replace")

    @property
    def sorted(self) -> bool:
        return bool(int(self.header["flags"]) & HEADER_SORTED)

    def __len__(self) -> int:
        return len(self.events)


def is_bar_file(path: str | os.PathLike) -> bool:
    """The event file holds bars (sf-replay's bar mode): its first event is a BAR. The
    converters and the synthetic generator write a file of one profile, bars or book."""
    ev = open_events(path).events
    return len(ev) > 0 and int(ev["type"][0]) == BAR


def open_events(path: str | os.PathLike, mode: str = "r") -> EventFile:
    """Memory-map an event file after validating its header and size."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such event file: {path}")
    size = path.stat().st_size
    if size < HEADER_SIZE:
        raise DataFormatError(f"{path}: file is {size} bytes, shorter than the {HEADER_SIZE}-byte header")
    with open(path, "rb") as fh:
        raw = fh.read(HEADER_SIZE)
        header = np.frombuffer(raw, dtype=HEADER_DTYPE)[0]
        if header["magic"] != MAGIC:
            raise DataFormatError(f"{path}: magic is {bytes(raw[:8])!r}, expected {MAGIC!r}; not an .sfe event file")
        if int(header["version"]) != VERSION:
            raise DataFormatError(f"{path}: version is {int(header['version'])}, this reader supports {VERSION}")
        if int(header["record_size"]) != RECORD_SIZE:
            raise DataFormatError(f"{path}: record_size is {int(header['record_size'])}, expected {RECORD_SIZE}")
        n = int(header["instrument_count"])
        if not 1 <= n <= MAX_INSTRUMENTS:
            raise DataFormatError(f"{path}: instrument_count is {n}, expected 1..{MAX_INSTRUMENTS}")
        count = int(header["event_count"])
        expected = HEADER_SIZE + INSTRUMENT_SIZE * n + RECORD_SIZE * count
        if expected != size:
            raise DataFormatError(
                f"{path}: file size is {size} bytes, header says {expected} "
                f"(64 + 64*{n} instruments + 64*{count} events); truncated or corrupt"
            )
        table = np.frombuffer(fh.read(INSTRUMENT_SIZE * n), dtype=INSTRUMENT_DTYPE)
    instruments = []
    for k, rec in enumerate(table):
        if int(rec["id"]) != k:
            raise DataFormatError(f"{path}: instrument {k} has id {int(rec['id'])}, expected {k}")
        try:
            instruments.append(Instrument.from_record(rec))
        except InputError as e:
            raise DataFormatError(f"{path}: instrument {k}: {e}") from None
    offset = HEADER_SIZE + INSTRUMENT_SIZE * n
    if count:
        events = np.memmap(path, dtype=EVENT_DTYPE, mode=mode, offset=offset, shape=(count,))
    else:
        events = np.zeros(0, dtype=EVENT_DTYPE)
    return EventFile(path=path, header=header, instruments=instruments, events=events)


def iter_batches(flags: np.ndarray) -> Iterable[tuple[int, int]]:
    """(start, stop) index pairs of END_OF_BATCH-delimited batches."""
    ends = np.flatnonzero(flags & END_OF_BATCH)
    start = 0
    for e in ends:
        yield start, int(e) + 1
        start = int(e) + 1
    if start < len(flags):
        yield start, len(flags)
