"""from_replay_results against a document shaped like runtime/engine/src/results.cpp writes."""

from __future__ import annotations

import pytest

from stratforge.ci.scorecard import build_scorecard
from stratforge.ci.scorecard.adapters import ReplayFormatError, from_replay_results, hist_quantile, merge_histograms

from scorecard_kit import T0, good_checks, spec

SPEC = spec()


def hist(values_buckets, mx):
    b = [[lo, hi, c] for lo, hi, c in values_buckets]
    return {"count": sum(c for *_, c in b), "min": b[0][0] if b else 0, "mean": 0.0, "p50": 0, "p90": 0,
            "p99": 0, "p99_9": 0, "max": mx, "buckets": b}


def doc(**strategy_overrides):
    s = {
        "id": "btc-perp-avellaneda", "plugin": "builtin:market_maker", "name": "mm", "build_id": "b", "spec_hash": "h",
        "instruments": ["BTCUSDT"],
        "summary": {"pnl": 1.5},
        "orders": {"submitted": 4, "accepted": 4, "denied": 0, "cancels": 1, "replaces": 1,
                   "list": [{"id": i, "ts": T0, "instrument": "BTCUSDT", "side": "BUY", "type": "LIMIT", "tif": "GTC",
                             "px": 610000, "qty": 10, "filled": 10, "status": "FILLED"} for i in range(4)]},
        "risk": {"denials_by_reason": {"PRICE_BAND": 3}},
        "fills_truncated": False,
        "fills": [
            {"ts": T0 + 10, "order_id": 1, "instrument": "BTCUSDT", "side": "BUY", "liquidity": "MAKER", "px": 610000,
             "qty": 10, "price": 61000.0, "size": 0.01, "fee": -0.03, "position_lots": 10},
            {"ts": T0 + 20, "order_id": 2, "instrument": "BTCUSDT", "side": "SELL", "liquidity": "TAKER", "px": 610010,
             "qty": 10, "price": 61001.0, "size": 0.01, "fee": 0.27, "position_lots": 0},
        ],
        "pnl_series": {"instruments": ["BTCUSDT"], "ts": [T0, T0 + 10, T0 + 20], "pnl": [0.0, -0.1, 0.04],
                       "fees": [0.0, -0.03, 0.24], "position_lots": [[0], [10], [0]]},
        "latency_ns": {"on_book": hist([(100, 100, 3), (128, 129, 1)], 129), "on_fill": hist([(100, 100, 1)], 100),
                       "on_trade": hist([], 0), "tick_to_order": hist([(1000, 1015, 2)], 1010)},
    }
    s.update(strategy_overrides)
    return {"format": "sf-replay-results", "version": 1, "config": "c.json",
            "data": {"path": "d.sfe", "events": 3, "first_recv_ts": T0, "last_recv_ts": T0 + 600 * 10**9,
                     "instruments": [{"id": 0, "symbol": "BTCUSDT", "tick_size": 0.1, "lot_size": 0.001}]},
            "models": {"bar_mode": False, "latency": {"feed": {"model": "constant", "ns": 0},
                                                      "entry": {"model": "lognormal", "median_ns": 1, "p99_ns": 2},
                                                      "response": {"model": "constant", "ns": 0}, "applied": True},
                       "queue_model": "risk_averse", "fees": {"maker_bps": -0.5, "taker_bps": 4.5}},
            "run": {"events_processed": 3, "wall_time_s": 0.01, "completed": True},
            "strategies": [s]}


def test_adapter_maps_fields():
    run = from_replay_results(doc(), SPEC)
    assert run.data_profile == "l2" and run.status.value == "ok"
    assert run.period.start_ns == T0 and run.period.out_of_sample_start_ns is not None
    assert run.equity.positions["BTCUSDT"] == (0.0, pytest.approx(0.01), 0.0)
    assert [f.side.value for f in run.fills] == ["buy", "sell"] and run.fills[1].liquidity.value == "taker"
    assert run.orders.ordered_qty == pytest.approx(0.04) and run.orders.filled_qty == pytest.approx(0.02)
    assert run.risk_denials == {"PRICE_BAND": 3}
    cb = run.callback_latency
    assert (cb.count, cb.p50_ns, cb.p99_ns, cb.max_ns) == (5, 100, 129, 129)
    assert run.tick_to_order_latency.p99_ns == 1010  # upper edge clamped to the exact maximum
    assert "risk_averse" in run.models.queue and "lognormal" in run.models.latency
    sc = build_scorecard(run, SPEC, **good_checks())
    assert sc.metrics.full.trades == 1 and sc.metrics.fill_ratio.value == pytest.approx(0.5)


def test_quantile_matches_engine_rule():
    b = [(0, 0, 1), (1, 1, 1), (2, 2, 1), (3, 3, 1)]
    assert [hist_quantile(b, 4, 3, q) for q in (0.0, 0.5, 0.99)] == [0, 1, 3]
    with pytest.raises(ReplayFormatError, match="bucket counts"):
        merge_histograms([{"count": 3, "max": 5, "buckets": [[1, 1, 1]]}])


def test_fault_and_incomplete_runs():
    assert from_replay_results(doc(fault={"callback": "on_book", "message": "bad"}), SPEC).status.value == "strategy_fault"
    d = doc()
    d["run"]["completed"] = False
    assert from_replay_results(d, SPEC).status.value == "data_error"


def test_rejects_unknown_format_and_truncated_fills():
    with pytest.raises(ReplayFormatError, match="expected format"):
        from_replay_results({"format": "other"}, SPEC)
    with pytest.raises(ReplayFormatError, match="truncated"):
        from_replay_results(doc(fills_truncated=True), SPEC)


def _series(**extra):
    d = doc()
    d["strategies"][0]["pnl_series"].update(extra)
    return d


def test_sampling_rule_is_read_from_the_results():
    run = from_replay_results(_series(sampling={"rule": "period", "period_ns": 60 * 10**9}, samples_dropped=0), SPEC)
    assert run.equity.sample_period_ns == 60 * 10**9 and run.equity.sample_every_events is None
    run = from_replay_results(_series(sampling={"rule": "events", "every": 7}), SPEC)
    assert run.equity.sample_every_events == 7 and run.equity.sample_period_ns is None


def test_results_without_a_sampling_record_are_taken_as_the_old_engines():
    d = doc()
    d["data"]["events"] = 9_000  # the old engine sampled every 9000 // 2000 = 4 events
    assert from_replay_results(d, SPEC).equity.sample_every_events == 4


def test_dropped_samples_and_unknown_rules_are_refused():
    with pytest.raises(ReplayFormatError, match="dropped 3 PnL samples"):
        from_replay_results(_series(sampling={"rule": "period", "period_ns": 1}, samples_dropped=3), SPEC)
    with pytest.raises(ReplayFormatError, match="unknown pnl_series.sampling"):
        from_replay_results(_series(sampling={"rule": "hourly"}), SPEC)


def test_bar_interval_is_taken_from_the_data_in_bar_mode():
    d = _series(sampling={"rule": "period", "period_ns": 1})
    d["models"]["bar_mode"] = True
    d["data"]["instruments"][0]["bar_interval_ns"] = 3600 * 10**9
    run = from_replay_results(d, SPEC)
    assert run.bar_interval_ns == 3600 * 10**9 and run.data_profile == "bars"
