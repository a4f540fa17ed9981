"""Bars of one or more instruments from an ``.sfe`` file: what both the engine and backtrader replay.

Used on both sides of the sandbox: the runner reads the bars it hands to backtrader, the host
writes truncated copies for the look-ahead check. numpy and the event-file reader only (no
backtrader), so the host can import it.

Bars are numbered in file order over all instruments (the engine's event order): the cut points
of the look-ahead check, the ``bar`` of a backtrader fill and the decision bars use that number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from stratforge.runtime.data.format import BAR, EventFileWriter, open_events
from stratforge.runtime.twin import Instrument

__all__ = ["CrosscheckDataError", "InstrumentBars", "load_bars", "load_bar_set", "bar_times",
           "bar_instruments", "write_truncated"]

COLUMNS = ("open", "high", "low", "close", "volume")


class CrosscheckDataError(ValueError):
    """The data file cannot be cross-checked (no bars, or not the strategy's instruments)."""


@dataclass(frozen=True)
class InstrumentBars:
    """One instrument's bars: the instrument as the strategy sees it (``id`` = the file's
    instrument id, as the engine hands it), its integer columns ``end_ts recv_ts open high low
    close volume`` (ticks, lots, ns) exactly as stored, and ``position``: the file bar number of
    each of its bars."""

    instrument: Instrument
    columns: dict[str, np.ndarray]
    position: np.ndarray


def _bar_mask(path: str | os.PathLike):
    ef = open_events(path)
    ev = ef.events
    mask = ev["type"] == BAR
    if not mask.any():
        raise CrosscheckDataError(f"{path}: no BAR records; the cross-check needs bar data "
                                  "(stratforge data convert bars-csv)")
    return ef, mask


def load_bar_set(path: str | os.PathLike, symbols: Sequence[str] | None = None) -> list[InstrumentBars]:
    """The bars of each instrument in ``symbols`` (default: every instrument of the file, in
    file order), in that order. A symbol the file does not hold is a :class:`CrosscheckDataError`
    naming it; an instrument may have no bars (a truncated copy ending before its first one)."""
    ef, mask = _bar_mask(path)
    names = [i.symbol for i in ef.instruments]
    wanted = list(symbols) if symbols else names
    if len(wanted) == 1 and len(names) == 1:
        wanted = names  # one instrument either way: the file's (a spec retargeted to another market)
    ev = np.asarray(ef.events[mask])
    inst_of = ev["instrument"].astype(np.int64)
    out = []
    for sym in wanted:
        if sym not in names:
            raise CrosscheckDataError(f"{path}: no instrument {sym!r} (the file has {', '.join(names)})")
        fid = names.index(sym)
        ins = ef.instruments[fid]
        sel = np.flatnonzero(inst_of == fid)  # may be empty: a truncated copy before its first bar
        mine = ev[sel]
        cols = {"end_ts": mine["exch_ts"].astype(np.int64), "recv_ts": mine["recv_ts"].astype(np.int64)}
        for j, name in enumerate(COLUMNS):
            cols[name] = mine["v"][:, j].astype(np.int64)
        out.append(InstrumentBars(Instrument(fid, ins.symbol, ins.tick_size_e9, ins.lot_size_e9,
                                             ins.bar_interval_ns), cols, sel.astype(np.int64)))
    return out


def load_bars(path: str | os.PathLike):
    """``(Instrument, columns)`` of a one-instrument file's bars in file order (see
    :func:`load_bar_set` for several instruments)."""
    ef = open_events(path)
    if len(ef.instruments) != 1:
        raise CrosscheckDataError(f"{path}: {len(ef.instruments)} instruments; use load_bar_set")
    (one,) = load_bar_set(path)
    return Instrument(0, one.instrument.symbol, one.instrument.tick_size_e9, one.instrument.lot_size_e9,
                      one.instrument.bar_interval_ns), one.columns


def bar_times(path: str | os.PathLike) -> np.ndarray:
    """Receive times (the replay clock) of the file's bars, all instruments, in file order."""
    ef, mask = _bar_mask(path)
    return np.asarray(ef.events["recv_ts"][mask]).astype(np.int64)


def bar_instruments(path: str | os.PathLike) -> np.ndarray:
    """The file instrument id of each bar, in file order."""
    ef, mask = _bar_mask(path)
    return np.asarray(ef.events["instrument"][mask]).astype(np.int64)


def write_truncated(src: str | os.PathLike, dst: str | os.PathLike, last_bar: int) -> int:
    """Copy ``src`` keeping every record up to and including the ``last_bar``-th bar (0-based,
    counted over all instruments in file order); returns the number of records written.
    Nothing after that bar reaches ``dst``."""
    ef, mask = _bar_mask(src)
    idx = np.flatnonzero(mask)
    if not 0 <= last_bar < len(idx):
        raise CrosscheckDataError(f"Condition failed: last_bar must be in [0, {len(idx)}), was {last_bar}")
    keep = np.asarray(ef.events[: idx[last_bar] + 1])
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with EventFileWriter(dst, ef.instruments, source=ef.source[:16] or "crosscheck") as w:
        w.append(keep.copy())
    return len(keep)
