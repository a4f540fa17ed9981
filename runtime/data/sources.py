"""Where a user's market data comes from: path resolution, the data kind of an event file, and
merging several converted files into one time-ordered stream.

* :func:`resolve_paths` turns the path text of a spec (``shared:<p>``, ``~/p``, absolute, or
  relative to the repository; a glob or a list of them) into real files: symlinks resolved,
  regular readable files only, optionally confined to allowed roots (after resolution, so a link
  cannot lead out of them).
* :func:`events_kind` reads the data kind (``bars`` or ``book``) of an ``.sfe`` file from its
  header's instrument table — ``bar_interval_ns`` is > 0 for bar data and 0 otherwise
  (docs/formats.md) — without reading the events.
* :func:`merge` joins converted parts: instruments by symbol, events sorted stably by
  ``recv_ts`` (equal times keep the order of the parts).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from stratforge.core.spec.datakind import BARS, BOOK, FORMAT_KINDS

from .errors import DataFormatError, InputError
from .format import (HEADER_DTYPE, HEADER_SIZE, INSTRUMENT_DTYPE, INSTRUMENT_SIZE, MAGIC,
                     MAX_INSTRUMENTS, Instrument, sort_events)
from .result import Converted

SHARED_PREFIX = "shared:"
GLOB_CHARS = frozenset("*?[")


def shared_root(repo_root: Path) -> Path:
    """The shared data folder: ``shared/data`` beside the repository."""
    return repo_root.resolve().parent / "shared" / "data"


def _expand(raw: str, repo_root: Path) -> tuple[Path, str]:
    """The unresolved path of one spec path text, and where it was looked for (for messages)."""
    if raw.startswith(SHARED_PREFIX):
        base = shared_root(repo_root)
        return base / raw[len(SHARED_PREFIX):].lstrip("/"), f"the shared data folder {base}"
    if raw.startswith("~"):
        return Path(raw).expanduser(), "your home folder"
    path = Path(raw)
    if path.is_absolute():
        return path, "the file system"
    return repo_root / path, f"the repository {repo_root}"


def _check_file(path: Path, raw: str, what: str, roots: Sequence[Path] | None) -> Path:
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"{what}: {raw!r} ({path}) does not exist (a broken link?)") from None
    except (OSError, RuntimeError) as err:
        raise InputError(f"{what}: {raw!r} cannot be resolved: {err}") from None
    if not real.is_file():
        raise InputError(f"{what}: {raw!r} is not a regular file ({real})")
    if not os.access(real, os.R_OK):
        raise InputError(f"{what}: {raw!r} ({real}) is not readable by this user")
    if roots is not None and not any(real.is_relative_to(r) for r in roots):
        raise InputError(f"{what}: {raw!r} resolves to {real}, outside the allowed data folders "
                         f"({', '.join(str(r) for r in roots)}; STRATFORGE_DATA_ROOTS)")
    return real


def resolve_paths(raws: str | Iterable[str], repo_root: Path, what: str = "backtest.data.path",
                  roots: Sequence[Path] | None = None) -> list[Path]:
    """Every file named by ``raws`` (paths or globs), resolved, in order: list order, and name
    order within a glob. A name that matches nothing is an error naming where it was looked for;
    a file named twice is kept once (first place)."""
    roots = None if roots is None else [Path(r).resolve() for r in roots]
    out: list[Path] = []
    for raw in [raws] if isinstance(raws, str) else list(raws):
        path, where = _expand(raw, repo_root)
        if GLOB_CHARS & set(raw):
            hits = sorted(glob.glob(str(path), recursive=True))
            if not hits:
                raise InputError(f"{what}: {raw!r} matches no file in {where}")
            found = [_check_file(Path(h), raw, what, roots) for h in hits
                     if not Path(h).is_dir()]
            if not found:
                raise InputError(f"{what}: {raw!r} matches only folders in {where}")
        else:
            if not path.exists() and not path.is_symlink():
                raise InputError(f"{what}: {raw!r} does not exist in {where}; put the file there "
                                 f"or point the spec at another data set")
            found = [_check_file(path, raw, what, roots)]
        out += [f for f in found if f not in out]
    return out


def roots_from_env(value: str | None) -> list[Path] | None:
    """``STRATFORGE_DATA_ROOTS`` (``os.pathsep``-separated folders) -> roots, None when unset."""
    if not value:
        return None
    return [Path(v).expanduser() for v in value.split(os.pathsep) if v.strip()]


def events_kind(path: str | os.PathLike) -> str:
    """``bars`` or ``book``: the data kind of an ``.sfe`` file, from its header.

    Every instrument of a bar file has ``bar_interval_ns > 0``; every instrument of a book/trade
    file has 0. A file that mixes them is refused (a strategy runs on one kind)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEADER_SIZE)
            if len(raw) < HEADER_SIZE:
                raise DataFormatError(f"{path}: shorter than the {HEADER_SIZE}-byte header; "
                                      "not an .sfe event file")
            header = np.frombuffer(raw, dtype=HEADER_DTYPE)[0]
            if header["magic"] != MAGIC:
                raise DataFormatError(f"{path}: magic is {bytes(raw[:8])!r}, expected {MAGIC!r}; "
                                      "not an .sfe event file")
            n = int(header["instrument_count"])
            if not 1 <= n <= MAX_INSTRUMENTS:
                raise DataFormatError(f"{path}: instrument_count is {n}, expected "
                                      f"1..{MAX_INSTRUMENTS}")
            table_raw = fh.read(INSTRUMENT_SIZE * n)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    if len(table_raw) < INSTRUMENT_SIZE * n:
        raise DataFormatError(f"{path}: the instrument table is truncated")
    table = np.frombuffer(table_raw, dtype=INSTRUMENT_DTYPE)
    bars = table["bar_interval_ns"] > 0
    if bars.all():
        return BARS
    if not bars.any():
        return BOOK
    mixed = ", ".join(f"{s.decode('ascii', 'replace').rstrip(chr(0))}="
                      f"{'bars' if b else 'book'}" for s, b in zip(table["symbol"], bars))
    raise DataFormatError(f"{path}: mixes bar and book instruments ({mixed}); a strategy runs on "
                          "one kind of data, split the file")


def merge(parts: Sequence[Converted], source: str) -> Converted:
    """One stream from several converted parts: instruments joined by symbol (tick, lot and bar
    interval must agree), events re-indexed and sorted stably by ``recv_ts``."""
    if len(parts) == 1:
        return parts[0]
    instruments: list[Instrument] = []
    index: dict[str, int] = {}
    chunks = []
    for part in parts:
        remap = np.zeros(max(1, len(part.instruments)), dtype=np.uint16)
        for k, ins in enumerate(part.instruments):
            if ins.symbol not in index:
                index[ins.symbol] = len(instruments)
                instruments.append(ins)
            have = instruments[index[ins.symbol]]
            if (have.tick_size, have.lot_size, have.bar_interval_ns) != (
                    ins.tick_size, ins.lot_size, ins.bar_interval_ns):
                raise InputError(
                    f"{part.report.get('input', source)}: {ins.symbol} has tick {ins.tick_size}, "
                    f"lot {ins.lot_size}, bar interval {ins.bar_interval_ns} ns, but an earlier "
                    f"file has {have.tick_size}, {have.lot_size}, {have.bar_interval_ns} ns")
            remap[k] = index[ins.symbol]
        ev = np.array(part.events, copy=True)
        ev["instrument"] = remap[ev["instrument"]]
        chunks.append(ev)
    events = np.concatenate(chunks)
    order = np.argsort(events["recv_ts"], kind="stable")
    report = {"inputs": [p.report.get("input") for p in parts],
              "parts": [p.report for p in parts], "events": int(len(events)),
              "overlaps": _overlaps(parts, chunks, instruments)}
    return Converted(instruments, sort_events(events[order]), source, report)


def _overlaps(parts: Sequence[Converted], chunks: list[np.ndarray],
              instruments: list[Instrument]) -> list[str]:
    """Parts whose time ranges for one instrument overlap (e.g. two captures of the same hour:
    their events interleave after the merge and may repeat)."""
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for part, ev in zip(parts, chunks):
        name = Path(str(part.report.get("input", part.source))).name
        for k in np.unique(ev["instrument"]).tolist():
            ts = ev["recv_ts"][ev["instrument"] == k]
            spans.setdefault(k, []).append((int(ts.min()), int(ts.max()), name))
    out = []
    for k, ranges in spans.items():
        ranges.sort()
        for (lo1, hi1, a), (lo2, hi2, b) in zip(ranges, ranges[1:]):
            if lo2 < hi1:
                out.append(f"{instruments[k].symbol}: {a} and {b} overlap in time")
    return out


__all__ = ["SHARED_PREFIX", "events_kind", "merge",
           "resolve_paths", "roots_from_env", "shared_root"]
