"""Vectorised helpers shared by the converters and the synthetic market.

* ``Column`` / ``assemble``: turn per-source-row candidate records (a fixed set of "columns",
  each with a validity mask) into an event array in row order then column order, marking the last
  record of each row ``END_OF_BATCH``. No sorting, no Python loop over rows.
* ``book_diff``: the DEPTH records that take one window of L levels per side to the next.
* ``to_grid``: price -> ticks and qty -> lots rounding that counts off-grid values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

import numpy as np

from .format import END_OF_BATCH, EVENT_DTYPE, SCALE_E9


@dataclass
class Column:
    """Candidate records: one per source row (``mask`` shape (n,)) or k per row ((n, k))."""

    mask: np.ndarray
    type: int
    side: int | np.ndarray = 0
    v: Sequence[np.ndarray | int] = ()
    flags: int | np.ndarray = 0

    def width(self) -> int:
        return 1 if self.mask.ndim == 1 else self.mask.shape[1]


def _pick(value: int | np.ndarray, rows: np.ndarray, cols: np.ndarray):
    if np.isscalar(value) or np.ndim(value) == 0:
        return value
    value = np.asarray(value)
    return value[rows] if value.ndim == 1 else value[rows, cols]


def assemble(
    columns: Sequence[Column],
    exch_ts: np.ndarray,
    recv_ts: np.ndarray,
    instrument: int | np.ndarray = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Build events from candidate columns. Returns (events, source_row_of_each_event)."""
    n = len(recv_ts)
    widths = [c.width() for c in columns]
    masks = np.concatenate([c.mask.reshape(n, -1) for c in columns], axis=1)
    rows, cols = np.nonzero(masks)
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    out["exch_ts"] = exch_ts[rows]
    out["recv_ts"] = recv_ts[rows]
    out["instrument"] = _pick(instrument, rows, rows)
    start = 0
    for col, w in zip(columns, widths):
        sel = np.flatnonzero((cols >= start) & (cols < start + w))
        if len(sel):
            r, c = rows[sel], cols[sel] - start
            out["type"][sel] = col.type
            out["side"][sel] = _pick(col.side, r, c)
            out["flags"][sel] = _pick(col.flags, r, c)
            for j, val in enumerate(col.v):
                out["v"][sel, j] = _pick(val, r, c)
        start += w
    if len(rows):
        last = np.ones(len(rows), dtype=bool)
        last[:-1] = rows[1:] != rows[:-1]
        out["flags"][last] |= END_OF_BATCH
    return out, rows


def book_diff(
    prev_px: np.ndarray, prev_q: np.ndarray, cur_px: np.ndarray, cur_q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Masks (deleted, changed) over the (n, L) level windows of one side.

    A level with qty 0 is empty (its price is ignored). ``deleted[:, j]``: prev level j is gone
    from the new window. ``changed[:, j]``: new level j is new or has a new quantity.
    """
    prev_live = prev_q > 0
    cur_live = cur_q > 0
    same_px = (prev_px[:, :, None] == cur_px[:, None, :]) & prev_live[:, :, None] & cur_live[:, None, :]
    deleted = prev_live & ~same_px.any(axis=2)
    same_level = same_px & (prev_q[:, :, None] == cur_q[:, None, :])
    changed = cur_live & ~same_level.any(axis=1)
    return deleted, changed


def to_grid(values: np.ndarray, step: Decimal | str, what: str, stats: dict, max_examples: int = 3) -> np.ndarray:
    """Round float ``values`` to integer multiples of ``step``; count off-grid ones into ``stats``.

    A value is off-grid when it is more than 1e-6 of a step from the nearest multiple.
    """
    step_e9 = int(Decimal(str(step)) * SCALE_E9)
    units = np.asarray(values, dtype=np.float64) * (SCALE_E9 / step_e9)
    out = np.rint(units)
    off = np.abs(units - out) > 1e-6
    if not np.all(np.isfinite(units)):
        off |= ~np.isfinite(units)
        out[~np.isfinite(units)] = 0
    count = int(off.sum())
    entry = stats.setdefault(f"off_grid_{what}", 0)
    stats[f"off_grid_{what}"] = entry + count
    if count:
        ex = stats.setdefault(f"off_grid_{what}_examples", [])
        for x in np.asarray(values)[off][: max_examples - len(ex)]:
            ex.append(f"{float(x)!r}")
    return out.astype(np.int64)


def int_to_grid(values: np.ndarray, units_per_step: int, what: str, stats: dict) -> np.ndarray:
    """Round integer ``values`` (already in fixed units) to steps of ``units_per_step``."""
    values = np.asarray(values, dtype=np.int64)
    q, r = np.divmod(values, units_per_step)
    up = 2 * r >= units_per_step
    count = int(np.count_nonzero(r))
    stats[f"off_grid_{what}"] = stats.get(f"off_grid_{what}", 0) + count
    if count:
        ex = stats.setdefault(f"off_grid_{what}_examples", [])
        for x in values[r != 0][: 3 - len(ex)]:
            ex.append(str(int(x)))
    return q + up
