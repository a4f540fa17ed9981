"""Convert stratforge `.sfe` events to hftbacktest's event array (vectorised numpy).

Mapping (docs/formats.md -> hftbacktest 2.x `event_dtype`):

- DEPTH (type 2), side 1/2  -> DEPTH_EVENT | BUY_EVENT / SELL_EVENT, px = ticks * tick_size,
  qty = lots * lot_size (qty 0 deletes the level in both). Records flagged SNAPSHOT become
  DEPTH_SNAPSHOT_EVENT (hftbacktest applies them exactly like depth updates).
- TRADE (type 3)            -> TRADE_EVENT | BUY_EVENT / SELL_EVENT by aggressor (no side flag when
  the aggressor is unknown).
- CLEAR (type 5)            -> DEPTH_CLEAR_EVENT; side 0 clears both sides (no side flag). A
  one-sided clear gets the side flag and a price beyond every level of that side (0 for bids,
  +inf for asks) so that hftbacktest's "clear up to px" empties the whole side.
- QUOTE and BAR records have no L2 equivalent in this benchmark and are refused.

Timestamps: exch_ts and local_ts come from the record's exch_ts and recv_ts. hftbacktest needs
the EXCH_EVENT rows sorted by exch_ts and the LOCAL_EVENT rows sorted by local_ts. The `.sfe` file
is sorted by recv_ts, but the synthetic exch_ts (recv_ts minus a random 20-30 us) is not
monotonic. Every record whose exch_ts is not below the running maximum keeps both flags in place;
each remaining record stays as a LOCAL_EVENT row in place and gets an EXCH_EVENT-only copy inserted
where its exch_ts belongs in the exchange stream (the same splitting hftbacktest's own
`correct_event_order` does, done with numpy instead of a per-row loop).
"""

from __future__ import annotations

import numpy as np
from hftbacktest import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    event_dtype,
)

SFE_QUOTE, SFE_DEPTH, SFE_TRADE, SFE_BAR, SFE_CLEAR = 1, 2, 3, 4, 5
SFE_SNAPSHOT = 1


def convert(events: np.ndarray, tick_size: float, lot_size: float) -> tuple[np.ndarray, dict]:
    """Return (hftbacktest event array, report) for the `.sfe` records `events` (one instrument)."""
    n = len(events)
    typ = events["type"]
    side = events["side"]
    bad = (typ == SFE_QUOTE) | (typ == SFE_BAR) | (typ == 0) | (typ > SFE_CLEAR)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} QUOTE/BAR/unknown records: only DEPTH/TRADE/CLEAR L2 data is supported")
    if (events["instrument"] != 0).any():
        raise ValueError("only single-instrument files are supported")

    ev = np.zeros(n, dtype=np.uint64)
    is_depth = typ == SFE_DEPTH
    is_snap = is_depth & ((events["flags"] & SFE_SNAPSHOT) != 0)
    ev[is_depth & ~is_snap] = DEPTH_EVENT
    ev[is_snap] = DEPTH_SNAPSHOT_EVENT
    ev[typ == SFE_TRADE] = TRADE_EVENT
    is_clear = typ == SFE_CLEAR
    ev[is_clear] = DEPTH_CLEAR_EVENT
    ev[side == 1] |= np.uint64(BUY_EVENT)
    ev[side == 2] |= np.uint64(SELL_EVENT)

    v = events["v"]
    px = v[:, 0].astype(np.float64)
    px *= tick_size
    qty = v[:, 1].astype(np.float64)
    qty *= lot_size
    px[is_clear & (side == 1)] = 0.0
    px[is_clear & (side == 2)] = np.inf
    qty[is_clear] = 0.0
    del v

    exch = events["exch_ts"]
    local = events["recv_ts"]
    if (np.diff(local) < 0).any():
        raise ValueError("records are not sorted by recv_ts")
    run_max = np.maximum.accumulate(exch)
    in_order = exch >= run_max  # exch_ts equals the running maximum: monotone subsequence
    late = np.flatnonzero(~in_order)
    ev_both = ev.copy()
    ev_both[in_order] |= np.uint64(EXCH_EVENT | LOCAL_EVENT)
    ev_both[late] |= np.uint64(LOCAL_EVENT)

    # EXCH-only copies of the late records, placed before the first in-order row whose exch_ts is
    # greater (ties: after, keeping exchange-time order stable); copies sharing an insertion point
    # are sorted by exch_ts among themselves.
    ins = np.searchsorted(run_max, exch[late], side="right")
    order = np.lexsort((exch[late], ins))
    late_sorted = late[order]
    ins_sorted = ins[order]

    m = len(late)
    out = np.zeros(n + m, dtype=event_dtype)
    # final position of original row i = i + (number of copies inserted at or before i)
    shift = np.searchsorted(ins_sorted, np.arange(n), side="right")
    pos_orig = np.arange(n) + shift
    pos_copy = ins_sorted + np.arange(m)
    for name, col in (("exch_ts", exch), ("local_ts", local), ("px", px), ("qty", qty)):
        out[name][pos_orig] = col
        out[name][pos_copy] = col[late_sorted]
    out["ev"][pos_orig] = ev_both
    out["ev"][pos_copy] = ev[late_sorted] | np.uint64(EXCH_EVENT)
    report = {
        "records": int(n),
        "rows": int(n + m),
        "exch_only_copies": int(m),
        "depth": int(is_depth.sum()),
        "snapshot_depth": int(is_snap.sum()),
        "trades": int((typ == SFE_TRADE).sum()),
        "clears": int(is_clear.sum()),
    }
    return out, report


def check_order(arr: np.ndarray) -> None:
    """hftbacktest's ordering rules: EXCH rows sorted by exch_ts, LOCAL rows by local_ts."""
    e = arr["ev"]
    ex = (e & np.uint64(EXCH_EVENT)) != 0
    lo = (e & np.uint64(LOCAL_EVENT)) != 0
    if (np.diff(arr["exch_ts"][ex]) < 0).any():
        raise ValueError("exchange events out of order")
    if (np.diff(arr["local_ts"][lo]) < 0).any():
        raise ValueError("local events out of order")
