"""The Prometheus exposition of the engine's metrics, the HTTP endpoint, and the mapping of a
shadow instance's metrics to the registry's shadow-gate keys."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stratforge.core.errors import UserInputError
from stratforge.runtime.control.client import EngineError
from stratforge.runtime.control.metrics import EngineCollector, MetricsServer, gate_metrics

STATUS = {"feed": {"kind": "replay", "seq": 812, "events": 812, "ts_ns": 5, "done": False},
          "venue": {"connected": True, "session": "engine-1"}, "killed_all": False,
          "strategies": [{"name": "gamma-fade", "live": "g2", "last_good": "g1", "killed": True,
                          "instances": [{"build_id": "g2", "role": "live"},
                                        {"build_id": "g1", "role": "shadow"},
                                        {"build_id": "g3", "role": "shadow"}]}]}


def _inst(build: str, role: str, **kw) -> dict:
    base = {"strategy": "gamma-fade", "build_id": build, "role": role, "events": 800,
            "pnl": 12.5, "fees": 0.75, "position": {"ZZX": -3},
            "orders": {"submitted": 40, "accepted": 38, "denied": 2, "canceled": 9,
                       "fills": 19, "fill_qty": 57},
            "denials": {"MAX_POSITION": 2},
            "t2o_ns": {"count": 38, "p50": 410, "p99": 990, "p999": 1500, "max": 2100},
            "callback_ns": {"count": 800, "p50": 120, "p99": 640, "p999": 900, "max": 1000},
            "drawdown": 4.0, "risk_breaches": 1}
    base.update(kw)
    return base


METRICS = {"instances": [_inst("g2", "live"), _inst("g1", "shadow", pnl=-1.0),
                         _inst("g3", "shadow", pnl=3.0)],
           "firm": {"position": {"ZZX": -3}, "gross_notional": 3123.5}, "feed": STATUS["feed"]}


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _lbl(**kw) -> tuple:
    return tuple(sorted(kw.items()))


def test_the_prometheus_text_carries_every_instance_series() -> None:
    col = EngineCollector()
    col.update(STATUS, METRICS, restarts=2, standby={"gamma-fade": {"g1"}})
    srv = MetricsServer(col).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/metrics", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            got = _samples(r.read().decode())
        live = dict(strategy="gamma-fade", build_id="g2", role="live")
        assert got[("sf_engine_up", ())] == 1
        assert got[("sf_engine_restarts_total", ())] == 2
        assert got[("sf_feed_seq", ())] == 812
        assert got[("sf_venue_connected", ())] == 1
        assert got[("sf_kill_switch_engaged", _lbl(strategy="gamma-fade"))] == 1
        assert got[("sf_deployment_info", _lbl(strategy="gamma-fade", build_id="g1",
                                               role="standby"))] == 1
        assert got[("sf_deployment_info", _lbl(strategy="gamma-fade", build_id="g3",
                                               role="shadow"))] == 1
        assert got[("sf_instance_pnl", _lbl(**live))] == 12.5
        assert got[("sf_instance_pnl", _lbl(strategy="gamma-fade", build_id="g1",
                                            role="standby"))] == -1.0
        assert got[("sf_instance_position", _lbl(**live, symbol="ZZX"))] == -3
        assert got[("sf_instance_orders_total", _lbl(**live, kind="fills"))] == 19
        assert got[("sf_instance_denials_total", _lbl(**live, reason="MAX_POSITION"))] == 2
        assert got[("sf_instance_tick_to_order_ns", _lbl(**live, quantile="0.99"))] == 990
        assert got[("sf_instance_callback_ns", _lbl(**live, quantile="0.999"))] == 900
        assert got[("sf_instance_risk_breaches_total", _lbl(**live))] == 1
        assert got[("sf_firm_gross_notional", ())] == 3123.5
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/status", timeout=5) as r:
            doc = json.loads(r.read())
        assert doc["engine_up"] is True and doc["status"]["feed"]["seq"] == 812
    finally:
        srv.stop()


def test_engine_down_is_up_zero_and_no_instance_series() -> None:
    col = EngineCollector()
    col.update(STATUS, METRICS)
    col.update(None, None, restarts=1)
    srv = MetricsServer(col).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/metrics", timeout=5) as r:
            got = _samples(r.read().decode())
        assert got[("sf_engine_up", ())] == 0
        assert not [k for k in got if k[0].startswith("sf_instance_")]
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/nope", timeout=5)
    finally:
        srv.stop()


def test_gate_metrics_against_the_live_instance() -> None:
    shadow = _inst("g3", "shadow", pnl=30.0, orders={"accepted": 20, "fills": 10})
    got = gate_metrics(shadow, duration_s=3725.4, capital=2000.0,
                       reference={"pnl": 16.0, "fills": 8, "accepted": 10})
    assert got == {"duration_s": 3725.4, "fills": 10, "risk_breaches": 1,
                   "callback_p99_ns": 640, "callback_count": 800, "drawdown_pct": 0.2,
                   # 3.0 per fill vs 2.0 per fill: 50 %; fill ratio 0.5 vs 0.8: 30 points
                   "pnl_deviation_pct": 50.0, "fill_ratio_deviation_pct": 30.0}


def test_gate_metrics_without_a_reference_are_not_measured() -> None:
    got = gate_metrics(_inst("g3", "shadow"), duration_s=10, capital=None, reference=None)
    assert got["pnl_deviation_pct"] is None and got["fill_ratio_deviation_pct"] is None
    assert got["drawdown_pct"] is None
    # a reference without fills cannot give a per-fill PnL: not measured either
    got = gate_metrics(_inst("g3", "shadow"), duration_s=10, capital=1.0,
                       reference={"pnl": 0.0, "fills": 0, "fill_ratio": 0.5})
    assert got["pnl_deviation_pct"] is None
    assert got["fill_ratio_deviation_pct"] == pytest.approx(0.0 + abs(19 / 38 - 0.5) * 100)


def test_gate_metrics_of_a_shadow_that_missed_events_are_not_measured() -> None:
    # sf-engine marks a shadow whose ring overflowed "complete": false: incomplete evidence
    shadow = _inst("g3", "shadow", pnl=30.0, orders={"accepted": 20, "fills": 10})
    reference = {"pnl": 16.0, "fills": 8, "accepted": 10}
    whole = gate_metrics(shadow, duration_s=3725.4, capital=2000.0, reference=reference)
    assert whole["fills"] == 10 and whole["pnl_deviation_pct"] == 50.0
    got = gate_metrics({**shadow, "complete": False, "missed_events": 7}, duration_s=3725.4,
                       capital=2000.0, reference=reference)
    assert got["risk_breaches"] == 1  # a breach that happened still counts
    assert all(v is None for k, v in got.items() if k != "risk_breaches"), got


def _post(port: int, what: str, body: bytes | None, token: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{what}", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_kill_and_release_over_http_need_the_token_a_body_and_an_allowed_actor() -> None:
    """The dashboard's kill switch: every planted bad request is refused before the engine is
    asked; a refused actor gets 403; a good request reaches the action once."""
    asked: list[tuple] = []

    def actions(what, strategy, reason, actor):
        if actor == "mallory":
            raise UserInputError("mallory may not kill (role viewer)")
        if strategy == "gone":
            raise EngineError("the engine refused: no strategy 'gone'")
        asked.append((what, strategy, reason, actor))
        return {"killed": [strategy] if strategy else ["a", "b"]}

    srv = MetricsServer(EngineCollector(), actions=actions, token="s3cret").start()
    good = json.dumps({"strategy": "delta-arb", "reason": "runaway", "actor": "ops"}).encode()
    try:
        assert _post(srv.port, "kill", good, None)[0] == 401
        assert _post(srv.port, "kill", good, "s3cre")[0] == 401
        assert _post(srv.port, "nuke", good, "s3cret")[0] == 404
        assert _post(srv.port, "kill", b"[1]", "s3cret")[0] == 400
        assert _post(srv.port, "kill", b"{not json", "s3cret")[0] == 400
        code, doc = _post(srv.port, "kill", json.dumps({"strategy": 3, "actor": "ops"}).encode(),
                          "s3cret")
        assert code == 400 and "'strategy'" in doc["error"]
        assert _post(srv.port, "kill", json.dumps({"strategy": None}).encode(), "s3cret")[0] == 400
        code, doc = _post(srv.port, "kill", json.dumps({"strategy": None, "actor": "mallory"}).encode(),
                          "s3cret")
        assert code == 403 and "role viewer" in doc["error"]
        code, doc = _post(srv.port, "release", json.dumps({"strategy": "gone", "actor": "ops"}).encode(),
                          "s3cret")
        assert code == 502 and "no strategy 'gone'" in doc["error"]
        assert asked == []
        assert _post(srv.port, "kill", good, "s3cret") == (200, {"killed": ["delta-arb"]})
        assert asked == [("kill", "delta-arb", "runaway", "ops")]
    finally:
        srv.stop()


def test_without_actions_the_server_has_no_post_routes() -> None:
    srv = MetricsServer(EngineCollector()).start()
    try:
        assert _post(srv.port, "kill", b"{}", "anything")[0] == 404
    finally:
        srv.stop()
