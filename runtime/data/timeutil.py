"""Timestamp helpers: local session times to UTC epoch nanoseconds, and text timestamps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from .errors import InputError

NS = 1_000_000_000
UNITS = {"s": NS, "ms": 1_000_000, "us": 1_000, "ns": 1}


def local_midnight_utc_ns(date: dt.date, tz: str) -> int:
    """UTC epoch ns of 00:00 local time on ``date``, using the UTC offset in force at 12:00 local.

    Session data (LOBSTER, exchange closes) lies well after the 02:00 DST switch, so the noon
    offset is the one that applies to every timestamp of the day.
    """
    zone = ZoneInfo(tz)
    noon = dt.datetime(date.year, date.month, date.day, 12, tzinfo=zone)
    offset = noon.utcoffset()
    midnight_utc = dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc) - offset
    return int(midnight_utc.timestamp()) * NS


def local_times_utc_ns(dates: np.ndarray, seconds_after_midnight: int, tz: str) -> np.ndarray:
    """UTC epoch ns of ``seconds_after_midnight`` local time on each of ``dates`` (datetime64[D]).

    Offsets are computed once per distinct date, so this is fast for long daily series.
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    uniq, inv = np.unique(dates, return_inverse=True)
    base = np.array(
        [local_midnight_utc_ns(d.astype(dt.date), tz) for d in uniq], dtype=np.int64
    )
    return base[inv] + np.int64(seconds_after_midnight) * NS


def parse_ts_column(values: list[str], unit: str, what: str = "ts") -> np.ndarray:
    """Text timestamps to UTC epoch ns.

    ``unit`` is one of s/ms/us/ns for numbers since the epoch, or ``iso`` for ISO 8601 text
    (``2024-01-02T09:30:00.123``, a space instead of ``T`` is accepted; a trailing ``Z`` means UTC;
    no other offsets). Raises ``InputError`` naming the first bad value's index.
    """
    if unit in UNITS:
        return _numeric_ts(values, unit, what)
    if unit == "iso":
        cleaned = [v.strip().replace(" ", "T").removesuffix("Z") for v in values]
        try:
            return np.array(cleaned, dtype="datetime64[ns]").astype(np.int64)
        except ValueError:
            for i, v in enumerate(cleaned):
                try:
                    np.datetime64(v, "ns")
                except ValueError:
                    raise InputError(f"row {i}: {what} {values[i]!r} is not an ISO 8601 time") from None
            raise
    raise InputError(f"timestamp unit must be one of s, ms, us, ns, iso; was {unit!r}")


def _numeric_ts(values: list[str], unit: str, what: str) -> np.ndarray:
    """Numbers since the epoch in ``unit`` -> ns, exact for plain decimals (no float rounding:
    ``1700000000.25`` s is exactly 1700000000250000000 ns)."""
    scale = UNITS[unit]
    try:  # fast path: integers
        return np.array(values, dtype=np.int64) * scale
    except (ValueError, OverflowError):
        pass
    digits = len(str(scale)) - 1  # fractional digits that still name whole ns
    whole: list[int] = []
    frac: list[int] = []
    for i, raw in enumerate(values):
        v = raw.strip()
        head, dot, tail = v.partition(".")
        if head.lstrip("+").isdigit() and (not dot or tail == "" or tail.isdigit()):
            whole.append(int(head))
            frac.append(int((tail[:digits]).ljust(digits, "0")) if digits else 0)
            if tail[digits:].strip("0"):
                frac[-1] += int(tail[digits] >= "5")  # round below 1 ns
            continue
        try:
            x = float(v)
        except ValueError:
            raise InputError(f"row {i}: {what} {raw!r} is not a number (--ts-unit {unit})") from None
        if not np.isfinite(x):
            raise InputError(f"row {i}: {what} {raw!r} is not a finite number")
        ns = int(round(x * scale))
        whole.append(ns // scale)
        frac.append(ns % scale)
    return np.array(whole, dtype=np.int64) * scale + np.array(frac, dtype=np.int64)
