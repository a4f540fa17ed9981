"""CSV converters: generic quotes, generic trades, and OHLCV bars (Yahoo daily, NinjaTrader
minute, generic). Layouts and conventions are documented in ``docs/data.md``.

Rows are read with the ``csv`` module (one pass, about a million rows a second), then every
column is converted with numpy. Malformed rows are reported with their file and line number, all
of them at once (up to ``MAX_ROW_ERRORS`` listed, then a count), before anything is converted.

``CsvOptions`` carries what a file's layout needs beyond the defaults: column names
(``columns``), a ``strptime`` date format, the time zone of local times, the delimiter.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np

from ._build import to_grid
from .errors import InputError, RowErrors, row_error
from .format import (ASK, BAR, BID, END_OF_BATCH, EVENT_DTYPE, QUOTE, SIDE_NONE, SYMBOL_LEN, TRADE,
                     Instrument)
from .result import Converted
from .timeutil import NS, local_times_utc_ns, parse_ts_column

from dataclasses import dataclass, field

DAY_NS = 86_400 * NS


class SymbolNotFound(InputError):
    """The symbol asked for has no row in the file's symbol column."""


def has_symbol_column(path: str | Path, options: "CsvOptions | None" = None) -> bool:
    """Whether the file's header has a symbol column (after ``options.columns``)."""
    opts = options or CsvOptions()
    if not opts.header:
        return "symbol" in opts.columns
    with _open(Path(path)) as fh:
        first = fh.readline().strip()
    cols = [c.strip().lower() for c in first.split(opts.delimiter)]
    return opts.columns.get("symbol", "symbol").strip().lower() in cols


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV file whose layout differs from the defaults (docs/data.md).

    ``columns`` maps a converter column name (``ts``, ``price``, ``symbol``, ``open`` ...) to the
    file's header name (or, with ``header=False``, to its 1-based position: ``"1"``); ``date_format`` is a ``strptime`` format for the time columns (it replaces
    the timestamp unit); ``tz`` is the zone of times written without an offset (UTC when None).
    """

    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    tz: str | None = None
    delimiter: str = ","
    header: bool = True  # False: no header row; ``columns`` gives 1-based positions ("1", "2")


class Table:
    """Columns of a CSV file as lists of strings, with the source line of every row.

    Bad values found while reading columns are collected in ``errors`` (every row, not only the
    first); a converter calls ``errors.raise_if_any()`` once all columns are read."""

    def __init__(self, path: Path, header: list[str] | None, rows: list[list[str]], lines,
                 errors: RowErrors | None = None, columns: dict[str, str] | None = None):
        self.path = path
        self.header = header
        self.rows = rows
        self.lines = lines
        self.errors = errors if errors is not None else RowErrors(path)
        self.columns = {k.lower(): v for k, v in (columns or {}).items()}
        self._cache: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def col(self, i: int) -> list[str]:
        if i not in self._cache:
            self._cache[i] = [r[i] for r in self.rows]
        return self._cache[i]

    def index(self, name: str, required: bool = True) -> int | None:
        assert self.header is not None
        names = [h.strip().lower() for h in self.header]
        want = self.columns.get(name, name).strip().lower()
        if want in names:
            return names.index(want)
        if required:
            mapped = f" (mapped from {name!r})" if name in self.columns else ""
            raise InputError(f"{self.path}: no column {want!r}{mapped} in header {self.header}")
        return None

    def floats(self, i: int, name: str) -> np.ndarray:
        values = self.col(i)
        try:
            return np.array(values, dtype=np.float64)
        except ValueError:
            out = np.full(len(values), np.nan)
            for k, v in enumerate(values):
                try:
                    out[k] = float(v)
                except ValueError:
                    self.errors.add(self.lines[k], f"{name} {v!r} is not a number")
            return out

    def times(self, i: int, unit: str, name: str = "ts", fmt: str | None = None,
              tz: str | None = None) -> np.ndarray:
        bad: list[tuple[int, str]] = []
        out = parse_ts_column(self.col(i), unit, name, fmt=fmt, tz=tz, bad=bad)
        for k, message in bad:
            self.errors.add(self.lines[k], message)
        return out


def _open(path: Path):
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), newline="")
    return open(path, "rt", newline="")


def read_table(path: str | Path, delimiter: str = ",", header: bool = True, ncols: int | None = None,
               columns: dict[str, str] | None = None) -> Table:
    """Read a delimited text file. Blank lines are skipped; every row must have the header's (or
    ``ncols``) column count (rows that do not are recorded in ``Table.errors`` and left out).
    Line numbers are 1-based physical lines (a quoted field spanning several lines shifts the
    numbers after it)."""
    path = Path(path)
    head = None
    with _open(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            raw = list(reader)
        except (csv.Error, UnicodeDecodeError) as e:
            raise row_error(path, reader.line_num, f"unreadable CSV: {e}") from None
    keep = [i for i, row in enumerate(raw) if row and not (len(row) == 1 and not row[0].strip())]
    if header:
        if not keep:
            raise InputError(f"{path}: empty file, expected a header row")
        head = [c.strip() for c in raw[keep[0]]]
        ncols = ncols or len(head)
        keep = keep[1:]
    elif columns is not None:  # no header row: columns are named by their 1-based position
        if not keep:
            raise InputError(f"{path}: empty file")
        ncols = ncols or len(raw[keep[0]])
        head = [str(i + 1) for i in range(ncols)]
    if len(keep) == len(raw) - (1 if header else 0):  # no blank lines: avoid copying
        rows = raw[1:] if header else raw
        lines = range(2 if header else 1, len(raw) + 1)
    else:
        rows = [raw[i] for i in keep]
        lines = [i + 1 for i in keep]
    errors = RowErrors(path)
    if rows:
        ncols = ncols or len(rows[0])
        widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        bad = np.flatnonzero(widths != ncols)
        if len(bad):
            for k in bad.tolist():
                errors.add(lines[k], f"expected {ncols} fields, found {len(rows[k])}: "
                                     f"{delimiter.join(rows[k])[:80]!r}")
            good = np.flatnonzero(widths == ncols).tolist()
            rows = [rows[k] for k in good]
            lines = [lines[k] for k in good]
    return Table(path, head, rows, lines, errors, columns)


def _symbols(table: Table, symbol: str | None) -> tuple[list[str], np.ndarray]:
    """Instrument symbols and the per-row instrument index (``symbol`` column or ``--symbol``)."""
    i = table.index("symbol", required=symbol is None)
    if i is None:
        return [symbol], np.zeros(len(table), dtype=np.uint16)
    col = np.array([s.strip() for s in table.col(i)])
    if symbol is not None:
        keep = col == symbol
        if not keep.any():
            raise SymbolNotFound(f"{table.path}: symbol {symbol!r} not found in the symbol column")
        table.rows = [r for r, k in zip(table.rows, keep) if k]
        table.lines = [ln for ln, k in zip(table.lines, keep) if k]
        table._cache.clear()
        return [symbol], np.zeros(len(table), dtype=np.uint16)
    uniq, inv = np.unique(col, return_inverse=True)
    names = [str(u) for u in uniq]
    for j, name in enumerate(names):
        if not name or not name.isascii() or len(name.encode()) > SYMBOL_LEN:
            for k in np.flatnonzero(inv == j).tolist():
                table.errors.add(table.lines[k], f"symbol {name!r} must be 1..{SYMBOL_LEN} "
                                                 "ASCII characters")
            names[j] = f"?{j}"  # placeholder; the errors stop the conversion
    return names, inv.astype(np.uint16)


def _per_instrument_grid(values: np.ndarray, inst: np.ndarray, instruments: list[Instrument], attr: str, what: str, stats: dict) -> np.ndarray:
    out = np.zeros(len(values), dtype=np.int64)
    for k, ins in enumerate(instruments):
        sel = inst == k
        out[sel] = to_grid(values[sel], getattr(ins, attr), what, stats)
    return out


def _recv(table: Table, exch: np.ndarray, unit: str, opts: CsvOptions) -> np.ndarray:
    i = table.index("recv_ts", required=False)
    return exch.copy() if i is None else table.times(i, unit, "recv_ts", opts.date_format, opts.tz)


def _order_stats(ts: np.ndarray, inst: np.ndarray) -> tuple[int, int]:
    """(repeated times, times that go back) counted per instrument, in file order: two symbols
    sharing a timestamp is not a duplicate, one symbol's rows following another's is not
    out of order."""
    dup = back = 0
    for k in np.unique(inst).tolist():
        d = np.diff(ts[inst == k])
        dup += int(np.count_nonzero(d == 0))
        back += int(np.count_nonzero(d < 0))
    return dup, back


def _options(options: CsvOptions | None, delimiter: str) -> CsvOptions:
    if options is None:
        return CsvOptions(delimiter=delimiter)
    return options


def convert_quotes_csv(
    path: str | Path,
    *,
    symbol: str | None = None,
    tick_size: str = "0.01",
    lot_size: str = "1",
    ts_unit: str = "ns",
    delimiter: str = ",",
    options: CsvOptions | None = None,
) -> Converted:
    """``ts[,symbol],bid_px,bid_qty,ask_px,ask_qty[,recv_ts]`` (header required) -> QUOTE events."""
    opts = _options(options, delimiter)
    table = read_table(path, opts.delimiter, header=opts.header, columns=opts.columns)
    names, inst = _symbols(table, symbol)
    stats: dict = {}
    exch = table.times(table.index("ts"), ts_unit, "ts", opts.date_format, opts.tz)
    recv = _recv(table, exch, ts_unit, opts)
    cols = {c: table.floats(table.index(c), c) for c in ("bid_px", "bid_qty", "ask_px", "ask_qty")}
    table.errors.raise_if_any()
    instruments = [Instrument(s, tick_size, lot_size) for s in names]
    ev = np.zeros(len(table), dtype=EVENT_DTYPE)
    ev["exch_ts"] = exch
    ev["recv_ts"] = recv
    ev["type"] = QUOTE
    ev["instrument"] = inst
    ev["flags"] = END_OF_BATCH
    ev["v"][:, 0] = _per_instrument_grid(cols["bid_px"], inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 1] = _per_instrument_grid(cols["bid_qty"], inst, instruments, "lot_size", "qty", stats)
    ev["v"][:, 2] = _per_instrument_grid(cols["ask_px"], inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 3] = _per_instrument_grid(cols["ask_qty"], inst, instruments, "lot_size", "qty", stats)
    both = (ev["v"][:, 1] > 0) & (ev["v"][:, 3] > 0)
    crossed = both & (ev["v"][:, 0] >= ev["v"][:, 2])
    dup, back = _order_stats(ev["recv_ts"], inst)
    report = {
        "input": str(path),
        "rows": len(table),
        "instruments": names,
        "crossed_quotes": int(crossed.sum()),
        "negative_qty": int(np.count_nonzero(ev["v"][:, [1, 3]] < 0)),
        "duplicate_times": dup,
        "unsorted_rows": back,
        **stats,
    }
    negative = np.flatnonzero((ev["v"][:, 1] < 0) | (ev["v"][:, 3] < 0))
    for k in negative.tolist():
        table.errors.add(table.lines[k], "negative quantity")
    table.errors.raise_if_any()
    return Converted(instruments, ev, "quotes-csv", report)


SIDE_WORDS = {
    "": SIDE_NONE, "0": SIDE_NONE, "none": SIDE_NONE, "unknown": SIDE_NONE, "n": SIDE_NONE,
    "buy": BID, "b": BID, "1": BID, "bid": BID, "bot": BID,
    "sell": ASK, "s": ASK, "2": ASK, "-1": ASK, "ask": ASK, "sld": ASK,
}


def convert_trades_csv(
    path: str | Path,
    *,
    symbol: str | None = None,
    tick_size: str = "0.01",
    lot_size: str = "1",
    ts_unit: str = "ns",
    delimiter: str = ",",
    options: CsvOptions | None = None,
) -> Converted:
    """``ts[,symbol],price,qty[,side][,trade_id][,recv_ts]`` (header required) -> TRADE events.

    ``side`` is the aggressor: buy/b/1/bid, sell/s/2/-1/ask, or empty/none/0 for unknown.
    """
    opts = _options(options, delimiter)
    table = read_table(path, opts.delimiter, header=opts.header, columns=opts.columns)
    names, inst = _symbols(table, symbol)
    stats: dict = {}
    exch = table.times(table.index("ts"), ts_unit, "ts", opts.date_format, opts.tz)
    recv = _recv(table, exch, ts_unit, opts)
    price = table.floats(table.index("price"), "price")
    qty = table.floats(table.index("qty"), "qty")
    side = np.zeros(len(table), dtype=np.uint8)
    si = table.index("side", required=False)
    if si is not None:
        uniq, inv = np.unique(np.array(table.col(si)), return_inverse=True)
        codes = np.zeros(len(uniq), dtype=np.uint8)
        for j, w in enumerate(uniq.tolist()):
            code = SIDE_WORDS.get(w.strip().lower())
            if code is None:
                for k in np.flatnonzero(inv == j).tolist():
                    table.errors.add(table.lines[k], f"side {w.strip()!r} is not one of "
                                                     "buy/sell/b/s/1/2/-1/none")
                code = SIDE_NONE
            codes[j] = code
        side = codes[inv]
    tid = np.zeros(len(table), dtype=np.int64)
    ti = table.index("trade_id", required=False)
    if ti is not None:
        tid = np.nan_to_num(table.floats(ti, "trade_id")).astype(np.int64)
    for k in np.flatnonzero(qty < 0).tolist():
        table.errors.add(table.lines[k], f"trade qty must be > 0, was {qty[k]}")
    table.errors.raise_if_any()
    # a trade of size 0 in the source (a vendor artifact) is dropped and reported, not fatal
    zero = qty == 0
    zero_lines = [table.lines[k] for k in np.flatnonzero(zero)[:10].tolist()]
    n_zero = int(zero.sum())
    if n_zero:
        keep = ~zero
        exch, recv, price, qty, side, tid, inst = (a[keep] for a in (exch, recv, price, qty, side, tid, inst))
        lines = [ln for ln, z in zip(table.lines, zero) if not z]
    else:
        lines = table.lines
    instruments = [Instrument(s, tick_size, lot_size) for s in names]
    ev = np.zeros(len(qty), dtype=EVENT_DTYPE)
    ev["exch_ts"] = exch
    ev["recv_ts"] = recv
    ev["type"] = TRADE
    ev["side"] = side
    ev["instrument"] = inst
    ev["flags"] = END_OF_BATCH
    ev["v"][:, 0] = _per_instrument_grid(price, inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 1] = _per_instrument_grid(qty, inst, instruments, "lot_size", "qty", stats)
    ev["v"][:, 2] = tid
    for k in np.flatnonzero(ev["v"][:, 1] <= 0).tolist():
        table.errors.add(lines[k], f"trade qty {qty[k]} rounds to 0 lots of {lot_size}; give a "
                                   "finer lot size")
    table.errors.raise_if_any()
    dup, back = _order_stats(ev["recv_ts"], inst)
    report = {
        "input": str(path),
        "rows": len(table),
        "instruments": names,
        "zero_qty_dropped": n_zero,
        "zero_qty_lines": zero_lines,
        "unknown_side": int(np.count_nonzero(side == SIDE_NONE)),
        "duplicate_times": dup,
        "unsorted_rows": back,
        **stats,
    }
    return Converted(instruments, ev, "trades-csv", report)


# ----------------------------------------------------------------------------------- bars

YAHOO_HEADER = ["date", "open", "high", "low", "close", "adj close", "volume"]
NT_LINE = re.compile(r"^\d{8} \d{6};")
INTERVAL_RE = re.compile(r"^(\d+)(ns|us|ms|s|m|min|h|d)$")
INTERVAL_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "min": 60 * NS, "h": 3600 * NS, "d": DAY_NS}


def parse_interval(text: str) -> int:
    """``60s``, ``1min``, ``5m``, ``1h``, ``1d`` -> ns."""
    m = INTERVAL_RE.match(text.strip().lower())
    if not m or int(m[1]) <= 0:
        raise InputError(f"bar interval must look like 60s, 1min, 5m, 1h or 1d; was {text!r}")
    return int(m[1]) * INTERVAL_UNITS[m[2]]


GENERIC_BAR_COLUMNS = ("ts", "open", "high", "low", "close")


def detect_bars_layout(path: str | Path, options: CsvOptions | None = None) -> str:
    path = Path(path)
    opts = options or CsvOptions()
    if not opts.header:
        return "generic"
    with _open(path) as fh:
        first = fh.readline().strip()
    cols = [c.strip().lower() for c in first.split(opts.delimiter)]
    if cols == YAHOO_HEADER:
        return "yahoo"
    if NT_LINE.match(first):
        return "ninjatrader"
    wanted = {opts.columns.get(c, c).strip().lower() for c in GENERIC_BAR_COLUMNS}
    if wanted <= set(cols):
        return "generic"
    raise InputError(
        f"{path}: unknown bars layout (first line {first[:60]!r}); expected Yahoo "
        f"'Date,Open,High,Low,Close,Adj Close,Volume', NinjaTrader 'YYYYMMDD HHMMSS;o;h;l;c;v' "
        f"or a header with ts,open,high,low,close[,volume] (map other names with columns)"
    )


def _mode_interval(ends: np.ndarray) -> int:
    d = np.diff(np.unique(ends))
    d = d[d > 0]
    if not len(d):
        raise InputError("cannot infer the bar interval from fewer than two distinct times; pass --interval")
    vals, counts = np.unique(d, return_counts=True)
    return int(vals[np.argmax(counts)])


def convert_bars_csv(
    path: str | Path,
    *,
    layout: str = "auto",
    symbol: str | None = None,
    tick_size: str = "0.01",
    lot_size: str = "1",
    interval: str | None = None,
    ts_unit: str = "ns",
    ts_label: str = "end",
    session_close: str | None = None,
    tz: str = "America/New_York",
    adjust: bool = False,
    recv_delay_ns: int = 0,
    options: CsvOptions | None = None,
) -> Converted:
    """OHLCV bars -> BAR events (``exch_ts`` = bar end, ``recv_ts`` = end + ``recv_delay_ns``).

    Layouts: ``yahoo`` (daily; bar end = ``session_close`` local time in ``tz`` on each date),
    ``ninjatrader`` (``YYYYMMDD HHMMSS;o;h;l;c;v``, UTC, the time is the bar end), ``generic``
    (header ``ts[,symbol],open,high,low,close,volume``, ``ts`` in ``ts_unit``, labelling the bar
    ``ts_label`` = end or start; ``volume`` optional). Rows whose OHLC is inconsistent (low above
    open/close, ...) are kept as they are and counted in the report.

    ``options``: column names, a ``strptime`` date format (Yahoo ``Date`` or generic ``ts``), the
    zone of local times (generic), the delimiter (generic). A generic file with a date format and
    a ``session_close`` is daily: each bar ends at ``session_close`` in ``tz`` on the row's date.
    """
    path = Path(path)
    opts = options or CsvOptions()
    if layout == "auto":
        layout = detect_bars_layout(path, opts)
    stats: dict = {}
    if layout == "yahoo":
        session_close = session_close or "16:00"
        tz = opts.tz or tz
        table = read_table(path, ",", header=True)
        if [h.lower() for h in (table.header or [])] != YAHOO_HEADER:
            raise InputError(f"{path}: header is {table.header}, expected Date,Open,High,Low,Close,Adj Close,Volume")
        sym = symbol or path.stem.split("-")[0].upper()
        names, inst = [sym], np.zeros(len(table), dtype=np.uint16)
        if opts.date_format:
            days = table.times(0, "iso", "Date", opts.date_format) // DAY_NS
            dates = days.astype("datetime64[D]")
        else:
            try:
                dates = np.array(table.col(0), dtype="datetime64[D]")
            except ValueError:
                dates = np.zeros(len(table), dtype="datetime64[D]")
                for k, v in enumerate(table.col(0)):
                    try:
                        dates[k] = np.datetime64(v, "D")
                    except ValueError:
                        table.errors.add(table.lines[k], f"Date {v!r} is not YYYY-MM-DD (give "
                                                         "date_format for other layouts)")
        try:
            hh, mm = (int(x) for x in session_close.split(":"))
        except ValueError:
            raise InputError(f"session close must be HH:MM, was {session_close!r}") from None
        ends = local_times_utc_ns(dates, hh * 3600 + mm * 60, tz)
        o, h, l, c, adj, vol = (table.floats(i, n) for i, n in enumerate(YAHOO_HEADER[1:], start=1))
        table.errors.raise_if_any()
        if adjust:
            factor = np.where(c > 0, adj / np.where(c > 0, c, 1), 1.0)
            o, h, l, c = o * factor, h * factor, l * factor, adj
        step = parse_interval(interval) if interval else DAY_NS
        labels = [str(d) for d in dates]
    elif layout == "ninjatrader":
        table = read_table(path, ";", header=False, ncols=6)
        if symbol is None:
            raise InputError(f"{path}: NinjaTrader files carry no symbol; pass --symbol")
        names, inst = [symbol], np.zeros(len(table), dtype=np.uint16)
        stamps = table.col(0)
        iso = []
        for k, s in enumerate(stamps):
            s = s.strip()
            if len(s) != 15 or s[8] != " " or not (s[:8].isdigit() and s[9:].isdigit()):
                table.errors.add(table.lines[k], f"time {s!r} is not 'YYYYMMDD HHMMSS'")
                iso.append("1970-01-01T00:00:00")
                continue
            iso.append(f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}")
        bad: list[tuple[int, str]] = []
        ends = parse_ts_column(iso, "iso", "time", bad=bad)
        for k, _ in bad:
            table.errors.add(table.lines[k], f"time {stamps[k].strip()!r} is not a valid date and time")
        o, h, l, c, vol = (table.floats(i, n) for i, n in zip(range(1, 6), ("open", "high", "low", "close", "volume")))
        table.errors.raise_if_any()
        step = parse_interval(interval) if interval else _mode_interval(ends)
        labels = stamps
    elif layout == "generic":
        table = read_table(path, opts.delimiter, header=opts.header, columns=opts.columns)
        names, inst = _symbols(table, symbol)
        daily = bool(opts.date_format) and session_close is not None
        ts = table.times(table.index("ts"), ts_unit, "ts", opts.date_format,
                         None if daily else opts.tz)
        o, h, l, c = (table.floats(table.index(n), n) for n in ("open", "high", "low", "close"))
        vi = table.index("volume", required=False)
        vol = np.zeros(len(table)) if vi is None else table.floats(vi, "volume")
        table.errors.raise_if_any()
        if ts_label not in ("end", "start"):
            raise InputError(f"--ts-label must be end or start, was {ts_label!r}")
        if daily:  # dates: each bar ends at the session close, local time
            try:
                hh, mm = (int(x) for x in session_close.split(":"))
            except ValueError:
                raise InputError(f"session close must be HH:MM, was {session_close!r}") from None
            ts = local_times_utc_ns((ts // DAY_NS).astype("datetime64[D]"), hh * 3600 + mm * 60,
                                    opts.tz or tz)
            step = parse_interval(interval) if interval else DAY_NS
            ends = ts
        else:
            step = parse_interval(interval) if interval else _mode_interval(ts)
            ends = ts if ts_label == "end" else ts + step
        labels = table.col(table.index("ts"))
    else:
        raise InputError(f"bars layout must be auto, yahoo, ninjatrader or generic; was {layout!r}")

    instruments = [Instrument(s, tick_size, lot_size, step) for s in names]
    ev = np.zeros(len(o), dtype=EVENT_DTYPE)
    ev["exch_ts"] = ends
    ev["recv_ts"] = ends + int(recv_delay_ns)
    ev["type"] = BAR
    ev["instrument"] = inst
    ev["flags"] = END_OF_BATCH
    for j, arr in enumerate((o, h, l, c)):
        ev["v"][:, j] = _per_instrument_grid(arr, inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 4] = _per_instrument_grid(vol, inst, instruments, "lot_size", "volume", stats)

    bo, bh, bl, bc = (ev["v"][:, j] for j in range(4))
    bad = (bl > np.minimum(bo, bc)) | (bh < np.maximum(bo, bc)) | (bl > bh)
    nonpos = (np.minimum.reduce([o, h, l, c]) <= 0) if len(o) else np.zeros(0, bool)
    dup, back = _order_stats(ends, inst)
    report = {
        "input": str(path),
        "layout": layout,
        "rows": len(o),
        "instruments": names,
        "bar_interval_ns": step,
        "bar_end_convention": {
            "yahoo": f"{session_close} {tz} on the row's date",
            "ninjatrader": "row time, UTC (bar end)",
            "generic": (f"{session_close} {opts.tz or tz} on the row's date" if layout == "generic"
                        and bool(opts.date_format) and session_close is not None
                        else f"ts ({opts.date_format or ts_unit}) is the bar {ts_label}"),
        }[layout],
        "inconsistent_ohlc": int(bad.sum()),
        "inconsistent_ohlc_rows": [labels[k] for k in np.flatnonzero(bad)[:10]],
        "nonpositive_prices": int(nonpos.sum()),
        "zero_volume": int(np.count_nonzero(ev["v"][:, 4] == 0)),
        "duplicate_times": dup,
        "unsorted_rows": back,
        "adjusted": bool(adjust) if layout == "yahoo" else None,
        **stats,
    }
    report = {k: v for k, v in report.items() if v is not None}
    return Converted(instruments, ev, f"bars-{layout}", report)


__all__ = [
    "CsvOptions",
    "SymbolNotFound",
    "has_symbol_column",
    "Table",
    "convert_bars_csv",
    "convert_quotes_csv",
    "convert_trades_csv",
    "detect_bars_layout",
    "parse_interval",
    "read_table",
]

