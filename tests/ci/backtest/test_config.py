"""The spec → sf-replay config mapping (core/engine_config.py)."""

from __future__ import annotations

import pytest

from stratforge.core.engine_config import QUEUE_MODELS, engine_config, risk_limits

from backtest_kit import example, with_changes


def test_every_risk_field_maps_in_human_units():
    spec = example("btc-obi-scalper")
    risk = risk_limits(spec).model_dump(exclude_none=True)
    assert risk == {
        "max_order_qty": 0.005, "max_order_notional": 400, "max_position": 0.01,
        "price_band_bps": 10, "max_open_orders": 2, "max_msgs_per_sec": 20, "msg_burst": 20,
        "max_loss": 100, "kill_on_max_loss": True, "max_drawdown": 80, "kill_on_breach": True,
    }


def test_kill_on_breach_follows_the_spec_and_drawdown_is_always_set():
    spec = with_changes(example("btc-obi-scalper"), risk={"kill_on_breach": False,
                                                           "max_drawdown": 12.5})
    risk = risk_limits(spec).model_dump(exclude_none=True)
    assert risk["kill_on_breach"] is False and risk["max_drawdown"] == 12.5
    assert risk["kill_on_max_loss"] is True  # loss (and drawdown) breaches always trip it
    cfg = engine_config(spec, plugin="p", params="", data="d", bar_mode=False).to_json()
    assert cfg["risk"] == risk


def test_lognormal_latency_feed_entry_and_response():
    cfg = engine_config(example("btc-perp-avellaneda"), plugin="/job/s.so", params="a=1",
                        data="/data/e.sfe", bar_mode=False).to_json()
    lat = cfg["venue"]["latency"]
    assert lat["feed"] == {"model": "lognormal", "median_ns": 800000, "p99_ns": 3000000}
    assert lat["entry"] == {"model": "lognormal", "median_ns": 1200000, "p99_ns": 5000000}
    assert lat["response"] == lat["entry"]


def test_constant_latency_fees_queue_and_strategy():
    spec = example("eth-btc-pair")
    cfg = engine_config(spec, plugin="/job/s.so", params="x=1\n", data="/data/e.sfe",
                        bar_mode=False).to_json()
    assert cfg["venue"]["latency"]["feed"] == {"model": "constant", "ns": 1000000}
    assert cfg["venue"]["latency"]["entry"] == {"model": "constant", "ns": 2000000}
    assert cfg["venue"]["fees"] == {"maker_bps": 1, "taker_bps": 1}
    assert cfg["venue"]["queue_model"] == "risk_averse"
    assert cfg["venue"]["seed"] == 42  # the synthetic data's seed
    s = cfg["strategies"][0]
    assert s["instruments"] == ["ETHUSDT", "BTCUSDT"] and s["params"] == "x=1\n"
    assert s["id"] == "eth-btc-pair" and cfg["bar_mode"] is False
    assert cfg["output"]["orders_list"] is True and cfg["output"]["tape"] == "tape.jsonl"


@pytest.mark.parametrize("model,engine", sorted(QUEUE_MODELS.items()))
def test_queue_models(model, engine):
    spec = with_changes(example("nvda-momentum"), backtest={"queue": {"model": model}})
    cfg = engine_config(spec, plugin="p", params="", data="d", bar_mode=True).to_json()
    assert cfg["venue"]["queue_model"] == engine and cfg["bar_mode"] is True


def test_negative_fee_is_a_rebate_and_no_tape():
    spec = example("btc-perp-avellaneda")
    cfg = engine_config(spec, plugin="p", params="", data="d", bar_mode=False, tape=None).to_json()
    assert cfg["venue"]["fees"]["maker_bps"] == -0.5 and "tape" not in cfg["output"]


def test_bar_runs_accept_a_last_close_reference_across_a_long_weekend():
    """A pair decided on one leg's daily bar sees the other leg's close of the previous trading
    day: the engine's 5 s default denied those orders STALE_REFERENCE (the KO/IBM pair: 26
    denials, runtime and backtrader disagreed). L2 runs keep the engine's default."""
    spec = example("eth-btc-pair")
    bars = engine_config(spec, plugin="p", params="", data="d", bar_mode=True).to_json()["risk"]
    assert bars["max_reference_age_ms"] == 10 * 86_400_000  # Friday's close on a Tuesday after a holiday
    assert "max_reference_age_ms" not in engine_config(spec, plugin="p", params="", data="d",
                                                       bar_mode=False).to_json()["risk"]
