"""Market data for a backtest: the spec's ``backtest.data`` turned into one cached ``.sfe`` file.

* ``synthetic`` sources are generated, seeded, from the spec's own instruments (symbol, tick,
  lot) by ``stratforge.runtime.data.synth`` (``market_l2``, ``market_bars``): an L2 market
  (depth updates and trades, one or two instruments — a cointegrated pair for ``stat_arb``) or
  bars (one or more instruments, further ones cointegrated with the first). The random walk is
  calibrated so the annualised volatility matches ``volatility_annual`` (docs/backtest.md,
  "Synthetic data").
* ``file`` sources are converted with the matching converter of ``stratforge.runtime.data``,
  with the spec's converter options; several files (a list, a glob, files per instrument) are
  converted one by one and merged in time order. Paths resolve as documented in docs/data.md
  (``shared:<path>`` against ``<repo>/../shared/data``, ``~``, absolute, else the repository;
  symlinks resolved) by :mod:`stratforge.runtime.data.spec_data`, which also decides the data kind
  (bars or book; an ``.sfe`` file's from its header). A malformed file is a ``UserInputError``
  listing its bad rows as ``file:line``.

The result is cached under ``<cache>/<source hash>.sfe``: the hash covers everything the file
depends on (the data section, the instruments, the period, the source file's bytes and this
module's generator version), so a cache hit is always the same bytes. ``period`` (start/end) is
applied here; an L2 slice that starts mid-stream is prefixed with a ``CLEAR`` + ``SNAPSHOT``
batch of the book at the cut so the replayed book is complete from the first event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stratforge.core.errors import UserInputError
from stratforge.core.spec import StrategySpec
from stratforge.runtime.data.spec_data import data_files, data_kind, file_kind, orderbook_file
from stratforge.core.spec.datakind import BARS
from stratforge.runtime.data import binance, csvfmt, lobster
from stratforge.runtime.data.book import L2Book, replay
from stratforge.runtime.data.errors import DataError
from stratforge.runtime.data.format import (ASK, BID, CLEAR, DEPTH, END_OF_BATCH, EVENT_DTYPE,
                                            SNAPSHOT, TRADE, Instrument, open_events, write_events)
from stratforge.runtime.data.result import Converted
from stratforge.runtime.data.sources import merge, resolve_paths
from stratforge.runtime.data.synth import DAY_NS, NS, YEAR_S, business_days, market_bars, market_l2

#: Bumped whenever the synthetic generator, the conversion or the slicing changes its output
#: (part of the key).
GENERATOR_VERSION = 6

#: Venues that trade around the clock (everything else is taken as an exchange calendar).
CONTINUOUS_VENUE_PREFIXES = ("binance", "coinbase", "kraken", "bitstamp", "bitfinex", "okx",
                             "bybit", "deribit", "huobi", "kucoin", "gemini", "crypto")



@dataclass(frozen=True)
class PreparedData:
    """The ``.sfe`` file a backtest replays, and the period it covers."""

    path: Path
    profile: str                    # "l2" or "bars"
    instruments: tuple[Instrument, ...]
    events: int
    start_ns: int                   # period start (inclusive)
    end_ns: int                     # period end (exclusive)
    oos_start_ns: int | None        # out-of-sample split, None when the fraction is 0
    source_hash: str
    cached: bool
    notes: tuple[str, ...] = ()     # what the converters saw and changed (off-grid, dropped, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path.name, "profile": self.profile, "events": self.events,
                "instruments": [i.symbol for i in self.instruments], "start_ns": self.start_ns,
                "end_ns": self.end_ns, "oos_start_ns": self.oos_start_ns,
                "source_hash": self.source_hash, "notes": list(self.notes)}


# ------------------------------------------------------------------------------------------------
# helpers


def to_ns(t: dt.datetime) -> int:
    """UTC nanoseconds of ``t`` (naive datetimes are UTC), exact to the microsecond."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def calendar_of(spec: StrategySpec) -> str:
    """``continuous`` when every instrument trades on a 24/7 venue, else ``exchange``."""
    venues = [i.venue.lower() for i in spec.strategy.instruments]
    return "continuous" if all(v.startswith(CONTINUOUS_VENUE_PREFIXES) for v in venues) else "exchange"


def spec_instruments(spec: StrategySpec, bar_interval_ns: int = 0) -> list[Instrument]:
    return [Instrument(i.symbol, i.tick_size, i.lot_size, bar_interval_ns)
            for i in spec.strategy.instruments]


def resolve_data_path(raw: str, repo_root: Path) -> Path:
    """One spec data path resolved (docs/data.md): ``shared:<p>`` → ``<repo>/../shared/data/<p>``,
    ``~/p``, absolute, else repository-relative; symlinks resolved."""
    try:
        return resolve_paths(raw, repo_root)[0]
    except DataError as err:
        raise UserInputError(str(err)) from None


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_hash(spec: StrategySpec, repo_root: Path, override: Path | None = None) -> str:
    """Identity of the prepared file: what it is made from and how."""
    bt = spec.backtest
    parts: dict[str, Any] = {
        "generator": GENERATOR_VERSION,
        "instruments": [[i.symbol, str(i.tick_size), str(i.lot_size), i.venue]
                        for i in spec.strategy.instruments],
        "period": bt.period.model_dump(mode="json", include={"start", "end"}),
        "type": spec.strategy.type.value,
    }
    if override is not None:
        parts["file"] = {"format": "sfe", "sha256": _file_digest(override)}
    elif bt.data.kind == "synthetic":
        parts["synthetic"] = bt.data.model_dump(mode="json")
    else:
        groups = data_files(spec, repo_root)
        parts["file"] = {
            "format": bt.data.format,
            "options": bt.data.options.model_dump(mode="json") if bt.data.options else None,
            "files": [[sym, [_file_digest(f) for f in files]] for sym, files in groups.items()],
        }
        ob = orderbook_file(spec, repo_root)
        if ob is not None:
            parts["file"]["orderbook"] = _file_digest(ob)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# synthetic (the generators are stratforge.runtime.data.synth's; this maps the spec onto them)


def synth_l2(spec: StrategySpec, n_events: int, seed: int, start_ns: int, start_price: float,
             vol_annual: float) -> tuple[list[Instrument], np.ndarray]:
    """A seeded L2 market for the spec's instruments (two legs: a cointegrated pair)."""
    return market_l2(spec_instruments(spec), n_events, seed, start_ns, start_price, vol_annual,
                     YEAR_S[calendar_of(spec)])


def synth_bars(spec: StrategySpec, n_bars: int, seed: int, start_ns: int, start_price: float,
               vol_annual: float) -> tuple[list[Instrument], np.ndarray]:
    """Daily bars (exchange calendar) or hourly bars (24/7 venues) for the spec's instruments,
    ``n_bars`` per instrument; a second instrument is cointegrated with the first."""
    return market_bars(spec_instruments(spec), n_bars, seed, start_ns, start_price, vol_annual,
                       calendar_of(spec) == "continuous")


# ------------------------------------------------------------------------------------------------
# files


def _csv_options(d) -> csvfmt.CsvOptions:
    o = d.options
    if o is None:
        return csvfmt.CsvOptions()
    columns = dict(o.columns)
    if o.symbol_column:
        columns["symbol"] = o.symbol_column
    return csvfmt.CsvOptions(columns=columns, date_format=o.date_format, tz=o.timezone,
                             delimiter=o.delimiter or ",", header=o.header is not False)


def _opt(d, name: str, default):
    value = getattr(d.options, name, None) if d.options is not None else None
    return default if value is None else value


def _only(conv: Converted, symbol: str, path: Path) -> Converted:
    """The part of an ``.sfe`` file that belongs to ``symbol`` (``files`` per instrument)."""
    names = [i.symbol for i in conv.instruments]
    if symbol not in names:
        raise UserInputError(f"backtest.data.files.{symbol}: {path} has no instrument {symbol} "
                             f"(it has {', '.join(names)})")
    k = names.index(symbol)
    ev = conv.events[conv.events["instrument"] == k].copy()
    ev["instrument"] = 0
    return Converted([conv.instruments[k]], ev, conv.source, conv.report)


def _convert_one(d, path: Path, symbol: str | None, ins, ob: Path | None) -> list[Converted]:
    """Convert one file (``symbol``: every row is, or is filtered to, that instrument)."""
    tick, lot = str(ins.tick_size), str(ins.lot_size)
    if d.format == "sfe":
        ef = open_events(path)
        conv = Converted(list(ef.instruments), np.array(ef.events), "sfe", {"input": str(path)})
        return [_only(conv, symbol, path) if symbol else conv]
    opts = _csv_options(d)
    unit = _opt(d, "ts_unit", "ns")
    if d.format == "bars-csv":
        return [csvfmt.convert_bars_csv(
            path, layout=_opt(d, "layout", "auto"), symbol=symbol, tick_size=tick, lot_size=lot,
            interval=_opt(d, "interval", None), ts_unit=unit, ts_label=_opt(d, "ts_label", "end"),
            session_close=_opt(d, "session_close", None), tz=_opt(d, "timezone", "America/New_York"),
            adjust=_opt(d, "adjust", False), options=opts)]
    if d.format in ("quotes-csv", "trades-csv"):
        fn = csvfmt.convert_quotes_csv if d.format == "quotes-csv" else csvfmt.convert_trades_csv
        return [fn(path, symbol=symbol, tick_size=tick, lot_size=lot, ts_unit=unit, options=opts)]
    if d.format == "lobster":
        return [lobster.convert_lobster(path, ob, symbol=symbol, tick_size=tick, lot_size=lot,
                                        date=_opt(d, "date", None),
                                        tz=_opt(d, "timezone", "America/New_York"))]
    raise UserInputError(f"backtest.data.format: unknown format {d.format!r}")  # pragma: no cover


#: Converter report counts worth telling the user about (docs/data.md), in this order.
NOTE_KEYS = ("off_grid_prices", "off_grid_qty", "off_grid_volume", "off_grid_trade_prices",
             "zero_qty_dropped", "duplicate_times", "unsorted_rows", "inconsistent_ohlc",
             "nonpositive_prices", "crossed_quotes", "sequence_gaps")


def report_notes(reports: list[dict[str, Any]]) -> tuple[str, ...]:
    """One line per file whose report has a nonzero count of :data:`NOTE_KEYS`."""
    out = []
    for rep in reports:
        found = [f"{k.replace('_', ' ')} {rep[k]}" for k in NOTE_KEYS
                 if isinstance(rep.get(k), (int, np.integer)) and rep[k]]
        if found:
            src = rep.get("input", "data")
            name = Path(str(src[0] if isinstance(src, (list, tuple)) and src else src)).name
            out.append(f"{name}: {', '.join(found)}")
    return tuple(out)


def convert_file(spec: StrategySpec, repo_root: Path) -> tuple[list[Instrument], np.ndarray, str, tuple[str, ...]]:
    """Read or convert the spec's data files into one stream: (instruments, events, profile,
    notes from the converters' reports).

    Each file is converted on its own, then the parts are merged in time order. A multi-symbol
    CSV named by ``path`` is converted once per instrument of the spec (each with its own tick
    and lot); files without a symbol column must be given per instrument (``files``)."""
    d = spec.backtest.data
    spec_ins = {i.symbol: i for i in spec.strategy.instruments}
    first = spec.strategy.instruments[0]
    groups = data_files(spec, repo_root)
    ob = orderbook_file(spec, repo_root)
    parts: list[Converted] = []
    for symbol, files in groups.items():
        if d.format == "binance":  # one capture session per instrument, files in order
            sym = symbol or first.symbol
            if symbol is None and len(spec_ins) > 1:
                raise UserInputError("backtest.data: a Binance capture holds one symbol; give "
                                     "the files per instrument (backtest.data.files)")
            ins = spec_ins[sym]
            parts.append(binance.convert_binance(files, symbol=sym, tick_size=str(ins.tick_size),
                                                 lot_size=str(ins.lot_size),
                                                 market=_opt(d, "market", "auto")))
            continue
        for path in files:
            if symbol is not None:
                parts += _convert_one(d, path, symbol, spec_ins[symbol], ob)
            elif len(spec_ins) == 1 or d.format in ("sfe",):
                sym = first.symbol if d.format != "sfe" else None
                parts += _convert_one(d, path, sym, first, ob)
            else:
                parts += _split_by_symbol(d, path, spec_ins)
    conv = merge(parts, parts[0].source if parts else d.format)
    kind = "bars" if data_kind(spec, repo_root) == BARS else "l2"
    notes = report_notes([p.report for p in parts]) + tuple(conv.report.get("overlaps", ()))
    return list(conv.instruments), conv.events, kind, notes


def _split_by_symbol(d, path: Path, spec_ins: dict) -> list[Converted]:
    """A multi-instrument spec reading one file through ``path``: one conversion per instrument,
    each with that instrument's tick and lot, filtered on the file's symbol column."""
    if d.format == "lobster" or not csvfmt.has_symbol_column(path, _csv_options(d)):
        raise UserInputError(
            f"backtest.data.path: {path} has no symbol column, so its rows cannot be assigned to "
            f"one of {', '.join(spec_ins)}; give the files per instrument (backtest.data.files: "
            f"{{SYMBOL: path}}) or name the column (options.symbol_column)")
    out = []
    for sym, ins in spec_ins.items():
        try:
            out += _convert_one(d, path, sym, ins, None)
        except csvfmt.SymbolNotFound:
            continue  # this file holds other symbols; a missing instrument is reported later
    return out


# ------------------------------------------------------------------------------------------------
# period


def _snapshot_before(instruments: list[Instrument], events: np.ndarray, cut: int,
                     ts: int) -> np.ndarray:
    """``CLEAR`` + ``SNAPSHOT`` depth records of every book as it stands before ``events[cut]``."""
    books: dict[int, L2Book] = {}
    replay(events[:cut], books)
    rows = []
    for inst, book in sorted(books.items()):
        levels = [(BID, p, q) for p, q in book.levels(BID, 1 << 30)]
        levels += [(ASK, p, q) for p, q in book.levels(ASK, 1 << 30)]
        rows.append((CLEAR, 0, inst, 0, 0))
        rows += [(DEPTH, side, inst, p, q) for side, p, q in levels]
    snap = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for k, (typ, side, inst, p, q) in enumerate(rows):
        snap[k]["exch_ts"] = ts
        snap[k]["recv_ts"] = ts
        snap[k]["type"] = typ
        snap[k]["side"] = side
        snap[k]["instrument"] = inst
        snap[k]["flags"] = SNAPSHOT
        snap[k]["v"][0] = p
        snap[k]["v"][1] = q
    if len(snap):
        snap["flags"][-1] |= END_OF_BATCH
    return snap


def apply_period(spec: StrategySpec, instruments: list[Instrument], events: np.ndarray,
                 profile: str) -> tuple[np.ndarray, int, int, int | None]:
    """Slice ``events`` to ``[period.start, period.end)``; the period and out-of-sample split."""
    per = spec.backtest.period
    if len(events) == 0:
        raise UserInputError("backtest.data: the data set has no events")
    recv = events["recv_ts"]
    lo = 0 if per.start is None else int(np.searchsorted(recv, to_ns(per.start), "left"))
    hi = len(events) if per.end is None else int(np.searchsorted(recv, to_ns(per.end), "left"))
    if hi <= lo:
        raise UserInputError(f"backtest.period: no events between {per.start} and {per.end}; the "
                             f"data covers {_iso(int(recv[0]))} .. {_iso(int(recv[-1]))}")
    sliced = events[lo:hi]
    if lo > 0 and profile == "l2":
        sliced = np.concatenate([_snapshot_before(instruments, events, lo, int(recv[lo])), sliced])
    start = to_ns(per.start) if per.start else int(sliced["recv_ts"][0])
    end = to_ns(per.end) if per.end else int(sliced["recv_ts"][-1]) + 1
    oos = None
    if per.out_of_sample_fraction > 0:
        oos = start + int((end - start) * (1.0 - per.out_of_sample_fraction))
    return sliced, start, end, oos


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / NS, dt.timezone.utc).isoformat()


# ------------------------------------------------------------------------------------------------
# entry point


def prepare_data(spec: StrategySpec, *, repo_root: Path, cache_dir: Path,
                 override: Path | None = None) -> PreparedData:
    """The spec's data as a cached ``.sfe`` file (``override``: an ``.sfe`` file to use instead).

    Every data problem the user can fix (a missing file, a malformed row, a file of the wrong
    kind) is a ``UserInputError``; nothing is written to the cache then."""
    try:
        return _prepare(spec, repo_root=repo_root, cache_dir=cache_dir, override=override)
    except DataError as err:
        raise UserInputError(f"backtest.data: {err}") from None
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as err:  # unreadable, bad gzip
        name = getattr(err, "filename", None)
        raise UserInputError(f"backtest.data: cannot read {name or 'a data file'}: "
                             f"{type(err).__name__}: {err}") from None


def _prepare(spec: StrategySpec, *, repo_root: Path, cache_dir: Path, override: Path | None) -> PreparedData:
    if override is not None and not override.is_file():
        raise UserInputError(f"--data: no such file: {override}")
    key = source_hash(spec, repo_root, override)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{key[:20]}.sfe"
    meta = cache_dir / f"{key[:20]}.json"
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("source_hash") == key:
            ef = open_events(path)
            return PreparedData(path, info["profile"], tuple(ef.instruments), len(ef.events),
                                info["start_ns"], info["end_ns"], info["oos_start_ns"], key, True,
                                tuple(info.get("notes", ())))
    d = spec.backtest.data
    notes: tuple[str, ...] = ()
    if override is not None:
        kind = file_kind(override, "--data")
        if kind != data_kind(spec, repo_root):
            raise UserInputError(f"--data: {override} holds {kind} data but the strategy was "
                                 f"generated for {data_kind(spec, repo_root)} data (the spec's "
                                 "backtest.data); use a file of the same kind")
        ef = open_events(override)
        instruments, events = list(ef.instruments), np.array(ef.events)
        profile = "bars" if kind == BARS else "l2"
    elif d.kind == "synthetic":
        fn = synth_l2 if d.profile == "l2" else synth_bars
        instruments, events = fn(spec, d.events, d.seed, to_ns(d.start), float(d.start_price),
                                 d.volatility_annual)
        profile = d.profile
    else:
        instruments, events, profile, notes = convert_file(spec, repo_root)
    missing = [i.symbol for i in spec.strategy.instruments
               if i.symbol not in {x.symbol for x in instruments}]
    if missing:
        raise UserInputError(f"backtest.data: the data has no instrument {', '.join(missing)} "
                             f"(it has {', '.join(x.symbol for x in instruments)})")
    events, start, end, oos = apply_period(spec, instruments, events, profile)
    tmp = cache_dir / f".{path.name}.{uuid.uuid4().hex[:8]}"
    write_events(tmp, instruments, events, source=f"stratforge-{profile}"[:16])
    os.replace(tmp, path)
    info = {"source_hash": key, "profile": profile, "start_ns": start, "end_ns": end,
            "oos_start_ns": oos, "events": int(len(events)), "notes": list(notes)}
    tmp_meta = meta.with_name(f".{meta.name}.{uuid.uuid4().hex[:8]}")
    tmp_meta.write_text(json.dumps(info, indent=1))
    os.replace(tmp_meta, meta)
    return PreparedData(path, profile, tuple(instruments), int(len(events)), start, end, oos, key,
                        False, notes)


def clear_cache(cache_dir: Path) -> None:
    shutil.rmtree(cache_dir, ignore_errors=True)


def realised_volatility(path: Path, calendar: str, inst: int = 0) -> float:
    """Annualised volatility of the mid (L2) or close (bars) of one instrument in a file."""
    ef = open_events(path)
    ev = np.array(ef.events)
    if file_kind(path) == BARS:
        ev = ev[ev["instrument"] == inst]  # a pair's file holds both legs' bars
        closes = ev["v"][:, 3].astype(float)
        step = float(np.median(np.diff(ev["recv_ts"]))) / NS
        r = np.diff(np.log(closes))
        per_year = 252.0 if step >= 86_400 * 0.9 and calendar == "exchange" else YEAR_S[calendar] / step
        return float(np.std(r) * math.sqrt(per_year))
    mine = ev[ev["instrument"] == inst]
    best = replay(mine)
    ok = (best.bid_px > -(1 << 62)) & (best.ask_px < (1 << 62))
    mid = (best.bid_px[ok] + best.ask_px[ok]) / 2.0
    ts = mine["recv_ts"][ok]
    grid = np.arange(ts[0], ts[-1], 60 * NS)  # one-minute samples
    idx = np.searchsorted(ts, grid, "right") - 1
    r = np.diff(np.log(mid[idx]))
    return float(np.std(r) * math.sqrt(YEAR_S[calendar] / 60.0))


__all__ = ["PreparedData", "prepare_data", "resolve_data_path", "source_hash", "calendar_of",
           "synth_l2", "synth_bars", "apply_period", "realised_volatility", "to_ns",
           "GENERATOR_VERSION"]
