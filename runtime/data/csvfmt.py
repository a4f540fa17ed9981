"""CSV converters: generic quotes, generic trades, and OHLCV bars (Yahoo daily, NinjaTrader
minute, generic). Layouts and conventions are documented in ``docs/data.md``.

Rows are read with the ``csv`` module (one pass, about a million rows a second), then every
column is converted with numpy. A malformed row is reported with its file and line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np

from ._build import to_grid
from .errors import InputError, row_error
from .format import ASK, BAR, BID, END_OF_BATCH, EVENT_DTYPE, QUOTE, SIDE_NONE, TRADE, Instrument
from .result import Converted
from .timeutil import NS, local_times_utc_ns, parse_ts_column

DAY_NS = 86_400 * NS


class Table:
    """Columns of a CSV file as lists of strings, with the source line of every row."""

    def __init__(self, path: Path, header: list[str] | None, rows: list[list[str]], lines):
        self.path = path
        self.header = header
        self.rows = rows
        self.lines = lines
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
        if name in names:
            return names.index(name)
        if required:
            raise InputError(f"{self.path}: no column {name!r} in header {self.header}")
        return None

    def floats(self, i: int, name: str) -> np.ndarray:
        values = self.col(i)
        try:
            return np.array(values, dtype=np.float64)
        except ValueError:
            for k, v in enumerate(values):
                try:
                    float(v)
                except ValueError:
                    raise row_error(self.path, self.lines[k], f"{name} {v!r} is not a number") from None
            raise

    def times(self, i: int, unit: str, name: str = "ts") -> np.ndarray:
        values = self.col(i)
        try:
            return parse_ts_column(values, unit, name)
        except InputError as e:
            m = re.match(r"row (\d+): (.*)", str(e))
            if m:
                raise row_error(self.path, self.lines[int(m[1])], m[2]) from None
            raise


def _open(path: Path):
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), newline="")
    return open(path, "rt", newline="")


def read_table(path: str | Path, delimiter: str = ",", header: bool = True, ncols: int | None = None) -> Table:
    """Read a delimited text file. Blank lines are skipped; every row must have the header's (or
    ``ncols``) column count. Line numbers are 1-based physical lines (a quoted field spanning
    several lines shifts the numbers after it)."""
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
    if len(keep) == len(raw) - (1 if header else 0):  # no blank lines: avoid copying
        rows = raw[1:] if header else raw
        lines = range(2 if header else 1, len(raw) + 1)
    else:
        rows = [raw[i] for i in keep]
        lines = [i + 1 for i in keep]
    if rows:
        ncols = ncols or len(rows[0])
        widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        bad = np.flatnonzero(widths != ncols)
        if len(bad):
            k = int(bad[0])
            raise row_error(path, lines[k], f"expected {ncols} fields, found {len(rows[k])}: {delimiter.join(rows[k])[:80]!r}")
    return Table(path, head, rows, lines)


def _symbols(table: Table, symbol: str | None) -> tuple[list[str], np.ndarray]:
    """Instrument symbols and the per-row instrument index (``symbol`` column or ``--symbol``)."""
    i = table.index("symbol", required=symbol is None)
    if i is None:
        return [symbol], np.zeros(len(table), dtype=np.uint16)
    col = np.array([s.strip() for s in table.col(i)])
    if symbol is not None:
        keep = col == symbol
        if not keep.any():
            raise InputError(f"{table.path}: symbol {symbol!r} not found in the symbol column")
        table.rows = [r for r, k in zip(table.rows, keep) if k]
        table.lines = [ln for ln, k in zip(table.lines, keep) if k]
        table._cache.clear()
        return [symbol], np.zeros(len(table), dtype=np.uint16)
    uniq, inv = np.unique(col, return_inverse=True)
    return [str(u) for u in uniq], inv.astype(np.uint16)


def _per_instrument_grid(values: np.ndarray, inst: np.ndarray, instruments: list[Instrument], attr: str, what: str, stats: dict) -> np.ndarray:
    out = np.zeros(len(values), dtype=np.int64)
    for k, ins in enumerate(instruments):
        sel = inst == k
        out[sel] = to_grid(values[sel], getattr(ins, attr), what, stats)
    return out


def _recv(table: Table, exch: np.ndarray, unit: str) -> np.ndarray:
    i = table.index("recv_ts", required=False)
    return exch.copy() if i is None else table.times(i, unit, "recv_ts")


def convert_quotes_csv(
    path: str | Path,
    *,
    symbol: str | None = None,
    tick_size: str = "0.01",
    lot_size: str = "1",
    ts_unit: str = "ns",
    delimiter: str = ",",
) -> Converted:
    """``ts[,symbol],bid_px,bid_qty,ask_px,ask_qty[,recv_ts]`` (header required) -> QUOTE events."""
    table = read_table(path, delimiter)
    names, inst = _symbols(table, symbol)
    instruments = [Instrument(s, tick_size, lot_size) for s in names]
    stats: dict = {}
    exch = table.times(table.index("ts"), ts_unit)
    cols = {c: table.floats(table.index(c), c) for c in ("bid_px", "bid_qty", "ask_px", "ask_qty")}
    ev = np.zeros(len(table), dtype=EVENT_DTYPE)
    ev["exch_ts"] = exch
    ev["recv_ts"] = _recv(table, exch, ts_unit)
    ev["type"] = QUOTE
    ev["instrument"] = inst
    ev["flags"] = END_OF_BATCH
    ev["v"][:, 0] = _per_instrument_grid(cols["bid_px"], inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 1] = _per_instrument_grid(cols["bid_qty"], inst, instruments, "lot_size", "qty", stats)
    ev["v"][:, 2] = _per_instrument_grid(cols["ask_px"], inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 3] = _per_instrument_grid(cols["ask_qty"], inst, instruments, "lot_size", "qty", stats)
    both = (ev["v"][:, 1] > 0) & (ev["v"][:, 3] > 0)
    crossed = both & (ev["v"][:, 0] >= ev["v"][:, 2])
    report = {
        "input": str(path),
        "rows": len(table),
        "instruments": names,
        "crossed_quotes": int(crossed.sum()),
        "negative_qty": int(np.count_nonzero(ev["v"][:, [1, 3]] < 0)),
        "unsorted_rows": int(np.count_nonzero(np.diff(ev["recv_ts"]) < 0)),
        **stats,
    }
    if report["negative_qty"]:
        raise InputError(f"{path}: {report['negative_qty']} negative quantities")
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
) -> Converted:
    """``ts[,symbol],price,qty[,side][,trade_id][,recv_ts]`` (header required) -> TRADE events.

    ``side`` is the aggressor: buy/b/1/bid, sell/s/2/-1/ask, or empty/none/0 for unknown.
    """
    table = read_table(path, delimiter)
    names, inst = _symbols(table, symbol)
    instruments = [Instrument(s, tick_size, lot_size) for s in names]
    stats: dict = {}
    exch = table.times(table.index("ts"), ts_unit)
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
                k = int(np.argmax(inv == j))
                raise row_error(table.path, table.lines[k], f"side {w.strip()!r} is not one of buy/sell/b/s/1/2/-1/none")
            codes[j] = code
        side = codes[inv]
    tid = np.zeros(len(table), dtype=np.int64)
    ti = table.index("trade_id", required=False)
    if ti is not None:
        tid = table.floats(ti, "trade_id").astype(np.int64)
    ev = np.zeros(len(table), dtype=EVENT_DTYPE)
    ev["exch_ts"] = exch
    ev["recv_ts"] = _recv(table, exch, ts_unit)
    ev["type"] = TRADE
    ev["side"] = side
    ev["instrument"] = inst
    ev["flags"] = END_OF_BATCH
    ev["v"][:, 0] = _per_instrument_grid(price, inst, instruments, "tick_size", "prices", stats)
    ev["v"][:, 1] = _per_instrument_grid(qty, inst, instruments, "lot_size", "qty", stats)
    ev["v"][:, 2] = tid
    bad = ev["v"][:, 1] <= 0
    if bad.any():
        k = int(np.argmax(bad))
        raise row_error(table.path, table.lines[k], f"trade qty must be > 0 lots, was {qty[k]}")
    report = {
        "input": str(path),
        "rows": len(table),
        "instruments": names,
        "unknown_side": int(np.count_nonzero(side == SIDE_NONE)),
        "unsorted_rows": int(np.count_nonzero(np.diff(ev["recv_ts"]) < 0)),
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


def detect_bars_layout(path: str | Path) -> str:
    path = Path(path)
    with _open(path) as fh:
        first = fh.readline().strip()
    if [c.strip().lower() for c in first.split(",")] == YAHOO_HEADER:
        return "yahoo"
    if NT_LINE.match(first):
        return "ninjatrader"
    cols = [c.strip().lower() for c in first.split(",")]
    if {"ts", "open", "high", "low", "close", "volume"} <= set(cols):
        return "generic"
    raise InputError(
        f"{path}: unknown bars layout (first line {first[:60]!r}); expected Yahoo "
        f"'Date,Open,High,Low,Close,Adj Close,Volume', NinjaTrader 'YYYYMMDD HHMMSS;o;h;l;c;v' "
        f"or a header with ts,open,high,low,close,volume"
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
    session_close: str = "16:00",
    tz: str = "America/New_York",
    adjust: bool = False,
    recv_delay_ns: int = 0,
) -> Converted:
    """OHLCV bars -> BAR events (``exch_ts`` = bar end, ``recv_ts`` = end + ``recv_delay_ns``).

    Layouts: ``yahoo`` (daily; bar end = ``session_close`` local time in ``tz`` on each date),
    ``ninjatrader`` (``YYYYMMDD HHMMSS;o;h;l;c;v``, UTC, the time is the bar end), ``generic``
    (header ``ts[,symbol],open,high,low,close,volume``, ``ts`` in ``ts_unit``, labelling the bar
    ``ts_label`` = end or start). Rows whose OHLC is inconsistent (low above open/close, ...) are
    kept as they are and counted in the report.
    """
    path = Path(path)
    if layout == "auto":
        layout = detect_bars_layout(path)
    stats: dict = {}
    if layout == "yahoo":
        table = read_table(path, ",", header=True)
        if [h.lower() for h in (table.header or [])] != YAHOO_HEADER:
            raise InputError(f"{path}: header is {table.header}, expected Date,Open,High,Low,Close,Adj Close,Volume")
        sym = symbol or path.stem.split("-")[0].upper()
        names, inst = [sym], np.zeros(len(table), dtype=np.uint16)
        try:
            dates = np.array(table.col(0), dtype="datetime64[D]")
        except ValueError:
            for k, v in enumerate(table.col(0)):
                try:
                    np.datetime64(v, "D")
                except ValueError:
                    raise row_error(path, table.lines[k], f"Date {v!r} is not YYYY-MM-DD") from None
            raise
        try:
            hh, mm = (int(x) for x in session_close.split(":"))
        except ValueError:
            raise InputError(f"session close must be HH:MM, was {session_close!r}") from None
        ends = local_times_utc_ns(dates, hh * 3600 + mm * 60, tz)
        o, h, l, c, adj, vol = (table.floats(i, n) for i, n in enumerate(YAHOO_HEADER[1:], start=1))
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
                raise row_error(path, table.lines[k], f"time {s!r} is not 'YYYYMMDD HHMMSS'")
            iso.append(f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}")
        try:
            ends = np.array(iso, dtype="datetime64[ns]").astype(np.int64)
        except ValueError as e:
            raise InputError(f"{path}: bad time: {e}") from None
        o, h, l, c, vol = (table.floats(i, n) for i, n in zip(range(1, 6), ("open", "high", "low", "close", "volume")))
        step = parse_interval(interval) if interval else _mode_interval(ends)
        labels = stamps
    elif layout == "generic":
        table = read_table(path, ",", header=True)
        names, inst = _symbols(table, symbol)
        ts = table.times(table.index("ts"), ts_unit)
        o, h, l, c, vol = (table.floats(table.index(n), n) for n in ("open", "high", "low", "close", "volume"))
        step = parse_interval(interval) if interval else _mode_interval(ts)
        if ts_label not in ("end", "start"):
            raise InputError(f"--ts-label must be end or start, was {ts_label!r}")
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
    order = np.diff(ends)
    report = {
        "input": str(path),
        "layout": layout,
        "rows": len(o),
        "instruments": names,
        "bar_interval_ns": step,
        "bar_end_convention": {
            "yahoo": f"{session_close} {tz} on the row's date",
            "ninjatrader": "row time, UTC (bar end)",
            "generic": f"ts ({ts_unit}) is the bar {ts_label}",
        }[layout],
        "inconsistent_ohlc": int(bad.sum()),
        "inconsistent_ohlc_rows": [labels[k] for k in np.flatnonzero(bad)[:10]],
        "nonpositive_prices": int(nonpos.sum()),
        "zero_volume": int(np.count_nonzero(ev["v"][:, 4] == 0)),
        "duplicate_times": int(np.count_nonzero(order == 0)),
        "unsorted_rows": int(np.count_nonzero(order < 0)),
        "adjusted": bool(adjust) if layout == "yahoo" else None,
        **stats,
    }
    report = {k: v for k, v in report.items() if v is not None}
    return Converted(instruments, ev, f"bars-{layout}", report)


__all__ = [
    "Table",
    "convert_bars_csv",
    "convert_quotes_csv",
    "convert_trades_csv",
    "detect_bars_layout",
    "parse_interval",
    "read_table",
]

