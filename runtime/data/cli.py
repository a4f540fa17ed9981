"""``stratforge data``: convert market data to ``.sfe`` event files, generate synthetic markets,
summarise files.

Every failure the user can fix (missing file, malformed row, wrong format) prints one message,
``error: ...``, to stderr and exits 1; no traceback. A malformed file's message lists its bad
rows below that line, one per line.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from .binance import convert_binance
from .csvfmt import CsvOptions, convert_bars_csv, convert_quotes_csv, convert_trades_csv
from .errors import DataError, InputError
from .lobster import convert_lobster
from .result import Converted
from .summary import info
from .synth import BarParams, L2Params, write_synth

try:  # rich is a project dependency; fall back to plain text if it is missing
    from rich.console import Console
    from rich.table import Table as RichTable
except ImportError:  # pragma: no cover
    Console = None
    RichTable = None


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def friendly(fn: Callable) -> Callable:
    """Turn expected failures into one-line messages and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            _fail(str(e))
        except FileNotFoundError as e:
            _fail(f"no such file: {e.filename}")
        except (PermissionError, IsADirectoryError) as e:
            _fail(f"cannot access {e.filename}: {e.strerror}")
        except OSError as e:  # gzip errors, disk full, ...
            _fail(f"{type(e).__name__}: {e}")
        except (ValueError, UnicodeDecodeError, EOFError, zlib.error) as e:
            _fail(f"malformed input: {e}")

    return wrapper


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _print_kv(title: str, items: dict[str, Any]) -> None:
    if Console is not None:
        table = RichTable(title=title, show_header=False, title_justify="left")
        table.add_column("key", style="bold")
        table.add_column("value")
        for k, v in items.items():
            table.add_row(str(k), v if isinstance(v, str) else json.dumps(_jsonable(v)))
        Console().print(table)
    else:
        click.echo(title)
        for k, v in items.items():
            click.echo(f"  {k}: {v}")


def _emit_report(conv: Converted, out: Path, seconds: float, fmt: str) -> None:
    rate = len(conv.events) / seconds if seconds > 0 else float("inf")
    summary = {"out": str(out), "source": conv.source, **conv.report, "seconds": round(seconds, 3), "events_per_s": int(rate)}
    if fmt == "json":
        click.echo(json.dumps(_jsonable(summary)))
    else:
        _print_kv(f"converted {conv.source} -> {out}", summary)


@click.group("data", context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Market data: convert to .sfe event files, synthesise, inspect."""


@data.group("convert")
def convert() -> None:
    """Convert vendor files to an .sfe event file (see docs/data.md)."""


def _common(fn: Callable) -> Callable:
    fn = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Report format.")(fn)
    fn = click.option("--lot-size", default=None, help="Lot size as a decimal, e.g. 1 or 0.00001.")(fn)
    fn = click.option("--tick-size", default=None, help="Tick size as a decimal, e.g. 0.01.")(fn)
    fn = click.option("--symbol", default=None, help="Instrument symbol.")(fn)
    fn = click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output .sfe file.")(fn)
    return fn


def _csv_opts(fn: Callable) -> Callable:
    fn = click.option("--delimiter", default=",", show_default=True)(fn)
    fn = click.option("--ts-unit", type=click.Choice(["s", "ms", "us", "ns", "iso"]), default="ns", show_default=True, help="Unit of the ts column.")(fn)
    fn = click.option("--tz", "zone", default=None, help="IANA zone of times without an offset (default UTC).")(fn)
    fn = _layout_opts(fn)
    return fn


def _layout_opts(fn: Callable) -> Callable:
    fn = click.option("--date-format", default=None, help="strptime format of the time column, e.g. '%m/%d/%Y' (replaces --ts-unit).")(fn)
    fn = click.option("--column", "columns", multiple=True, metavar="NAME=HEADER", help="The file's header name of a column, e.g. ts=Date, or its 1-based position with --no-header, e.g. ts=1 (repeatable).")(fn)
    fn = click.option("--header/--no-header", "has_header", default=True, show_default=True, help="Whether the file starts with a header row.")(fn)
    return fn


def _columns(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, header = pair.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise InputError(f"--column must be NAME=HEADER (e.g. ts=Date), was {pair!r}")
        out[name.strip().lower()] = header.strip()
    return out


def _sizes(tick: str | None, lot: str | None, tick_default: str = "0.01", lot_default: str = "1") -> dict[str, str]:
    return {"tick_size": tick or tick_default, "lot_size": lot or lot_default}


def _run(make: Callable[[], Converted], out: Path, fmt: str) -> None:
    t0 = time.perf_counter()
    conv = make()
    conv.write(out)
    _emit_report(conv, out, time.perf_counter() - t0, fmt)


@convert.command("quotes-csv")
@click.argument("input", type=click.Path(path_type=Path))
@_common
@_csv_opts
@friendly
def convert_quotes(input: Path, out: Path, symbol, tick_size, lot_size, fmt, ts_unit, delimiter, zone, date_format, columns, has_header) -> None:
    """Top-of-book quotes: header ts[,symbol],bid_px,bid_qty,ask_px,ask_qty[,recv_ts]."""
    opts = CsvOptions(columns=_columns(columns), date_format=date_format, tz=zone, delimiter=delimiter, header=has_header)
    _run(lambda: convert_quotes_csv(input, symbol=symbol, ts_unit=ts_unit, options=opts, **_sizes(tick_size, lot_size)), out, fmt)


@convert.command("trades-csv")
@click.argument("input", type=click.Path(path_type=Path))
@_common
@_csv_opts
@friendly
def convert_trades(input: Path, out: Path, symbol, tick_size, lot_size, fmt, ts_unit, delimiter, zone, date_format, columns, has_header) -> None:
    """Trades: header ts[,symbol],price,qty[,side][,trade_id][,recv_ts]; side is the aggressor."""
    opts = CsvOptions(columns=_columns(columns), date_format=date_format, tz=zone, delimiter=delimiter, header=has_header)
    _run(lambda: convert_trades_csv(input, symbol=symbol, ts_unit=ts_unit, options=opts, **_sizes(tick_size, lot_size)), out, fmt)


@convert.command("bars-csv")
@click.argument("input", type=click.Path(path_type=Path))
@_common
@click.option("--layout", type=click.Choice(["auto", "yahoo", "ninjatrader", "generic"]), default="auto", show_default=True)
@click.option("--interval", default=None, help="Bar length (60s, 1min, 1h, 1d); default: 1d for Yahoo, else the most common spacing.")
@click.option("--ts-unit", type=click.Choice(["s", "ms", "us", "ns", "iso"]), default="ns", show_default=True, help="Generic layout: unit of ts.")
@click.option("--ts-label", type=click.Choice(["end", "start"]), default="end", show_default=True, help="Generic layout: ts marks the bar end or start.")
@click.option("--session-close", default=None, help="Local close time (HH:MM) that ends each daily bar: Yahoo layout (default 16:00), or a generic file with --date-format.")
@click.option("--tz", default="America/New_York", show_default=True, help="Zone of the session close.")
@click.option("--adjust/--no-adjust", default=False, show_default=True, help="Yahoo layout: scale OHLC by Adj Close / Close.")
@click.option("--delimiter", default=",", show_default=True, help="Generic layout: field separator.")
@_layout_opts
@friendly
def convert_bars(input: Path, out: Path, symbol, tick_size, lot_size, fmt, layout, interval, ts_unit, ts_label, session_close, tz, adjust, delimiter, date_format, columns, has_header) -> None:
    """OHLCV bars: Yahoo daily, NinjaTrader minute (semicolon, UTC, bar end) or generic CSV."""
    opts = CsvOptions(columns=_columns(columns), date_format=date_format,
                      tz=tz if session_close and date_format else None, delimiter=delimiter,
                      header=has_header)
    _run(
        lambda: convert_bars_csv(
            input, layout=layout, symbol=symbol, interval=interval, ts_unit=ts_unit, ts_label=ts_label,
            session_close=session_close, tz=tz, adjust=adjust, options=opts, **_sizes(tick_size, lot_size),
        ),
        out,
        fmt,
    )


@convert.command("lobster")
@click.argument("message", type=click.Path(path_type=Path))
@_common
@click.option("--orderbook", type=click.Path(path_type=Path), default=None, help="Orderbook file; default: beside the message file.")
@click.option("--date", default=None, help="Trading date YYYY-MM-DD; default: from the file name.")
@click.option("--tz", default="America/New_York", show_default=True)
@friendly
def convert_lobster_cmd(message: Path, out: Path, symbol, tick_size, lot_size, fmt, orderbook, date, tz) -> None:
    """LOBSTER message + orderbook files -> DEPTH + TRADE events."""
    _run(lambda: convert_lobster(message, orderbook, symbol=symbol, date=date, tz=tz, **_sizes(tick_size, lot_size)), out, fmt)


@convert.command("binance")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@_common
@click.option("--market", type=click.Choice(["auto", "spot", "futures"]), default="auto", show_default=True)
@friendly
def convert_binance_cmd(inputs: tuple[Path, ...], out: Path, symbol, tick_size, lot_size, fmt, market) -> None:
    """Binance raw captures (gzip '<local_ns> <json>' lines), one session, files in order."""
    _run(lambda: convert_binance(list(inputs), symbol=symbol, tick_size=tick_size, lot_size=lot_size, market=market), out, fmt)


@data.command("synth")
@click.option("--events", "-n", "n_events", type=click.IntRange(min=1), default=100_000, show_default=True, help="Number of records (bars in bars mode).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--kind", type=click.Choice(["l2", "bars"]), default="l2", show_default=True)
@click.option("--symbol", default=None)
@click.option("--levels", type=click.IntRange(1, 50), default=None, help="L2: depth levels per side (default 5).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@friendly
def synth_cmd(n_events: int, seed: int, kind: str, symbol, levels, out: Path, fmt: str) -> None:
    """Generate a deterministic synthetic market (see docs/data.md for the model)."""
    if kind == "l2":
        params = L2Params()
        params = replace(params, **{k: v for k, v in (("symbol", symbol), ("levels", levels)) if v is not None})
    else:
        params = BarParams()
        params = replace(params, **({"symbol": symbol} if symbol else {}))
    t0 = time.perf_counter()
    n = write_synth(out, kind, n_events, seed, params)
    dt_s = time.perf_counter() - t0
    summary = {"out": str(out), "kind": kind, "seed": seed, "events": n, "seconds": round(dt_s, 3), "events_per_s": int(n / dt_s) if dt_s else None}
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        _print_kv("synthetic market", summary)


@data.command("info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@friendly
def info_cmd(file: Path, fmt: str) -> None:
    """Summarise an .sfe event file: header, instruments, counts, time range, books."""
    s = info(file)
    if fmt == "json":
        click.echo(json.dumps(_jsonable(s), indent=2))
        return
    head = {k: s[k] for k in ("path", "source", "version", "events", "bytes", "first_time", "last_time", "duration_s", "sorted")}
    _print_kv("event file", head)
    for ins in s["instruments"]:
        rows: dict[str, Any] = {
            "tick / lot": f"{ins['tick_size']} / {ins['lot_size']}",
            "events": ins["events"],
            "by type": ", ".join(f"{k} {v}" for k, v in ins["counts"].items() if v),
            "batches": ins["batches"],
            "snapshot records": ins["snapshot_records"],
        }
        if ins["bar_interval_ns"]:
            rows["bar interval"] = f"{ins['bar_interval_ns'] / 1e9:g} s"
        for key in ("trade_volume_lots", "last_trade_price", "first_bar_end", "last_bar_end", "last_close", "crossed_batches"):
            if key in ins:
                rows[key.replace("_", " ")] = ins[key]
        for key in ("first_book", "last_book"):
            if key in ins:
                b = ins[key]
                rows[key.replace("_", " ")] = f"{b['bid']} x {b['ask']}  ({b['bid_qty']} / {b['ask_qty']} lots) at {b['time']}"
        _print_kv(f"instrument {ins['id']}: {ins['symbol']}", rows)


main = data

if __name__ == "__main__":  # pragma: no cover
    data()
