"""LOBSTER (lobsterdata.com) message + orderbook files -> L2 event stream.

Approach: the orderbook file is the source of truth for the book. Row k of it is LOBSTER's book
after message k, so the DEPTH records of message k are exactly the level changes between orderbook
rows k-1 and k (levels leaving the L-level window are deleted). Replaying the events through any
L2 book therefore reproduces LOBSTER's L levels after every message, by construction; the message
file contributes the timestamps and the TRADE records (types 4 and 5).

Per message k the records are, in order: TRADE (if an execution), DEPTH deletions, DEPTH
sets; the last one carries END_OF_BATCH. Message 0 instead carries a snapshot of orderbook row 0:
CLEAR + DEPTH records flagged SNAPSHOT (after its TRADE if it is an execution). The book before
message 0 is not observable from the files and is not emitted.

Times are seconds after midnight New York time on the trading date, converted to UTC epoch ns
with the UTC offset of that date (EDT, UTC-4, on 2012-06-21). ``exch_ts == recv_ts``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from pathlib import Path

import numpy as np

from ._build import Column, assemble, book_diff, int_to_grid
from .csvfmt import read_table
from .errors import DataFormatError, InputError
from .format import ASK, BID, CLEAR, DEPTH, SNAPSHOT, TRADE, Instrument
from .result import Converted
from .timeutil import NS, local_midnight_utc_ns

PRICE_UNITS_E9 = 100_000  # LOBSTER prices are USD x 10000, i.e. units of 1e-4 = 1e5 x 1e-9
NAME_RE = re.compile(
    r"^(?P<symbol>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv(\.gz)?$"
)


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path, "rt")


def _load(path: Path, ncols: int | None, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"no such LOBSTER {what} file: {path}")
    try:
        with _open_text(path) as fh:
            arr = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as e:
        _report_rows(path, ncols, what)  # every bad row as file:line
        raise InputError(f"{path}: malformed LOBSTER {what} file: {e}") from None
    if ncols is not None and arr.shape[1] != ncols:
        raise DataFormatError(f"{path}: LOBSTER {what} file has {arr.shape[1]} columns, expected {ncols}")
    if arr.shape[1] % 4 and what == "orderbook":
        raise DataFormatError(f"{path}: orderbook has {arr.shape[1]} columns, not a multiple of 4")
    return arr


def _report_rows(path: Path, ncols: int | None, what: str) -> None:
    """Re-read a file numpy refused, row by row, and raise naming every bad row (slow path)."""
    table = read_table(path, ",", header=False, ncols=ncols)
    width = len(table.rows[0]) if table.rows else 0
    for i in range(width):
        table.floats(i, f"{what} column {i + 1}")
    table.errors.raise_if_any()


def find_orderbook(message_path: Path) -> Path:
    """The orderbook file that belongs to a message file (``.csv`` or ``.csv.gz``)."""
    name = message_path.name.replace("_message_", "_orderbook_")
    base = name.removesuffix(".gz")
    for cand in (message_path.with_name(base), message_path.with_name(base + ".gz")):
        if cand.is_file():
            return cand
    raise InputError(f"no orderbook file beside {message_path} (looked for {base} and {base}.gz)")


def convert_lobster(
    message_path: str | Path,
    orderbook_path: str | Path | None = None,
    *,
    symbol: str | None = None,
    date: str | dt.date | None = None,
    tick_size: str = "0.01",
    lot_size: str = "1",
    tz: str = "America/New_York",
) -> Converted:
    """Convert one LOBSTER message/orderbook pair. Symbol and date default from the file name.

    ``extra["row_end"]`` maps each message row to the index of the last event emitted at or
    before it (-1 when none), for row-by-row checks against the orderbook file.
    """
    message_path = Path(message_path)
    m = NAME_RE.match(message_path.name.removesuffix(".gz") if message_path.name.endswith(".csv.gz") else message_path.name)
    symbol = symbol or (m and m["symbol"])
    if date is None and m:
        date = m["date"]
    if not symbol or date is None:
        raise InputError(
            f"cannot take symbol/date from file name {message_path.name!r}; pass --symbol and --date"
        )
    day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
    orderbook_path = Path(orderbook_path) if orderbook_path else find_orderbook(message_path)

    instrument = Instrument(symbol, tick_size, lot_size)
    if instrument.tick_size_e9 % PRICE_UNITS_E9:
        raise InputError(f"tick size must be a multiple of 0.0001 for LOBSTER prices, was {tick_size}")
    if instrument.lot_size_e9 % NS:
        raise InputError(f"lot size must be a whole number of shares for LOBSTER, was {lot_size}")
    px_units = instrument.tick_size_e9 // PRICE_UNITS_E9
    lot_shares = instrument.lot_size_e9 // NS

    msg = _load(message_path, 6, "message")
    book = _load(orderbook_path, None, "orderbook")
    n = len(msg)
    if len(book) != n:
        raise DataFormatError(
            f"{orderbook_path}: {len(book)} rows but the message file has {n}; not a matching pair"
        )
    levels = book.shape[1] // 4
    stats: dict = {}

    t_ns = np.rint(msg[:, 0] * 1e9).astype(np.int64)
    if np.any(np.diff(t_ns) < 0):
        raise DataFormatError(f"{message_path}: times go backwards")
    ts = local_midnight_utc_ns(day, tz) + t_ns
    mtype = msg[:, 1].astype(np.int64)
    size = msg[:, 3].astype(np.int64)
    price = msg[:, 4].astype(np.int64)
    direction = msg[:, 5].astype(np.int64)

    raw = book.astype(np.int64)
    # Empty levels carry price +/-9999999999 and size 0: zero them before rounding.
    ask_live, bid_live = raw[:, 1::4] > 0, raw[:, 3::4] > 0
    ask_px = int_to_grid(np.where(ask_live, raw[:, 0::4], 0), px_units, "prices", stats)
    ask_q = int_to_grid(raw[:, 1::4], lot_shares, "qty", stats)
    bid_px = int_to_grid(np.where(bid_live, raw[:, 2::4], 0), px_units, "prices", stats)
    bid_q = int_to_grid(raw[:, 3::4], lot_shares, "qty", stats)

    def shifted(a: np.ndarray) -> np.ndarray:
        prev = np.zeros_like(a)
        prev[1:] = a[:-1]
        return prev

    prev_bid_q, prev_ask_q = shifted(bid_q), shifted(ask_q)  # row 0: empty book before snapshot
    bid_del, bid_set = book_diff(shifted(bid_px), prev_bid_q, bid_px, bid_q)
    ask_del, ask_set = book_diff(shifted(ask_px), prev_ask_q, ask_px, ask_q)

    is_trade = (mtype == 4) | (mtype == 5)
    trade_side = np.where(direction == 1, ASK, BID)  # executed buy order -> seller-initiated
    trade_px = int_to_grid(price, px_units, "trade_prices", stats)
    trade_q = int_to_grid(size, lot_shares, "trade_qty", stats)
    first = np.zeros(n, dtype=bool)
    first[:1] = True
    snap_flags = np.where(first, SNAPSHOT, 0)[:, None]
    zeros = np.zeros((n, levels), dtype=np.int64)

    columns = [
        Column(is_trade, TRADE, trade_side, (trade_px, trade_q)),
        Column(first, CLEAR, 0, (), SNAPSHOT),
        Column(bid_del, DEPTH, BID, (shifted(bid_px), zeros)),
        Column(ask_del, DEPTH, ASK, (shifted(ask_px), zeros)),
        Column(bid_set, DEPTH, BID, (bid_px, bid_q), np.broadcast_to(snap_flags, (n, levels))),
        Column(ask_set, DEPTH, ASK, (ask_px, ask_q), np.broadcast_to(snap_flags, (n, levels))),
    ]
    events, rows = assemble(columns, ts, ts)
    row_end = np.cumsum(np.bincount(rows, minlength=n)) - 1

    counts = {int(t): int(c) for t, c in zip(*np.unique(mtype, return_counts=True))}
    report = {
        "input": [str(message_path), str(orderbook_path)],
        "symbol": symbol,
        "date": day.isoformat(),
        "levels": levels,
        "messages": n,
        "message_types": counts,
        "halts_skipped": counts.get(7, 0),
        "trades": int(is_trade.sum()),
        "messages_without_visible_change": int(np.count_nonzero(~is_trade & (np.diff(row_end, prepend=-1) == 0))),
        **stats,
    }
    return Converted([instrument], events, "lobster", report, extra={"row_end": row_end})
