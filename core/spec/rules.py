"""Cross-field rules of the strategy spec.

Each rule is a small named function that looks at a field-valid spec and yields
:class:`Violation` objects naming the field path, what is wrong and the offending value. They
run together, so a user sees every violation at once. Add a rule by decorating it with
:func:`rule`; docs/spec.md lists them (generated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stratforge.core.expr import DataKind, ExpressionError, compile_expression
from stratforge.core.spec.datakind import declared_data_kind
from stratforge.core.spec.signals import check_signals, spec_params
from stratforge.core.spec.violation import Violation

if TYPE_CHECKING:
    from stratforge.core.spec.models import StrategySpec

RuleFn = Callable[["StrategySpec"], Iterator[Violation]]
RULES: dict[str, RuleFn] = {}


def rule(fn: RuleFn) -> RuleFn:
    """Register ``fn`` as a cross-field rule under its function name."""
    RULES[fn.__name__] = fn
    return fn


def check_rules(spec: "StrategySpec") -> list[Violation]:
    """Run every rule and return all violations, each tagged with its rule name."""
    found: list[Violation] = []
    for name, fn in RULES.items():
        for v in fn(spec):
            found.append(Violation(v.path, v.message, v.value, name, v.column))
    return found


def _multiple_of(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0


# ---------------------------------------------------------------------------------------------


@rule
def instrument_count_matches_type(spec: "StrategySpec") -> Iterator[Violation]:
    """stat_arb trades exactly two instruments; every other type exactly one."""
    n = len(spec.strategy.instruments)
    want = 2 if spec.strategy.type.value == "stat_arb" else 1
    if n != want:
        yield Violation(("strategy", "instruments"),
                        f"{spec.strategy.type.value} needs exactly {want} instrument"
                        f"{'s' if want > 1 else ''}, found {n}", n)


@rule
def instrument_symbols_unique(spec: "StrategySpec") -> Iterator[Violation]:
    """No instrument (symbol at venue) is listed twice."""
    seen: set[tuple[str, str]] = set()
    for i, inst in enumerate(spec.strategy.instruments):
        key = (inst.symbol, inst.venue)
        if key in seen:
            yield Violation(("strategy", "instruments", i, "symbol"),
                            "instrument listed twice at the same venue", inst.symbol)
        seen.add(key)


@rule
def order_qty_within_risk(spec: "StrategySpec") -> Iterator[Violation]:
    """The strategy's order size fits the risk limits and the lot grid of its instruments."""
    params = spec.strategy.params
    qty = getattr(params, "order_qty", None)
    path: tuple[str | int, ...] = ("strategy", "params", "order_qty")
    if qty is None:
        qty = getattr(spec.strategy, "order_qty", None)
        path = ("strategy", "order_qty")
    if qty is None:
        return
    if qty > spec.risk.max_order_qty:
        yield Violation(path, f"must be <= risk.max_order_qty ({spec.risk.max_order_qty}), "
                        f"was {qty}", qty)
    for inst in spec.strategy.instruments[:1]:
        if not _multiple_of(qty, inst.lot_size):
            yield Violation(path, f"must be a multiple of the lot size {inst.lot_size} of "
                            f"{inst.symbol}, was {qty}", qty)


@rule
def max_order_qty_within_position(spec: "StrategySpec") -> Iterator[Violation]:
    """One order can never exceed the position limit."""
    if spec.risk.max_order_qty > spec.risk.max_position:
        yield Violation(("risk", "max_order_qty"),
                        f"must be <= risk.max_position ({spec.risk.max_position}), "
                        f"was {spec.risk.max_order_qty}", spec.risk.max_order_qty)


@rule
def drawdown_not_above_loss(spec: "StrategySpec") -> Iterator[Violation]:
    """The drawdown stop is not looser than the loss stop."""
    if spec.risk.max_drawdown > spec.risk.max_loss:
        yield Violation(("risk", "max_drawdown"),
                        f"must be <= risk.max_loss ({spec.risk.max_loss}), was "
                        f"{spec.risk.max_drawdown}", spec.risk.max_drawdown)


@rule
def market_maker_inventory_within_position(spec: "StrategySpec") -> Iterator[Violation]:
    """The market maker's inventory cap fits inside the risk position limit."""
    if spec.strategy.type.value != "market_making":
        return
    p = spec.strategy.params
    if p.max_inventory > spec.risk.max_position:
        yield Violation(("strategy", "params", "max_inventory"),
                        f"must be <= risk.max_position ({spec.risk.max_position}), was "
                        f"{p.max_inventory}", p.max_inventory)
    if p.order_qty > p.max_inventory:
        yield Violation(("strategy", "params", "order_qty"),
                        f"must be <= strategy.params.max_inventory ({p.max_inventory}), was "
                        f"{p.order_qty}", p.order_qty)


@rule
def momentum_fast_below_slow(spec: "StrategySpec") -> Iterator[Violation]:
    """The fast average of a crossover is faster than the slow one."""
    if spec.strategy.type.value != "momentum":
        return
    p = spec.strategy.params
    if p.fast_window >= p.slow_window:
        yield Violation(("strategy", "params", "fast_window"),
                        f"must be < strategy.params.slow_window ({p.slow_window}), was "
                        f"{p.fast_window}", p.fast_window)


@rule
def exit_band_inside_entry_band(spec: "StrategySpec") -> Iterator[Violation]:
    """Mean-reversion, pair and imbalance exits sit strictly inside their entries."""
    t = spec.strategy.type.value
    p = spec.strategy.params
    if t in ("mean_reversion", "stat_arb") and p.exit_z >= p.entry_z:
        yield Violation(("strategy", "params", "exit_z"),
                        f"must be < strategy.params.entry_z ({p.entry_z}), was {p.exit_z}",
                        p.exit_z)
    if t == "order_book_imbalance" and p.exit_threshold >= p.entry_threshold:
        yield Violation(("strategy", "params", "exit_threshold"),
                        f"must be < strategy.params.entry_threshold ({p.entry_threshold}), "
                        f"was {p.exit_threshold}", p.exit_threshold)


@rule
def zscore_entry_reachable(spec: "StrategySpec") -> Iterator[Violation]:
    """A z-score entry can be reached: over N values (population deviation) |z| is at most
    sqrt(N - 1) (Samuelson's inequality), so entry_z must be below it or the strategy never trades."""
    t = spec.strategy.type.value
    if t not in ("mean_reversion", "stat_arb"):
        return
    p = spec.strategy.params
    bound = math.sqrt(max(p.window - 1, 0))
    if p.entry_z >= bound:
        yield Violation(("strategy", "params", "entry_z"),
                        f"can never be reached: a z-score over window {p.window} is at most "
                        f"sqrt({p.window} - 1) = {bound:.4g}; lower entry_z or lengthen the window, "
                        f"was {p.entry_z}", p.entry_z)


@rule
def pair_hedge_leg_at_least_one_lot(spec: "StrategySpec") -> Iterator[Violation]:
    """With a fixed hedge ratio, order_qty of leg 1 hedges into at least one lot of leg 2 (the
    template rounds hedge_ratio * order_qty to leg 2's lots and skips entries that round to 0)."""
    st = spec.strategy
    if st.type.value != "stat_arb" or len(st.instruments) != 2:
        return
    h = st.params.hedge_ratio
    if h.mode != "fixed" or h.value is None or h.value <= 0:
        return
    leg2 = st.instruments[1]
    lots = Decimal(str(h.value)) * Decimal(st.params.order_qty) / leg2.lot_size
    if lots < Decimal("0.5"):
        yield Violation(("strategy", "params", "order_qty"),
                        f"hedges into {lots:.3g} lots of {leg2.symbol} (hedge_ratio {h.value} x order_qty "
                        f"{st.params.order_qty} / lot_size {leg2.lot_size}), which rounds to 0: the pair "
                        f"could never enter; raise order_qty to at least "
                        f"{(leg2.lot_size / 2 / Decimal(str(h.value))).normalize()}", st.params.order_qty)


@rule
def hedge_ratio_complete(spec: "StrategySpec") -> Iterator[Violation]:
    """A fixed hedge ratio has a value; a rolling one has a window."""
    if spec.strategy.type.value != "stat_arb":
        return
    h = spec.strategy.params.hedge_ratio
    base = ("strategy", "params", "hedge_ratio")
    if h.mode == "fixed" and h.value is None:
        yield Violation(base + ("value",), "is required when mode is fixed", None)
    if h.mode == "rolling_ols" and h.window is None:
        yield Violation(base + ("window",), "is required when mode is rolling_ols", None)


@rule
def custom_has_behaviour(spec: "StrategySpec") -> Iterator[Violation]:
    """A custom strategy says when it trades: an entry signal, free-text logic, or both."""
    if spec.strategy.type.value != "custom" or spec.strategy.logic:
        return
    if not any(k in spec.strategy.signals for k in ("entry_long", "entry_short")):
        yield Violation(("strategy", "signals"), "a custom strategy needs an entry_long or "
                        "entry_short signal, or free-text logic", None)


@rule
def code_mode_needs_logic(spec: "StrategySpec") -> Iterator[Violation]:
    """codegen.mode 'code' or 'expressions' only makes sense with free-text logic."""
    if spec.codegen.mode.value != "auto" and not spec.strategy.logic:
        yield Violation(("codegen", "mode"),
                        f"'{spec.codegen.mode.value}' needs strategy.logic to be set",
                        spec.codegen.mode.value)


@rule
def logic_is_printable_text(spec: "StrategySpec") -> Iterator[Violation]:
    """Free-text logic is plain text: no control characters other than newline and tab."""
    text = spec.strategy.logic
    if text is None:
        return
    for ch in text:
        if (ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 0x7F or 0x202A <= ord(ch) <= 0x202E \
                or 0x2066 <= ord(ch) <= 0x2069:
            yield Violation(("strategy", "logic"),
                            f"contains the control character U+{ord(ch):04X}", f"U+{ord(ch):04X}")
            return


@rule
def latency_percentiles_ordered(spec: "StrategySpec") -> Iterator[Violation]:
    """p50 budgets do not exceed p99 budgets."""
    lat = spec.latency
    if lat.callback_p50_ns > lat.callback_p99_ns:
        yield Violation(("latency", "callback_p50_ns"),
                        f"must be <= latency.callback_p99_ns ({lat.callback_p99_ns}), was "
                        f"{lat.callback_p50_ns}", lat.callback_p50_ns)
    bt = spec.backtest.latency
    if bt.model == "lognormal":
        for leg in ("feed", "order"):
            med, p99 = getattr(bt, f"{leg}_median_ns"), getattr(bt, f"{leg}_p99_ns")
            if med > p99:
                yield Violation(("backtest", "latency", f"{leg}_median_ns"),
                                f"must be <= backtest.latency.{leg}_p99_ns ({p99}), was {med}", med)


@rule
def period_ordered(spec: "StrategySpec") -> Iterator[Violation]:
    """The backtest period starts before it ends."""
    p = spec.backtest.period
    if p.start is not None and p.end is not None and p.start >= p.end:
        yield Violation(("backtest", "period", "end"),
                        f"must be after backtest.period.start ({p.start.isoformat()}), was "
                        f"{p.end.isoformat()}", p.end.isoformat())


#: Converter options and the formats they apply to (docs/data.md, "Converter options").
_CSV = ("bars-csv", "quotes-csv", "trades-csv")
OPTION_FORMATS: dict[str, tuple[str, ...]] = {
    "layout": ("bars-csv",), "ts_unit": _CSV, "date_format": _CSV,
    "timezone": (*_CSV, "lobster"), "session_close": ("bars-csv",), "ts_label": ("bars-csv",),
    "interval": ("bars-csv",), "adjust": ("bars-csv",), "symbol_column": _CSV, "columns": _CSV,
    "delimiter": _CSV, "header": _CSV, "market": ("binance",), "date": ("lobster",),
}
#: The columns each CSV format reads (``options.columns`` keys).
FORMAT_COLUMNS: dict[str, frozenset[str]] = {
    "quotes-csv": frozenset({"ts", "recv_ts", "symbol", "bid_px", "bid_qty", "ask_px", "ask_qty"}),
    "trades-csv": frozenset({"ts", "recv_ts", "symbol", "price", "qty", "side", "trade_id"}),
    "bars-csv": frozenset({"ts", "symbol", "open", "high", "low", "close", "volume"}),
}


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


@rule
def file_data_paths(spec: "StrategySpec") -> Iterator[Violation]:
    """A file source names its files once: ``path`` or ``files`` (per instrument), and ``files``
    names only the strategy's instruments; a LOBSTER orderbook file goes with one message file."""
    d = spec.backtest.data
    if d.kind != "file":
        return
    if (d.path is None) == (d.files is None):
        yield Violation(("backtest", "data", "path"),
                        "give path (one file, a glob or a list) or files (per instrument), "
                        "not both and not neither", d.path)
    if d.files:
        symbols = [i.symbol for i in spec.strategy.instruments]
        for sym in d.files:
            if sym not in symbols:
                yield Violation(("backtest", "data", "files", sym),
                                f"is not an instrument of the strategy ({', '.join(symbols)})", sym)
    if d.orderbook_path is not None:
        if d.format != "lobster":
            yield Violation(("backtest", "data", "orderbook_path"),
                            f"only applies to format lobster, format is {d.format}",
                            d.orderbook_path)
        elif not isinstance(d.path, str) or _has_glob(d.path):
            yield Violation(("backtest", "data", "orderbook_path"),
                            "goes with one message file in path (for several files, keep each "
                            "orderbook file beside its message file)", d.orderbook_path)


@rule
def converter_options_apply(spec: "StrategySpec") -> Iterator[Violation]:
    """Every converter option set applies to the data's format; the time zone exists; column
    names are ones the format reads."""
    d = spec.backtest.data
    if d.kind != "file" or d.options is None:
        return
    o = d.options
    for name in sorted(o.model_fields_set):
        value = getattr(o, name)
        if name == "columns" and not value:
            continue
        formats = OPTION_FORMATS[name]
        if d.format not in formats:
            yield Violation(("backtest", "data", "options", name),
                            f"only applies to format {' or '.join(formats)}, format is {d.format}",
                            value if not hasattr(value, "isoformat") else value.isoformat())
    if o.timezone is not None:
        try:
            ZoneInfo(o.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield Violation(("backtest", "data", "options", "timezone"),
                            "is not an IANA time zone name such as America/New_York or UTC",
                            o.timezone)
    known = FORMAT_COLUMNS.get(d.format)
    if known is not None:
        for col in sorted(o.columns):
            if col not in known:
                yield Violation(("backtest", "data", "options", "columns", col),
                                f"is not a column of format {d.format} ({', '.join(sorted(known))})",
                                col)
    if o.symbol_column is not None and "symbol" in o.columns:
        yield Violation(("backtest", "data", "options", "symbol_column"),
                        "is also given as columns.symbol; give one", o.symbol_column)
    if o.header is False:
        if not o.columns or "ts" not in o.columns:
            yield Violation(("backtest", "data", "options", "columns"),
                            "must give the position of every column read (at least ts) when "
                            "header is false, e.g. {ts: '1', price: '2', qty: '3'}", o.columns)
        for col, pos in sorted(o.columns.items()):
            if not pos.isdigit() or int(pos) < 1:
                yield Violation(("backtest", "data", "options", "columns", col),
                                "must be a 1-based column position when header is false", pos)
        if o.symbol_column is not None:
            yield Violation(("backtest", "data", "options", "symbol_column"),
                            "with header false, give the symbol column's position in "
                            "columns.symbol", o.symbol_column)
    if o.ts_unit is not None and o.date_format is not None:
        yield Violation(("backtest", "data", "options", "ts_unit"),
                        "date_format replaces ts_unit; give one", o.ts_unit)


#: Series kinds each data kind provides (the generator's check, generator/render/context.py).
#: data kind -> the kinds of series a signal may read on it (every template keeps the strategy's
#: own position state, so the position series are there on any data; docs/expressions.md)
KIND_SERIES = {"bars": frozenset({DataKind.BAR, DataKind.POSITION}),
               "book": frozenset({DataKind.BOOK, DataKind.TRADE, DataKind.POSITION})}


@rule
def signals_read_the_data_kind(spec: "StrategySpec") -> Iterator[Violation]:
    """Signals read series the data has: bar series (open, high, low, close, volume) on bar data,
    book and trade series on book data. For ``.sfe`` files the kind is in the file's header, so
    this is checked when the code is generated."""
    d = spec.backtest.data
    if not spec.strategy.signals or (d.kind == "file" and d.format == "sfe"):
        return
    kind = declared_data_kind(spec)  # synthetic data and converted formats: known from the spec
    if kind is None:
        return
    params = spec_params(spec)
    known: dict[str, Any] = {}
    for name, text in spec.strategy.signals.items():
        if name in params:
            continue  # reported by signals_type_check
        try:
            typed = compile_expression(text, params, signals=known)
        except (ExpressionError, ValueError):
            continue  # reported by signals_type_check
        known[name] = typed.type
        bad = sorted(str(k) for k in typed.data_kinds - KIND_SERIES[kind])
        if bad:
            other = ("bar series (open, high, low, close, volume)" if kind == "bars"
                     else "book and trade series (mid, bid, ask, spread, last, ...)")
            yield Violation(("strategy", "signals", name),
                            f"reads {', '.join(bad)} data but backtest.data is {kind} data; use "
                            f"{other} or data of the other kind", text)


@rule
def gates_consistent_with_budget(spec: "StrategySpec") -> Iterator[Violation]:
    """The scorecard's latency gate is not looser than the declared budget."""
    if spec.gates.max_callback_p99_ns > spec.latency.callback_p99_ns:
        yield Violation(("gates", "max_callback_p99_ns"),
                        f"must be <= latency.callback_p99_ns ({spec.latency.callback_p99_ns}), "
                        f"was {spec.gates.max_callback_p99_ns}", spec.gates.max_callback_p99_ns)


@rule
def signals_type_check(spec: "StrategySpec") -> Iterator[Violation]:
    """Every signal expression parses and type-checks against the params and earlier signals;
    the entry/exit signals are boolean."""
    yield from check_signals(spec)
