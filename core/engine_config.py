"""The ``sf-replay`` config as a typed model, and the one mapping of a spec onto it.

The engine reads a JSON config (docs/replay.md, "Config"); :class:`EngineConfig` is that document
as frozen pydantic models, so a wrong key or a wrong type is an error where the config is built,
not an engine exit 3 inside the sandbox. :func:`engine_config` maps a spec onto it (docs/backtest.md,
"Config mapping"): risk limits in the units docs/replay.md asks for, the spec's latency, queue and
fee models, bar mode for bar data. :meth:`EngineConfig.to_json` is what is written to disk.

Quantities: the engine converts the base-unit limits to whole lots per instrument (rounding down)
at start-up. :func:`instrument_lots` does the same conversion here with the spec's tick and lot
sizes, as integers, and :func:`engine_config` refuses a limit below one lot of an instrument with a
clear error naming the field (the engine would stop with a config error, exit 3).

The sandbox runs the engine with this config; ci reads the names it needs (the queue model the
engine ran, the seed handed to strategies) from here, never back from the sandbox.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stratforge.core.errors import UserInputError
from stratforge.core.spec.models import StrategySpec

#: Spec queue model -> engine queue model (docs/replay.md "Models"):
#: back_of_queue advances only by traded volume (the engine's risk_averse caps the queue ahead at
#: the level size, which is the same conservative rule); pro_rata_cancels also advances on
#: cancels, which the engine models as decrease_advances (a level decrease not explained by a
#: trade moves the order forward).
QUEUE_MODELS: dict[str, str] = {"back_of_queue": "risk_averse",
                                "pro_rata_cancels": "decrease_advances"}
#: PnL sampled at the end of every minute of a tick/L2 run (docs/scorecard.md)
L2_PNL_PERIOD_NS = 60 * 1_000_000_000
#: fills and orders listed in the results at most
MAX_FILLS_LISTED = 2_000_000
#: risk denials listed in the results at most
MAX_DENIALS_LISTED = 1000

Number = int | float


def _num(x: Any) -> Number:
    """A spec number as the JSON number the engine reads (an integer when it is one)."""
    f = float(x)
    return int(f) if f.is_integer() else f


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConstantLatency(_Model):
    model: Literal["constant"] = "constant"
    ns: int = Field(ge=0)


class LognormalLatency(_Model):
    model: Literal["lognormal"] = "lognormal"
    median_ns: int = Field(ge=0)
    p99_ns: int = Field(ge=0)


LatencyModel = ConstantLatency | LognormalLatency


class Latency(_Model):
    feed: LatencyModel
    entry: LatencyModel
    response: LatencyModel


class Fees(_Model):
    maker_bps: Number
    taker_bps: Number


class Venue(_Model):
    latency: Latency
    queue_model: Literal["risk_averse", "decrease_advances"]
    fees: Fees
    seed: int = Field(ge=0)


class Risk(_Model):
    """The global risk limits, in the engine's config units (docs/replay.md): quantities in base
    units, notional and loss in quote currency, the band in bps."""

    max_order_qty: Number = Field(gt=0)
    max_order_notional: Number = Field(gt=0)
    max_position: Number = Field(gt=0)
    price_band_bps: Number = Field(gt=0)
    max_open_orders: int = Field(ge=1)
    max_msgs_per_sec: int = Field(ge=1)
    msg_burst: int = Field(ge=1)
    max_loss: Number = Field(gt=0)
    kill_on_max_loss: bool
    max_drawdown: Number = Field(gt=0)
    kill_on_breach: bool
    #: how old an instrument's risk reference may be (None: the engine's default, 5 s)
    max_reference_age_ms: int | None = Field(default=None, ge=1)


class InstrumentLots(_Model):
    """One instrument's size limits as the engine enforces them: whole lots, with the tick and
    lot sizes they are counted in."""

    symbol: str
    tick_size: Decimal = Field(gt=0)
    lot_size: Decimal = Field(gt=0)
    max_order_lots: int = Field(ge=1)
    max_position_lots: int = Field(ge=1)


class Strategy(_Model):
    id: str = Field(min_length=1)
    plugin: str = Field(min_length=1)
    params: str
    instruments: tuple[str, ...] = Field(min_length=1)


class Output(_Model):
    results: str
    pnl_sample_period_ns: int = Field(ge=1)
    orders_list: bool = True
    max_fills_listed: int = MAX_FILLS_LISTED
    max_orders_listed: int = MAX_FILLS_LISTED
    max_denials_listed: int = MAX_DENIALS_LISTED
    tape: str | None = None


class EngineConfig(_Model):
    """The whole ``sf-replay`` config (paths as the engine will see them)."""

    data: str
    bar_mode: bool
    strategies: tuple[Strategy, ...] = Field(min_length=1)
    risk: Risk
    venue: Venue
    output: Output
    #: the size limits per instrument in lots (not written: the engine derives them itself from
    #: ``risk`` and the data file's instrument table; kept here typed for the reader and checked)
    lots: tuple[InstrumentLots, ...] = Field(default=(), exclude=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON document the engine reads."""
        return self.model_dump(mode="json", exclude_none=True)


def _latency(spec: StrategySpec) -> Latency:
    lat = spec.backtest.latency
    if lat.model == "constant":
        feed: LatencyModel = ConstantLatency(ns=lat.feed_ns)
        order: LatencyModel = ConstantLatency(ns=lat.order_ns)
    else:
        feed = LognormalLatency(median_ns=lat.feed_median_ns, p99_ns=lat.feed_p99_ns)
        order = LognormalLatency(median_ns=lat.order_median_ns, p99_ns=lat.order_p99_ns)
    # venue reports travel back on the order path: response uses the order latency
    return Latency(feed=feed, entry=order, response=order)


def risk_limits(spec: StrategySpec) -> Risk:
    """The spec's ``risk`` section as the engine's global risk config."""
    r = spec.risk
    return Risk(
        max_order_qty=_num(r.max_order_qty),
        max_order_notional=_num(r.max_order_notional),
        max_position=_num(r.max_position),
        price_band_bps=_num(r.price_band_bps),
        max_open_orders=int(r.max_open_orders),
        max_msgs_per_sec=int(r.max_orders_per_second),
        msg_burst=int(r.max_orders_per_second),
        max_loss=_num(r.max_loss),
        # the spec: loss and drawdown breaches always trip the kill switch; kill_on_breach widens
        # it to position, open-order and rate breaches (docs/backtest.md)
        kill_on_max_loss=True,
        max_drawdown=_num(r.max_drawdown),
        kill_on_breach=bool(r.kill_on_breach),
    )


#: In bar mode the risk reference of an instrument is its last close, as fresh as its bars allow:
#: a pair's leg decided on the other leg's bar of the same day sees yesterday's close (more over a
#: weekend or holiday). The engine's default age limit (5 s) would deny every such order, so bar
#: runs allow ten days (daily bars across a long weekend); bar mode fills at the next open anyway.
BAR_REFERENCE_AGE_MS = 10 * 86_400_000


def _lots(qty: Decimal, lot: Decimal) -> int:
    return int((Decimal(qty) / Decimal(lot)).to_integral_value(rounding=ROUND_FLOOR))


def instrument_lots(spec: StrategySpec) -> tuple[InstrumentLots, ...]:
    """Each instrument's ``max_order_qty`` and ``max_position`` in whole lots (rounded down, as
    the engine does). ``UserInputError`` when a limit is below one lot of an instrument."""
    out = []
    for inst in spec.strategy.instruments:
        order = _lots(spec.risk.max_order_qty, inst.lot_size)
        position = _lots(spec.risk.max_position, inst.lot_size)
        for field, value, lots in (("max_order_qty", spec.risk.max_order_qty, order),
                                   ("max_position", spec.risk.max_position, position)):
            if lots < 1:
                raise UserInputError(f"risk.{field}: {value} is less than one lot "
                                     f"({inst.lot_size}) of {inst.symbol}; the engine counts "
                                     "limits in whole lots")
        out.append(InstrumentLots(symbol=inst.symbol, tick_size=inst.tick_size,
                                  lot_size=inst.lot_size, max_order_lots=order,
                                  max_position_lots=position))
    return tuple(out)


def instruments_of(spec: StrategySpec) -> list[tuple[str, int, int]]:
    """(symbol, tick_size_e9, lot_size_e9) per instrument, as the engine sees them (the event
    file's instrument table counts ticks and lots in 1e-9 units, docs/formats.md)."""
    scale = Decimal(10) ** 9
    return [(i.symbol, int(i.tick_size * scale), int(i.lot_size * scale))
            for i in spec.strategy.instruments]


def engine_seed(spec: StrategySpec) -> int:
    """The seed the engine hands strategies (``venue.seed``): the synthetic data's seed, else 1."""
    d = spec.backtest.data
    return int(d.seed) if d.kind == "synthetic" else 1


def pnl_sample_period_ns(bar_mode: bool) -> int:
    """The PnL sampling period asked of the engine: each bar (1 ns: every change of time) for bar
    data, the end of every minute for tick/L2 data, the periods of the scorecard's returns
    (docs/scorecard.md)."""
    return 1 if bar_mode else L2_PNL_PERIOD_NS


def engine_config(spec: StrategySpec, *, plugin: str, params: str, data: str, bar_mode: bool,
                  strategy_id: str | None = None, seed: int | None = None,
                  results: str = "results.json", tape: str | None = "tape.jsonl") -> EngineConfig:
    """The ``sf-replay`` config for ``spec`` (paths as the engine will see them)."""
    return EngineConfig(
        data=data,
        bar_mode=bool(bar_mode),
        strategies=(Strategy(id=strategy_id or spec.metadata.name, plugin=plugin, params=params,
                             instruments=tuple(i.symbol for i in spec.strategy.instruments)),),
        risk=risk_limits(spec).model_copy(
            update={"max_reference_age_ms": BAR_REFERENCE_AGE_MS if bar_mode else None}),
        venue=Venue(latency=_latency(spec), queue_model=QUEUE_MODELS[spec.backtest.queue.model],
                    fees=Fees(maker_bps=_num(spec.backtest.fees.maker_bps),
                              taker_bps=_num(spec.backtest.fees.taker_bps)),
                    seed=engine_seed(spec) if seed is None else seed),
        output=Output(results=results, pnl_sample_period_ns=pnl_sample_period_ns(bar_mode),
                      tape=tape or None),
        lots=instrument_lots(spec),
    )


__all__ = ["BAR_REFERENCE_AGE_MS", "EngineConfig", "InstrumentLots", "L2_PNL_PERIOD_NS", "MAX_FILLS_LISTED",
           "QUEUE_MODELS", "Risk", "engine_config", "engine_seed", "instrument_lots", "instruments_of",
           "pnl_sample_period_ns", "risk_limits"]
