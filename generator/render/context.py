"""From a loaded spec to the template context: integer units, signals, roles, parameters.

Everything here is deterministic: dicts are built in spec order or sorted, numbers are printed
with ``repr`` (shortest round-trip) so C++ ``from_chars`` and Python ``float`` read back the same
double.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stratforge.core.errors import UserInputError
from stratforge.core.expr import DataKind, ExpressionError, Type, TypedExpr
from stratforge.core.spec import LoadedSpec, StrategySpec
from stratforge.runtime.data.spec_data import data_kind
from stratforge.core.spec.rules import KIND_SERIES
from stratforge.core.spec.signals import ROLE_SIGNALS, spec_params

from .signal_codegen import RenderError, SignalSet, build_signal_set, compile_signals

__all__ = ["StrategyContext", "ParamDef", "build_context", "REGIONS", "to_e9", "to_lots"]

#: Regions each strategy type's templates expose (name -> what it decides).
REGIONS: dict[str, tuple[str, ...]] = {
    "market_making": ("quote_adjust", "custom_logic"),
    "momentum": ("entry_exit", "custom_logic"),
    "mean_reversion": ("entry_exit", "custom_logic"),
    "stat_arb": ("entry_exit", "custom_logic"),
    "order_book_imbalance": ("entry_exit", "custom_logic"),
    "custom": ("entry_exit", "custom_logic"),
}
DIRECTIONAL = ("momentum", "mean_reversion", "order_book_imbalance", "custom")


@dataclass(frozen=True)
class ParamDef:
    """One line of params.txt and the typed field both languages read it into."""

    name: str
    kind: str  # "int" | "double" | "bool"
    value: int | float | bool

    @property
    def text(self) -> str:
        if self.kind == "bool":
            return "true" if self.value else "false"
        if self.kind == "int":
            return str(int(self.value))
        return repr(float(self.value))

    @property
    def cpp_type(self) -> str:
        return {"int": "std::int64_t", "double": "double", "bool": "bool"}[self.kind]

    @property
    def cpp_getter(self) -> str:
        return {"int": "require_int", "double": "require_double", "bool": "get_bool"}[self.kind]


@dataclass
class StrategyContext:
    name: str
    type: str
    class_name: str
    build_id: str
    spec_hash: str
    instruments: list[dict[str, Any]]
    params: list[ParamDef]
    sigset: SignalSet
    roles: dict[str, str | None]  # role -> signal name that drives it (None: never)
    data: str  # "bars" | "book"
    update_on: tuple[str, ...]  # callbacks that update the signals: subset of book/trade/bar
    price_series: str  # "close" | "mid"
    consts: dict[str, Any] = field(default_factory=dict)  # compile-time constants (windows)

    @property
    def params_text(self) -> str:
        head = f"# {self.name}: strategy parameters in integer units (name=value; sf::sdk::Params)\n"
        return head + "".join(f"{p.name}={p.text}\n" for p in self.params)


def to_e9(value: Decimal, what: str) -> int:
    scaled = Decimal(value) * Decimal(10) ** 9
    if scaled != scaled.to_integral_value() or scaled <= 0:
        raise RenderError(f"{what} = {value} is not a positive multiple of 1e-9; the runtime stores it in "
                          "units of 1e-9")
    return int(scaled)


def to_lots(qty: Decimal, lot_size: Decimal, what: str) -> int:
    lots = Decimal(qty) / Decimal(lot_size)
    if lots != lots.to_integral_value() or lots < 1:
        raise RenderError(f"{what} = {qty} is not a positive whole number of lots (lot_size {lot_size}); "
                          "make it a multiple of the lot size")
    return int(lots)


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", slug)) + "Strategy"


def _data(spec: StrategySpec) -> str:
    return data_kind(spec)  # the one decision (an .sfe file's kind comes from its header)


def build_context(loaded: LoadedSpec, build_id: str, *, data: str | None = None) -> StrategyContext:
    spec = loaded.spec
    st = spec.strategy
    stype = st.type.value
    data = data or _data(spec)
    price = "close" if data == "bars" else "mid"
    instruments = [{"symbol": i.symbol, "tick_size_e9": to_e9(i.tick_size, f"{i.symbol} tick_size"),
                    "lot_size_e9": to_e9(i.lot_size, f"{i.symbol} lot_size")} for i in st.instruments]
    lot0 = st.instruments[0].lot_size
    p = st.params
    params: list[ParamDef] = []
    ref_signals: dict[str, str] = {}
    consts: dict[str, Any] = {}
    allow_long = allow_short = True
    if stype in ("momentum", "mean_reversion"):
        allow_long = p.sides.value in ("long_only", "both")
        allow_short = p.sides.value in ("short_only", "both")
    if stype == "momentum":
        ref_signals = {
            "ref_fast": f"ema({price}, fast_window)", "ref_slow": f"ema({price}, slow_window)",
            "ref_entry_long": "cross_above(ref_fast, ref_slow)", "ref_exit_long": "cross_below(ref_fast, ref_slow)",
            "ref_entry_short": "cross_below(ref_fast, ref_slow)", "ref_exit_short": "cross_above(ref_fast, ref_slow)",
        }
        params.append(ParamDef("order_qty_lots", "int", to_lots(p.order_qty, lot0, "order_qty")))
        params.append(ParamDef("stop_loss_bps", "double", float(p.stop_loss_bps or 0.0)))
    elif stype == "mean_reversion":
        ref_signals = {
            "ref_z": f"zscore({price}, window)",
            "ref_entry_long": "ref_z < -entry_z", "ref_exit_long": "ref_z >= -exit_z",
            "ref_entry_short": "ref_z > entry_z", "ref_exit_short": "ref_z <= exit_z",
        }
        params.append(ParamDef("order_qty_lots", "int", to_lots(p.order_qty, lot0, "order_qty")))
        params.append(ParamDef("stop_loss_bps", "double", 0.0))
    elif stype == "custom":
        params.append(ParamDef("order_qty_lots", "int", to_lots(st.order_qty, lot0, "order_qty")))
        params.append(ParamDef("stop_loss_bps", "double", 0.0))
        # role signals decide when the spec gives them; otherwise the LLM-written entry_exit
        # region does (code mode), and either side is allowed
        roles_given = "entry_long" in st.signals or "entry_short" in st.signals
        allow_long = "entry_long" in st.signals if roles_given else True
        allow_short = "entry_short" in st.signals if roles_given else True
        # the spec's named constants, readable by region code as p_.<name> / self.p.<name>
        for cname, cvalue in sorted(p.items()):
            if cname in ("order_qty_lots", "stop_loss_bps", "allow_long", "allow_short", "max_order_lots"):
                raise RenderError(f"strategy.params.{cname} is a reserved parameter name")
            kind = "bool" if isinstance(cvalue, bool) else "int" if isinstance(cvalue, int) else "double"
            params.append(ParamDef(cname, kind, cvalue if kind != "double" else float(cvalue)))
    elif stype == "order_book_imbalance":
        params += [ParamDef("order_qty_lots", "int", to_lots(p.order_qty, lot0, "order_qty")),
                   ParamDef("stop_loss_bps", "double", 0.0),
                   ParamDef("levels", "int", p.levels),
                   ParamDef("entry_threshold", "double", p.entry_threshold),
                   ParamDef("exit_threshold", "double", p.exit_threshold),
                   ParamDef("hold_ns", "int", p.hold_ns),
                   ParamDef("max_spread_ticks", "int", p.max_spread_ticks)]
    elif stype == "market_making":
        params += [ParamDef("order_qty_lots", "int", to_lots(p.order_qty, lot0, "order_qty")),
                   ParamDef("max_inventory_lots", "int", to_lots(p.max_inventory, lot0, "max_inventory")),
                   ParamDef("gamma", "double", p.gamma), ParamDef("kappa", "double", p.kappa),
                   ParamDef("horizon_s", "double", p.horizon_s),
                   ParamDef("min_spread_ticks", "int", p.min_spread_ticks),
                   ParamDef("requote_ticks", "int", p.requote_ticks),
                   ParamDef("requote_interval_ns", "int", p.requote_interval_ns or 0)]
        consts["vol_window"] = p.vol_window
    elif stype == "stat_arb":
        hr = p.hedge_ratio
        params += [ParamDef("order_qty_lots", "int", to_lots(p.order_qty, lot0, "order_qty")),
                   ParamDef("entry_z", "double", p.entry_z), ParamDef("exit_z", "double", p.exit_z),
                   ParamDef("hedge_ratio", "double", float(hr.value or 0.0))]
        consts["window"] = p.window
        consts["rolling_ols"] = hr.mode == "rolling_ols"
        consts["ols_window"] = hr.window or 1
    if stype in DIRECTIONAL:
        params += [ParamDef("allow_long", "bool", allow_long), ParamDef("allow_short", "bool", allow_short)]
        # the largest order risk.max_order_qty lets through: a reversal bigger than that is split
        # into a closing order and an opening order (docs/templates.md, "Order sizing")
        max_lots = int(Decimal(spec.risk.max_order_qty) / Decimal(lot0))
        if max_lots < 1:
            raise RenderError(f"risk.max_order_qty = {spec.risk.max_order_qty} is less than one lot "
                              f"({lot0}) of {st.instruments[0].symbol}")
        params.append(ParamDef("max_order_lots", "int", max_lots))

    # signals: reference first, then the spec's (which may not reuse reference names)
    clash = sorted(set(ref_signals) & set(st.signals))
    if clash:
        raise RenderError(f"strategy.signals uses reserved name(s) {', '.join(clash)} (names starting with "
                          "'ref_' are the reference logic's)")
    names = {**{k: v for k, v in ref_signals.items()}, **dict(st.signals)}
    # every template keeps the position state the position series read (docs/expressions.md)
    allowed = KIND_SERIES[data]
    everything = frozenset().union(*KIND_SERIES.values())
    try:  # the data kind is checked below, as a user error that names the signal and the data
        typed: dict[str, TypedExpr] = compile_signals(names, spec_params(spec), data=everything)
    except ExpressionError as err:
        raise RenderError(f"signal expression error: {err}") from None
    for n, t in typed.items():
        bad = sorted(str(k) for k in t.data_kinds - allowed)
        if bad:
            raise UserInputError(
                f"strategy.signals.{n}: reads {', '.join(bad)} data but backtest.data is {data} "
                f"data; use {'bar series (open, high, low, close, volume)' if data == 'bars' else 'book and trade series (mid, bid, ask, spread, last, ...)'}"
                f" or data of the other kind")
    kinds = set()
    for t in typed.values():
        kinds |= {str(k) for k in t.data_kinds}
    update_on = ("bar",) if data == "bars" else tuple(k for k in ("book", "trade") if k == "book" or k in kinds)
    roles: dict[str, str | None] = {}
    for role in ROLE_SIGNALS:
        if role in typed:
            if typed[role].type is not Type.BOOL:
                raise RenderError(f"role signal '{role}' must be a condition")
            roles[role] = role
        elif f"ref_{role}" in typed:
            roles[role] = f"ref_{role}"
        else:
            roles[role] = None
    return StrategyContext(
        name=spec.metadata.name, type=stype, class_name=_camel(spec.metadata.name), build_id=build_id,
        spec_hash=loaded.hash, instruments=instruments, params=params, sigset=build_signal_set(typed),
        roles=roles, data=data, update_on=update_on, price_series=price, consts=consts)
