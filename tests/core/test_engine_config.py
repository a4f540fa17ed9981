"""The typed sf-replay config (core/engine_config.py) on specs written for these tests."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from stratforge.core.engine_config import (EngineConfig, InstrumentLots, Risk, engine_config,
                                           instrument_lots)
from stratforge.core.errors import UserInputError
from stratforge.core.spec import load_spec_bytes

# A two-legged spec of this test's own: lot sizes that differ, so one global limit is a different
# number of lots per leg.
SPEC = {
    "apiVersion": "stratforge/v1", "kind": "Strategy",
    "metadata": {"name": "cfg-pair", "owner": "tests", "description": "engine config test"},
    "strategy": {
        "type": "stat_arb",
        "instruments": [
            {"symbol": "AAA", "venue": "sim", "tick_size": "0.5", "lot_size": "0.25",
             "quote_currency": "USD"},
            {"symbol": "BBB", "venue": "sim", "tick_size": "0.01", "lot_size": "0.4",
             "quote_currency": "USD"},
        ],
        "params": {"window": 30, "entry_z": 1.7, "exit_z": 0.3, "order_qty": "0.5",
                   "hedge_ratio": {"mode": "fixed", "value": 1.25}},
    },
    "risk": {"max_order_qty": "1.3", "max_position": "2.2", "max_order_notional": 900,
             "max_open_orders": 3, "max_orders_per_second": 7, "price_band_bps": 35,
             "max_loss": 150, "max_drawdown": 110},
    "latency": {"callback_p50_ns": 700, "callback_p99_ns": 4000, "tick_to_order_p99_ns": 8000},
    "backtest": {
        "data": {"kind": "synthetic", "profile": "l2", "events": 5000, "seed": 913,
                 "start": "2026-05-04T13:30:00Z", "start_price": 71.5, "volatility_annual": 0.21},
        "period": {"out_of_sample_fraction": 0.3},
        "fees": {"maker_bps": -0.25, "taker_bps": 2.5},
        "latency": {"model": "lognormal", "feed_median_ns": 90000, "feed_p99_ns": 400000,
                    "order_median_ns": 120000, "order_p99_ns": 700000},
        "queue": {"model": "pro_rata_cancels"},
        "initial_capital": 15000,
    },
    "gates": {"min_sharpe": 0.2, "max_drawdown_pct": 4, "min_trades": 6,
              "max_callback_p99_ns": 4000,
              "shadow": {"min_duration_s": 600, "min_fills": 3, "max_pnl_deviation_pct": 40,
                         "max_fill_ratio_deviation_pct": 25}},
}


def _spec(lot_b: str | None = None, **risk):
    doc = yaml.safe_load(yaml.safe_dump(SPEC))
    doc["risk"].update(risk)
    if lot_b is not None:
        doc["strategy"]["instruments"][1]["lot_size"] = lot_b
    return load_spec_bytes(yaml.safe_dump(doc).encode(), "cfg-pair.yaml").spec


@pytest.fixture(scope="module")
def spec():
    try:
        return _spec()
    except Exception as err:  # noqa: BLE001 - the fixture spec itself must be valid
        pytest.fail(f"the test's spec does not load: {err}")


def test_limits_are_whole_lots_per_instrument(spec) -> None:
    lots = {x.symbol: x for x in instrument_lots(spec)}
    # 1.3 / 0.25 = 5.2 -> 5 lots; 2.2 / 0.25 = 8.8 -> 8; 1.3 / 0.4 = 3.25 -> 3; 2.2 / 0.4 = 5.5 -> 5
    assert (lots["AAA"].max_order_lots, lots["AAA"].max_position_lots) == (5, 8)
    assert (lots["BBB"].max_order_lots, lots["BBB"].max_position_lots) == (3, 5)
    assert all(isinstance(x.max_order_lots, int) for x in lots.values())
    assert str(lots["AAA"].tick_size) == "0.5" and str(lots["BBB"].lot_size) == "0.4"


def test_a_limit_below_one_lot_is_a_user_error_naming_the_field() -> None:
    # a valid spec (leg 2 hedges 0.625 / 0.9 lots, which rounds to 1), but 0.6 is not one lot of BBB
    small = _spec(lot_b="0.9", max_order_qty="0.6")
    with pytest.raises(UserInputError, match=r"risk\.max_order_qty: 0\.6 is less than one lot \(0\.9\) of BBB"):
        instrument_lots(small)


def test_the_json_is_what_the_engine_reads(spec) -> None:
    cfg = engine_config(spec, plugin="/job/strategy.so", params="window=30\n",
                        data="/data/events.sfe", bar_mode=False, tape=None)
    doc = cfg.to_json()
    assert set(doc) == {"data", "bar_mode", "strategies", "risk", "venue", "output"}  # no "lots"
    assert doc["strategies"] == [{"id": "cfg-pair", "plugin": "/job/strategy.so",
                                  "params": "window=30\n", "instruments": ["AAA", "BBB"]}]
    assert doc["risk"]["max_order_qty"] == 1.3 and doc["risk"]["max_open_orders"] == 3
    assert doc["risk"]["msg_burst"] == 7 and doc["risk"]["kill_on_max_loss"] is True
    assert doc["venue"]["queue_model"] == "decrease_advances" and doc["venue"]["seed"] == 913
    assert doc["venue"]["fees"] == {"maker_bps": -0.25, "taker_bps": 2.5}
    assert doc["venue"]["latency"]["entry"] == {"model": "lognormal", "median_ns": 120000,
                                                "p99_ns": 700000}
    assert doc["venue"]["latency"]["response"] == doc["venue"]["latency"]["entry"]
    assert "tape" not in doc["output"] and doc["output"]["pnl_sample_period_ns"] == 60 * 10**9
    assert EngineConfig.model_validate({**doc, "lots": cfg.lots}) == cfg  # round trip


def test_the_model_refuses_what_the_engine_would() -> None:
    with pytest.raises(ValidationError, match="max_open_orders"):
        Risk(max_order_qty=1, max_order_notional=1, max_position=1, price_band_bps=1,
             max_open_orders=0, max_msgs_per_sec=1, msg_burst=1, max_loss=1,
             kill_on_max_loss=True, max_drawdown=1, kill_on_breach=False)
    with pytest.raises(ValidationError, match="extra"):
        InstrumentLots(symbol="X", tick_size="1", lot_size="1", max_order_lots=1,
                       max_position_lots=1, max_notional=3)
    with pytest.raises(ValidationError, match="max_order_lots"):
        InstrumentLots(symbol="X", tick_size="1", lot_size="1", max_order_lots=0,
                       max_position_lots=1)
