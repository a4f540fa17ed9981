"""Binance raw feed captures (``<local_ts_ns> <json>`` lines, gzip) -> L2 + trade events.

The capture format is the one of hftbacktest's collector (see the README beside the shared
sample): combined-stream envelopes for ``depth@100ms`` (spot) / ``depth@0ms`` (futures) diffs,
``trade`` and ``bookTicker``, plus one REST depth snapshot.

Book rebuild, following Binance's rules:

* Diffs are buffered until the snapshot (``lastUpdateId`` = L) has been seen.
* The snapshot becomes ``CLEAR`` + ``DEPTH`` records flagged ``SNAPSHOT`` (the last also
  ``END_OF_BATCH``).
* Spot: drop diffs with ``u <= L``; the first applied must have ``U <= L+1 <= u``; each next one
  must have ``U == previous u + 1``.
* Futures (USD-M, COIN-M): drop diffs with ``u < L``; the first applied must have
  ``U <= L <= u``; each next one must have ``pu == previous u``.
* A broken rule is a *gap*: it is counted and reported with its update ids and time, and the diff is
  applied anyway (no second snapshot exists in a capture to resync from).

Every diff is one batch of ``DEPTH`` records (bids then asks, as sent), the last one flagged
``END_OF_BATCH``. Trades are ``TRADE`` records with the aggressor from ``m`` (``m`` true: the buyer
is the maker, so the seller was the aggressor -> side 2). ``bookTicker`` is not written (a file
uses DEPTH *or* QUOTE per instrument); it is kept to validate the rebuilt book
(``check_book_ticker``).

Timestamps: ``recv_ts`` is the capture's local time made non-decreasing in file order (a line
whose clock went back gets its predecessor's time; counted). Buffered diffs applied after the
snapshot get the snapshot's ``recv_ts``: that is when they became usable. ``exch_ts`` is the
exchange time in ns: ``T`` (transaction/trade time) when present, else ``E``; 0 for a spot
snapshot. The capture clock ran ~1.27 s behind Binance, so ``recv_ts < exch_ts`` is normal here.

Tick and lot sizes default to the finest decimal step seen in the data's prices and quantities
(e.g. spot BTCUSDT: 0.01 and 0.00001); pass them to override.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._build import to_grid
from .book import NO_ASK, NO_BID, replay
from .errors import DataFormatError, InputError, MalformedRowsError, RowErrors
from .format import ASK, BID, CLEAR, DEPTH, END_OF_BATCH, EVENT_DTYPE, SNAPSHOT, TRADE, Instrument
from .result import Converted

MS = 1_000_000


def _decimals(s: str) -> int:
    dot = s.find(".")
    if dot < 0:
        return 0
    return len(s.rstrip("0")) - dot - 1


def _step(decimals: int) -> str:
    """The decimal step with ``decimals`` places: 2 -> "0.01", 0 -> "1"."""
    return f"{10.0 ** -decimals:.{decimals}f}" if decimals else "1"


@dataclass
class _Depth:
    seq: int
    local: int
    exch: int
    U: int
    u: int
    pu: int | None
    bids: list
    asks: list


class _Records:
    """Column lists of output records, in processing order."""

    def __init__(self) -> None:
        self.recv: list[int] = []
        self.exch: list[int] = []
        self.type: list[int] = []
        self.side: list[int] = []
        self.px: list[float] = []
        self.qty: list[float] = []
        self.tid: list[int] = []
        self.flags: list[int] = []

    def add(self, recv: int, exch: int, typ: int, side: int, px: float, qty: float, flags: int, tid: int = 0) -> None:
        self.recv.append(recv)
        self.exch.append(exch)
        self.type.append(typ)
        self.side.append(side)
        self.px.append(px)
        self.qty.append(qty)
        self.tid.append(tid)
        self.flags.append(flags)

    def levels(self, recv: int, exch: int, bids: list, asks: list, flags: int) -> int:
        """Add one batch of DEPTH records; returns how many were added."""
        n = 0
        for side, levels in ((BID, bids), (ASK, asks)):
            for p, q in levels:
                self.add(recv, exch, DEPTH, side, float(p), float(q), flags)
                n += 1
        if n:
            self.flags[-1] |= END_OF_BATCH
        return n


def _lines(paths: Sequence[Path], bad: dict[Path, RowErrors]):
    """``(path, line number, local ts, message)`` of every readable line; unreadable lines are
    recorded in ``bad`` (all of them, reported together after the pass) and skipped."""
    for path in paths:
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.strip()
                if not line:
                    continue
                ts, sep, body = line.partition(" ")
                try:
                    msg = json.loads(body)
                    local = int(ts)
                except (ValueError, json.JSONDecodeError) as e:
                    bad.setdefault(path, RowErrors(path)).add(
                        lineno, f"not '<local_ts_ns> <json>': {e}")
                    continue
                if not isinstance(msg, dict):
                    bad.setdefault(path, RowErrors(path)).add(lineno, "the JSON is not an object")
                    continue
                yield path, lineno, local, msg


def _raise_bad(bad: dict[Path, RowErrors]) -> None:
    errors = [MalformedRowsError(e.path, e.rows) for e in bad.values() if e]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputError("\n".join(str(e) for e in errors))


def convert_binance(
    paths: Sequence[str | Path],
    *,
    symbol: str | None = None,
    tick_size: str | None = None,
    lot_size: str | None = None,
    market: str = "auto",
) -> Converted:
    """Convert one capture session (files in order) of one symbol."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no input files")
    depths: list[_Depth] = []
    trades: list[tuple] = []
    tickers: list[tuple] = []
    snapshot: tuple | None = None  # (seq, local, exch, L, bids, asks)
    symbols: set[str] = set()
    price_dec = qty_dec = 0
    seq = 0
    last_local = None
    clock_backsteps = 0
    saw_pu = False
    unknown = 0
    bad: dict[Path, RowErrors] = {}
    for path, lineno, local, msg in _lines(paths, bad):
        if last_local is not None and local < last_local:
            clock_backsteps += 1
            local = last_local
        last_local = local
        seq += 1
        try:
            if "lastUpdateId" in msg:
                if snapshot is not None:
                    raise InputError(f"{path}:{lineno}: a second REST snapshot; one session per conversion")
                bids, asks = msg.get("bids", []), msg.get("asks", [])
                exch = int(msg.get("T", msg.get("E", 0))) * MS
                snapshot = (seq, local, exch, int(msg["lastUpdateId"]), bids, asks)
                if "symbol" in msg:
                    symbols.add(msg["symbol"])
                for p, q in bids + asks:
                    price_dec = max(price_dec, _decimals(p))
                    qty_dec = max(qty_dec, _decimals(q))
                continue
            stream = msg.get("stream", "")
            data = msg.get("data")
            if not isinstance(data, dict):
                bad.setdefault(path, RowErrors(path)).add(
                    lineno, "neither a stream envelope nor a depth snapshot")
                continue
            if "s" in data:
                symbols.add(data["s"])
            if "@depth" in stream:
                pu = data.get("pu")
                saw_pu |= pu is not None
                exch = int(data.get("T", data.get("E", 0))) * MS
                depths.append(_Depth(seq, local, exch, int(data["U"]), int(data["u"]), None if pu is None else int(pu), data["b"], data["a"]))
                for p, q in data["b"] + data["a"]:
                    price_dec = max(price_dec, _decimals(p))
                    qty_dec = max(qty_dec, _decimals(q))
            elif stream.endswith("@trade"):
                side = ASK if data["m"] else BID
                trades.append((seq, local, int(data["T"]) * MS, side, float(data["p"]), float(data["q"]), int(data["t"])))
                price_dec = max(price_dec, _decimals(data["p"]))
                qty_dec = max(qty_dec, _decimals(data["q"]))
            elif stream.endswith("@bookTicker"):
                tickers.append((local, int(data["u"]), float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"])))
            else:
                unknown += 1
        except (KeyError, ValueError, TypeError, IndexError) as e:
            bad.setdefault(path, RowErrors(path)).add(lineno, f"malformed message: {type(e).__name__} {e}")
    _raise_bad(bad)

    if snapshot is None:
        raise DataFormatError(
            f"{paths[0]}: no REST depth snapshot (a line with lastUpdateId) in the session; "
            f"pass the files of one session in order, starting with the one holding the snapshot"
        )
    if len(symbols) > 1:
        raise InputError(f"the capture mixes symbols {sorted(symbols)}; convert one symbol at a time")
    symbol = symbol or (symbols.pop() if symbols else None)
    if not symbol:
        raise InputError("cannot tell the symbol from the data; pass --symbol")
    if market == "auto":
        market = "futures" if saw_pu else "spot"
    if market not in ("spot", "futures"):
        raise InputError(f"market must be auto, spot or futures; was {market!r}")
    tick = tick_size or _step(price_dec)
    lot = lot_size or _step(qty_dec)
    instrument = Instrument(symbol, tick, lot)

    rec = _Records()
    order: list[int] = []  # processing sequence number per record (for a stable final sort)
    snap_seq, snap_local, snap_exch, L, sbids, sasks = snapshot

    # The snapshot batch.
    rec.add(snap_local, snap_exch, CLEAR, 0, 0.0, 0.0, SNAPSHOT)
    n = 1 + rec.levels(snap_local, snap_exch, sbids, sasks, SNAPSHOT)
    if n == 1:
        rec.flags[-1] |= END_OF_BATCH
    order += [snap_seq] * n

    # Diffs by Binance's rules.
    gaps: list[dict[str, Any]] = []
    dropped = 0
    applied = 0
    prev_u: int | None = None
    batch_u: list[tuple[int, int]] = []  # (index of the batch's last record, u)
    for d in depths:
        if prev_u is None:
            if (market == "spot" and d.u <= L) or (market == "futures" and d.u < L):
                dropped += 1
                continue
            ok = d.U <= L + 1 <= d.u if market == "spot" else d.U <= L <= d.u
            if not ok:
                gaps.append({"at": "first diff after snapshot", "lastUpdateId": L, "U": d.U, "u": d.u, "local_ts": d.local})
        else:
            ok = d.U == prev_u + 1 if market == "spot" else d.pu == prev_u
            if not ok:
                gap = {"prev_u": prev_u, "U": d.U, "u": d.u, "local_ts": d.local}
                if market == "futures":
                    gap["pu"] = d.pu
                gaps.append(gap)
        recv = max(d.local, snap_local)
        sq = d.seq if d.seq > snap_seq else snap_seq
        k = rec.levels(recv, d.exch, d.bids, d.asks, 0)
        order += [sq] * k
        if k:
            batch_u.append((len(rec.type) - 1, d.u))
        prev_u = d.u
        applied += 1

    for sq, local, exch, side, p, q, tid in trades:
        rec.add(local, exch, TRADE, side, p, q, END_OF_BATCH, tid)
        order.append(sq)

    stats: dict = {}
    m = len(rec.type)
    ev = np.zeros(m, dtype=EVENT_DTYPE)
    ev["recv_ts"] = rec.recv
    ev["exch_ts"] = rec.exch
    ev["type"] = rec.type
    ev["side"] = rec.side
    ev["flags"] = rec.flags
    ev["v"][:, 0] = to_grid(np.array(rec.px), instrument.tick_size, "prices", stats)
    ev["v"][:, 1] = to_grid(np.array(rec.qty), instrument.lot_size, "qty", stats)
    ev["v"][:, 2] = rec.tid
    ev["v"][ev["type"] == CLEAR, :2] = 0
    perm = np.lexsort((np.array(order), ev["recv_ts"]))
    ev = ev[perm]
    inverse = np.empty(m, dtype=np.int64)
    inverse[perm] = np.arange(m)

    tk = np.array(tickers, dtype=np.float64).reshape(-1, 6)
    ticker_stats: dict = {}
    extra = {
        "batch_end": inverse[np.array([b[0] for b in batch_u], dtype=np.int64)],
        "batch_u": np.array([b[1] for b in batch_u], dtype=np.int64),
        "ticker_u": tk[:, 1].astype(np.int64),
        "ticker_local": tk[:, 0].astype(np.int64),
        "ticker_bid": to_grid(tk[:, 2], instrument.tick_size, "prices", ticker_stats),
        "ticker_bid_qty": to_grid(tk[:, 3], instrument.lot_size, "qty", ticker_stats),
        "ticker_ask": to_grid(tk[:, 4], instrument.tick_size, "prices", ticker_stats),
        "ticker_ask_qty": to_grid(tk[:, 5], instrument.lot_size, "qty", ticker_stats),
    }
    report = {
        "input": [str(p) for p in paths],
        "symbol": symbol,
        "market": market,
        "tick_size": str(instrument.tick_size),
        "lot_size": str(instrument.lot_size),
        "snapshot_last_update_id": L,
        "snapshot_levels": len(sbids) + len(sasks),
        "depth_messages": len(depths),
        "depth_dropped_before_sync": dropped,
        "depth_applied": applied,
        "buffered_applied_at_snapshot": sum(1 for d in depths if d.seq < snap_seq and (d.u > L if market == "spot" else d.u >= L)),
        "sequence_gaps": len(gaps),
        "gaps": gaps[:20],
        "trades": len(trades),
        "book_tickers": len(tickers),
        "local_clock_backsteps": clock_backsteps,
        "unknown_streams": unknown,
        **stats,
    }
    return Converted([instrument], ev, "binance", report, extra=extra)


def check_book_ticker(conv: Converted) -> dict[str, Any]:
    """Compare the rebuilt book with Binance's own bookTicker stream.

    *Aligned* tickers have the same update id ``u`` as a diff batch's last update id, so they
    describe exactly the book after that batch: their best bid/ask must match. For the others,
    the book after the latest diff with ``u <= ticker u`` is compared too (it may lag by up to one
    diff interval, so some mismatch is expected). Also counts crossed books at batch ends after
    the snapshot.
    """
    ev = conv.events
    x = conv.extra
    best = replay(ev)
    ends = np.flatnonzero(ev["flags"] & END_OF_BATCH)
    both = SNAPSHOT | END_OF_BATCH
    snap_end = int(np.flatnonzero((ev["flags"] & both) == both)[0])
    after = ends[ends >= snap_end]
    crossed = int(best.crossed()[after].sum())
    empty = int(((best.bid_px[after] == NO_BID) | (best.ask_px[after] == NO_ASK)).sum())

    bu, be = x["batch_u"], x["batch_end"]
    tu = x["ticker_u"]
    out: dict[str, Any] = {"batches_after_snapshot": len(after), "crossed_batches": crossed, "one_side_empty_batches": empty}
    if not len(tu) or not len(bu):
        return {**out, "book_tickers": len(tu), "aligned": 0}
    # batch u is increasing when there are no gaps; sort to be safe
    o = np.argsort(bu, kind="stable")
    bu, be = bu[o], be[o]
    pos = np.searchsorted(bu, tu, side="right") - 1
    valid = pos >= 0
    idx = be[np.clip(pos, 0, None)]

    def match(sel: np.ndarray) -> np.ndarray:
        i = idx[sel]
        return (
            (best.bid_px[i] == x["ticker_bid"][sel])
            & (best.ask_px[i] == x["ticker_ask"][sel])
        )

    aligned = valid & (bu[np.clip(pos, 0, None)] == tu)
    m_al = match(aligned)
    full = match(aligned) & (best.bid_qty[idx[aligned]] == x["ticker_bid_qty"][aligned]) & (best.ask_qty[idx[aligned]] == x["ticker_ask_qty"][aligned])
    m_all = match(valid)
    out.update(
        {
            "book_tickers": int(len(tu)),
            "aligned": int(aligned.sum()),
            "aligned_price_match": int(m_al.sum()),
            "aligned_price_match_rate": float(m_al.mean()) if aligned.any() else None,
            "aligned_price_qty_match_rate": float(full.mean()) if aligned.any() else None,
            "latest_diff_price_match_rate": float(m_all.mean()) if valid.any() else None,
        }
    )
    return out
