"""Bars of one instrument from an ``.sfe`` file: what both the engine and backtrader replay.

Used on both sides of the sandbox: the runner reads the bars it hands to backtrader, the host
writes truncated copies for the look-ahead check. numpy and the event-file reader only (no
backtrader), so the host can import it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from stratforge.runtime.data.format import BAR, EventFileWriter, open_events
from stratforge.runtime.twin import Instrument

__all__ = ["CrosscheckDataError", "load_bars", "bar_times", "write_truncated"]


class CrosscheckDataError(ValueError):
    """The data file cannot be cross-checked (not bars of exactly one instrument)."""


def _bar_mask(path: str | os.PathLike):
    ef = open_events(path)
    if len(ef.instruments) != 1:
        raise CrosscheckDataError(f"{path}: the bar cross-check replays one instrument, the file has "
                                  f"{len(ef.instruments)}; convert one symbol per file")
    ev = ef.events
    mask = ev["type"] == BAR
    if not mask.any():
        raise CrosscheckDataError(f"{path}: no BAR records; the cross-check needs bar data "
                                  "(stratforge data convert bars-csv)")
    return ef, mask


def load_bars(path: str | os.PathLike):
    """``(Instrument, columns)`` of the file's bars in file order; columns are int64 arrays
    ``end_ts recv_ts open high low close volume`` (ticks, lots, ns) exactly as stored."""
    ef, mask = _bar_mask(path)
    ins = ef.instruments[0]
    ev = np.asarray(ef.events[mask])
    inst = Instrument(0, ins.symbol, ins.tick_size_e9, ins.lot_size_e9, ins.bar_interval_ns)
    cols = {"end_ts": ev["exch_ts"].astype(np.int64), "recv_ts": ev["recv_ts"].astype(np.int64)}
    for j, name in enumerate(("open", "high", "low", "close", "volume")):
        cols[name] = ev["v"][:, j].astype(np.int64)
    return inst, cols


def bar_times(path: str | os.PathLike) -> np.ndarray:
    """Receive times (the replay clock) of the file's bars."""
    return load_bars(path)[1]["recv_ts"]


def write_truncated(src: str | os.PathLike, dst: str | os.PathLike, last_bar: int) -> int:
    """Copy ``src`` keeping every record up to and including the ``last_bar``-th bar (0-based);
    returns the number of records written. Nothing after that bar reaches ``dst``."""
    ef, mask = _bar_mask(src)
    idx = np.flatnonzero(mask)
    if not 0 <= last_bar < len(idx):
        raise CrosscheckDataError(f"Condition failed: last_bar must be in [0, {len(idx)}), was {last_bar}")
    keep = np.asarray(ef.events[: idx[last_bar] + 1])
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with EventFileWriter(dst, ef.instruments, source=ef.source[:16] or "crosscheck") as w:
        w.append(keep.copy())
    return len(keep)
