"""Timestamp helpers: local session times to UTC epoch nanoseconds, and text timestamps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def parse_ts_column(values: list[str], unit: str, what: str = "ts", *, fmt: str | None = None,
                    tz: str | None = None, bad: list[tuple[int, str]] | None = None) -> np.ndarray:
    """Text timestamps to UTC epoch ns.

    ``unit`` is one of s/ms/us/ns for numbers since the epoch, or ``iso`` for ISO 8601 text
    (``2024-01-02T09:30:00.123``, a space instead of ``T`` is accepted; a trailing ``Z`` means UTC;
    no other offsets). ``fmt``, when given, is a ``strptime`` format (``%m/%d/%Y``) and replaces
    ``unit``. Text times without an offset are local times in ``tz`` (an IANA zone), UTC when
    ``tz`` is None.

    Bad values: with ``bad`` given, every one is appended as ``(index, message)`` and gets time 0;
    without it, ``InputError`` names the first one (``row <index>: ...``).
    """
    errors: list[tuple[int, str]] = [] if bad is None else bad
    before = len(errors)
    if fmt is not None:
        out = _formatted_ts(values, fmt, tz, what, errors)
    elif unit in UNITS:
        out = _numeric_ts(values, unit, what, errors)
    elif unit == "iso":
        out = _iso_ts(values, tz, what, errors)
    else:
        raise InputError(f"timestamp unit must be one of s, ms, us, ns, iso; was {unit!r}")
    if bad is None and len(errors) > before:
        i, message = errors[before]
        raise InputError(f"row {i}: {message}")
    return out


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"time zone {tz!r} is not an IANA zone name such as America/New_York") from None


def _iso_ts(values: list[str], tz: str | None, what: str, errors: list[tuple[int, str]]) -> np.ndarray:
    cleaned = [v.strip().replace(" ", "T").removesuffix("Z") for v in values]
    try:
        out = np.array(cleaned, dtype="datetime64[ns]").astype(np.int64)
    except ValueError:
        out = np.zeros(len(values), dtype=np.int64)
        for i, v in enumerate(cleaned):
            try:
                out[i] = np.datetime64(v, "ns").astype(np.int64)
            except ValueError:
                errors.append((i, f"{what} {values[i]!r} is not an ISO 8601 time"))
    zone = _zone(tz)
    if zone is not None:  # naive local wall times -> UTC (a trailing Z stays UTC)
        local = np.array([not v.strip().endswith("Z") for v in values], dtype=bool)
        out = np.where(local, _local_wall_to_utc(out, zone), out)
    return out


def _local_wall_to_utc(wall_ns: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Wall-clock times in ``zone`` (as if UTC ns) -> UTC ns, one offset per distinct hour."""
    hours = wall_ns // (3600 * NS)
    uniq, inv = np.unique(hours, return_inverse=True)
    offsets = np.empty(len(uniq), dtype=np.int64)
    for k, h in enumerate(uniq.tolist()):
        naive = dt.datetime(1970, 1, 1) + dt.timedelta(hours=h)
        offsets[k] = int(naive.replace(tzinfo=zone).utcoffset().total_seconds()) * NS
    return wall_ns - offsets[inv]


def _formatted_ts(values: list[str], fmt: str, tz: str | None, what: str,
                  errors: list[tuple[int, str]]) -> np.ndarray:
    """``strptime`` each distinct value once (daily files repeat few values; fast enough)."""
    zone = _zone(tz)
    uniq, inv = np.unique(np.array([v.strip() for v in values], dtype=object).astype(str),
                          return_inverse=True)
    parsed = np.zeros(len(uniq), dtype=np.int64)
    failed = np.zeros(len(uniq), dtype=bool)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    for k, text in enumerate(uniq.tolist()):
        try:
            t = dt.datetime.strptime(text, fmt)
        except ValueError:
            failed[k] = True
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=zone or dt.timezone.utc)
        d = t - epoch
        parsed[k] = (d.days * 86_400 + d.seconds) * NS + d.microseconds * 1_000
    if failed.any():
        for i in np.flatnonzero(failed[inv]).tolist():
            errors.append((i, f"{what} {values[i]!r} does not match the date format {fmt!r}"))
    return parsed[inv]


def _numeric_ts(values: list[str], unit: str, what: str, errors: list[tuple[int, str]]) -> np.ndarray:
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
            errors.append((i, f"{what} {raw!r} is not a number (timestamp unit {unit})"))
            x = 0.0
        if not np.isfinite(x):
            errors.append((i, f"{what} {raw!r} is not a finite number"))
            x = 0.0
        ns = int(round(x * scale))
        whole.append(ns // scale)
        frac.append(ns % scale)
    return np.array(whole, dtype=np.int64) * scale + np.array(frac, dtype=np.int64)
