"""Cross-field rules of the strategy spec.

Each rule is a small named function that looks at a field-valid spec and yields
:class:`Violation` objects naming the field path, what is wrong and the offending value. They
run together, so a user sees every violation at once. Add a rule by decorating it with
:func:`rule`; docs/spec.md lists them (generated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratforge.generator.spec.models import StrategySpec

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (field path), what (message), and the value found."""

    path: Path
    message: str
    value: Any = None
    rule: str = ""
    column: int | None = None  # 1-based column inside a string value (expressions)


class RuleViolations(ValueError):
    """Raised from the spec's model validator with every violation found."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{'.'.join(map(str, v.path))}: {v.message}" for v in violations))


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


@rule
def lobster_needs_orderbook(spec: "StrategySpec") -> Iterator[Violation]:
    """A LOBSTER data source names its orderbook file; other formats do not."""
    d = spec.backtest.data
    if d.kind != "file":
        return
    if d.format == "lobster" and d.orderbook_path is None:
        yield Violation(("backtest", "data", "orderbook_path"), "is required for format lobster",
                        None)
    if d.format != "lobster" and d.orderbook_path is not None:
        yield Violation(("backtest", "data", "orderbook_path"),
                        f"only applies to format lobster, format is {d.format}", d.orderbook_path)


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
    from stratforge.generator.spec.signals import check_signals

    yield from check_signals(spec)
