"""``info(path)``: a summary of an event file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
import os
from typing import Any

import numpy as np

from .book import NO_ASK, NO_BID, replay
from .format import (
    BAR,
    END_OF_BATCH,
    EVENT_TYPE_NAMES,
    SNAPSHOT,
    TRADE,
    open_events,
)

BOOK_SCAN_LIMIT = 2_000_000  # replay at most this many records to find the last book


def iso(ns: int) -> str | None:
    if not ns:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _price(ticks: int, tick_size: Decimal) -> str:
    return str(Decimal(int(ticks)) * tick_size)


def info(path: str | os.PathLike, book_scan_limit: int = BOOK_SCAN_LIMIT) -> dict[str, Any]:
    """Header fields, instruments, counts by type, time range, first/last top of book per
    instrument (first: after the first batch that shows both sides; last: after the final
    record, found by replaying at most ``book_scan_limit`` records, else omitted)."""
    f = open_events(path)
    ev = f.events
    out: dict[str, Any] = {
        "path": str(f.path),
        "version": int(f.header["version"]),
        "source": f.source,
        "sorted": f.sorted,
        "events": len(ev),
        "bytes": f.path.stat().st_size,
        "first_recv_ts": int(f.header["first_recv_ts"]),
        "last_recv_ts": int(f.header["last_recv_ts"]),
        "first_time": iso(int(f.header["first_recv_ts"])),
        "last_time": iso(int(f.header["last_recv_ts"])),
        "duration_s": (int(f.header["last_recv_ts"]) - int(f.header["first_recv_ts"])) / 1e9,
        "instruments": [],
    }
    types = np.asarray(ev["type"])
    instr = np.asarray(ev["instrument"])
    for k, ins in enumerate(f.instruments):
        mine = instr == k if len(f.instruments) > 1 else slice(None)
        t = types[mine]
        counts = {name: int(np.count_nonzero(t == code)) for code, name in EVENT_TYPE_NAMES.items()}
        unknown = int(len(t) - sum(counts.values()))
        entry: dict[str, Any] = {
            "id": k,
            "symbol": ins.symbol,
            "tick_size": str(ins.tick_size),
            "lot_size": str(ins.lot_size),
            "bar_interval_ns": ins.bar_interval_ns,
            "events": int(len(t)),
            "counts": counts,
        }
        if unknown:
            entry["unknown_type_records"] = unknown
        sub = ev[mine] if len(f.instruments) > 1 else ev
        flags = np.asarray(sub["flags"])
        entry["snapshot_records"] = int(np.count_nonzero(flags & SNAPSHOT))
        entry["batches"] = int(np.count_nonzero(flags & END_OF_BATCH))
        if counts["TRADE"]:
            tr = sub[types[mine] == TRADE] if len(f.instruments) > 1 else sub[t == TRADE]
            entry["trade_volume_lots"] = int(tr["v"][:, 1].sum())
            entry["last_trade_price"] = _price(int(tr["v"][-1, 0]), ins.tick_size)
        if counts["BAR"]:
            bars = sub[t == BAR]
            entry["first_bar_end"] = iso(int(bars["exch_ts"][0]))
            entry["last_bar_end"] = iso(int(bars["exch_ts"][-1]))
            entry["last_close"] = _price(int(bars["v"][-1, 3]), ins.tick_size)
            # per instrument: two symbols' bars ending at the same time are not duplicates
            entry["duplicate_bar_ends"] = int(np.count_nonzero(np.diff(bars["exch_ts"]) == 0))
        if (counts["DEPTH"] or counts["QUOTE"]) and len(sub) <= book_scan_limit:
            best = replay(np.asarray(sub))
            ends = np.flatnonzero(flags & END_OF_BATCH)
            ends = ends if len(ends) else np.arange(len(sub))
            both = (best.bid_px[ends] != NO_BID) & (best.ask_px[ends] != NO_ASK)
            if both.any():
                i = ends[np.argmax(both)]
                entry["first_book"] = _book(best, i, ins.tick_size, int(sub["recv_ts"][i]))
            entry["last_book"] = _book(best, len(sub) - 1, ins.tick_size, int(sub["recv_ts"][-1]))
            entry["crossed_batches"] = int(np.count_nonzero(best.crossed()[ends]))
        out["instruments"].append(entry)
    return out


def _book(best, i: int, tick_size: Decimal, ts: int) -> dict[str, Any]:
    bid = None if best.bid_px[i] == NO_BID else _price(best.bid_px[i], tick_size)
    ask = None if best.ask_px[i] == NO_ASK else _price(best.ask_px[i], tick_size)
    return {
        "time": iso(ts),
        "bid": bid,
        "bid_qty": int(best.bid_qty[i]),
        "ask": ask,
        "ask_qty": int(best.ask_qty[i]),
    }
