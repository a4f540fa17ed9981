"""Drive a twin strategy through a *callback tape* and collect its decisions.

A tape is a list of callback records (plain dicts, JSON-able), in delivery order::

    {"cb": "book",  "t": now_ns, "pos": [lots, ...], "book": {sf_book fields},
     "levels": {"bid": [[px, qty], ...], "ask": [[px, qty], ...]}}     # levels optional
    {"cb": "trade", "t": ..., "pos": [...], "trade": {sf_trade fields}}
    {"cb": "bar",   "t": ..., "pos": [...], "bar": {sf_bar fields}}
    {"cb": "fill",  "t": ..., "pos": [...], "fill": {sf_fill fields}}
    {"cb": "order_update", "t": ..., "pos": [...], "update": {sf_order_update fields}}
    {"cb": "timer", "t": ..., "pos": [...], "timer": timer_id}

``t`` is ``ctx.now``; ``pos`` is what ``ctx.position(i)`` answers during the callback; ``levels``
is the L2 book ``ctx.level`` answers for that instrument from this record on. The host accepts
every request and numbers orders 1, 2, 3, ... (docs/templates.md). :func:`encode_tape_text` writes
the same tape in the whitespace-separated form the C++ parity harness reads.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from .abi import SF_SIDE_BUY, SF_SIDE_SELL, Bar, Book, Fill, Instrument, OrderUpdate, Trade
from .context import Decision, RecordingContext
from .params import Params
from .strategy import CreateArgs, Strategy

__all__ = ["replay", "create", "encode_tape_text", "decode_tape_text", "TapeRecord", "BOOK_FIELDS", "TRADE_FIELDS",
           "BAR_FIELDS", "FILL_FIELDS", "UPDATE_FIELDS"]

TapeRecord = dict[str, Any]

BOOK_FIELDS = ("exch_ts", "recv_ts", "instrument", "flags", "bid_px", "bid_qty", "ask_px", "ask_qty",
               "bid_levels", "ask_levels")
TRADE_FIELDS = ("exch_ts", "recv_ts", "instrument", "side", "px", "qty", "trade_id")
BAR_FIELDS = ("end_ts", "recv_ts", "instrument", "open", "high", "low", "close", "volume")
FILL_FIELDS = ("ts", "order_id", "instrument", "side", "liquidity", "px", "qty", "leaves_qty", "position")
UPDATE_FIELDS = ("ts", "order_id", "instrument", "side", "status", "px", "qty", "leaves_qty")


def create(cls: Callable[[CreateArgs], Strategy], params_blob: str, instruments: Sequence[Instrument], *,
           strategy_id: str = "twin", seed: int = 0) -> Strategy:
    """Construct a twin the way the engine constructs a plugin (params parsed from the blob)."""
    return cls(CreateArgs(strategy_id, Params.parse(params_blob), list(instruments), seed))


def _dispatch(strategy: Strategy, ctx: RecordingContext, rec: TapeRecord) -> None:
    cb = rec["cb"]
    if cb == "book":
        b = rec["book"]
        strategy.on_book(ctx, Book(**{k: int(b[k]) for k in BOOK_FIELDS}))
    elif cb == "trade":
        t = rec["trade"]
        strategy.on_trade(ctx, Trade(**{k: int(t[k]) for k in TRADE_FIELDS}))
    elif cb == "bar":
        b = rec["bar"]
        strategy.on_bar(ctx, Bar(**{k: int(b[k]) for k in BAR_FIELDS}))
    elif cb == "fill":
        f = rec["fill"]
        strategy.on_fill(ctx, Fill(**{k: int(f[k]) for k in FILL_FIELDS}, fee=float(f.get("fee", 0.0))))
    elif cb == "order_update":
        u = rec["update"]
        strategy.on_order_update(ctx, OrderUpdate(**{k: int(u[k]) for k in UPDATE_FIELDS}))
    elif cb == "timer":
        strategy.on_timer(ctx, int(rec["timer"]))
    else:
        raise ValueError(f"Condition failed: unknown callback kind {cb!r} in tape record {rec!r}")


def apply_host_state(ctx: RecordingContext, seq: int, rec: TapeRecord) -> None:
    """Set what the host answers during this callback: clock, positions, L2 levels."""
    ctx.seq = seq
    ctx.t = int(rec["t"])
    ctx.positions = [int(p) for p in rec.get("pos", ())]
    if rec["cb"] == "book" and "levels" in rec:
        inst = int(rec["book"]["instrument"])
        lv = rec["levels"]
        ctx.levels[inst] = {SF_SIDE_BUY: [(int(p), int(q)) for p, q in lv.get("bid", ())],
                            SF_SIDE_SELL: [(int(p), int(q)) for p, q in lv.get("ask", ())]}


def replay(strategy: Strategy, tape: Iterable[TapeRecord], *, record_logs: bool = True) -> list[Decision]:
    """Feed every record of ``tape`` to ``strategy``; return its decision records in order."""
    ctx = RecordingContext(record_logs=record_logs)
    for seq, rec in enumerate(tape):
        apply_host_state(ctx, seq, rec)
        _dispatch(strategy, ctx, rec)
    return ctx.decisions


def _line(rec: TapeRecord) -> str:
    cb = rec["cb"]
    pos = [int(p) for p in rec.get("pos", ())]
    head = [cb, str(int(rec["t"])), str(len(pos)), *map(str, pos)]
    if cb == "book":
        body = [str(int(rec["book"][k])) for k in BOOK_FIELDS]
        lv = rec.get("levels")
        if lv is None:
            body.append("-1")
        else:
            for side in ("bid", "ask"):
                rows = lv.get(side, ())
                body.append(str(len(rows)))
                for p, q in rows:
                    body += [str(int(p)), str(int(q))]
    elif cb == "trade":
        body = [str(int(rec["trade"][k])) for k in TRADE_FIELDS]
    elif cb == "bar":
        body = [str(int(rec["bar"][k])) for k in BAR_FIELDS]
    elif cb == "fill":
        body = [str(int(rec["fill"][k])) for k in FILL_FIELDS] + [repr(float(rec["fill"].get("fee", 0.0)))]
    elif cb == "order_update":
        body = [str(int(rec["update"][k])) for k in UPDATE_FIELDS]
    elif cb == "timer":
        body = [str(int(rec["timer"]))]
    else:
        raise ValueError(f"Condition failed: unknown callback kind {cb!r}")
    return " ".join(head + body)


def encode_tape_text(tape: Iterable[TapeRecord]) -> str:
    """The tape as text lines: ``cb t npos pos... fields...`` (book: ``nbid (px qty)* nask
    (px qty)*`` after the fields, or ``-1`` when the record carries no levels)."""
    return "".join(_line(r) + "\n" for r in tape)


def _record(cb: str, t: int, pos: list[int], f: list[str]) -> TapeRecord:
    rec: TapeRecord = {"cb": cb, "t": t, "pos": pos}
    if cb == "book":
        rec["book"] = dict(zip(BOOK_FIELDS, map(int, f[:10])))
        rest = f[10:]
        if rest and rest[0] != "-1":
            nb = int(rest[0])
            bid = [[int(rest[1 + 2 * i]), int(rest[2 + 2 * i])] for i in range(nb)]
            rest = rest[1 + 2 * nb:]
            na = int(rest[0])
            ask = [[int(rest[1 + 2 * i]), int(rest[2 + 2 * i])] for i in range(na)]
            rec["levels"] = {"bid": bid, "ask": ask}
    elif cb == "trade":
        rec["trade"] = dict(zip(TRADE_FIELDS, map(int, f)))
    elif cb == "bar":
        rec["bar"] = dict(zip(BAR_FIELDS, map(int, f)))
    elif cb == "fill":
        rec["fill"] = {**dict(zip(FILL_FIELDS, map(int, f[:9]))), "fee": float(f[9])}
    elif cb == "order_update":
        rec["update"] = dict(zip(UPDATE_FIELDS, map(int, f)))
    elif cb == "timer":
        rec["timer"] = int(f[0])
    else:
        raise ValueError(f"Condition failed: unknown callback kind {cb!r} in tape text")
    return rec


def decode_tape_text(text: str) -> list[TapeRecord]:
    """Inverse of :func:`encode_tape_text`."""
    out: list[TapeRecord] = []
    for line in text.splitlines():
        tok = line.split()
        if not tok:
            continue
        n = int(tok[2])
        out.append(_record(tok[0], int(tok[1]), [int(x) for x in tok[3:3 + n]], tok[3 + n:]))
    return out
