"""The pages and the REST API show what the registry and the bundles hold: the version page's
scorecard, code, spec, signals, diff against live, LLM exchanges; deployments with the control
plane reachable or not (and its SSE stream); the kill switch reaching the control plane."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dash_kit import GATE, GOOD_SHADOW, FileDeployer, login, register, scorecard, staff
from fastapi.testclient import TestClient
from sqlalchemy import text

from stratforge.dashboard.app import create_app
from stratforge.dashboard.settings import DashboardSettings
from stratforge.registry import Registry

SPEC = """apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: desk-sig
  owner: desk-owner
  description: "<script>alert('spec')</script>"
strategy:
  type: custom
  signals:
    spread_wide: "spread > 3 * tick"
    go_long: "zscore(mid, {w}) < -1.7 and spread_wide"
  logic: "Exit when <b>spread</b> closes."
"""


def bundle(root: Path, window: int, exchange: str | None = None) -> Path:
    b = root / f"bundle-{window}"
    (b / "cpp").mkdir(parents=True)
    (b / "python").mkdir()
    (b / "spec.yaml").write_text(SPEC.replace("{w}", str(window)))
    (b / "cpp" / "strategy.cpp").write_text(f"// generated\nint window() {{ return {window}; }}\n")
    (b / "python" / "strategy.py").write_text(f"WINDOW = {window}\n")
    card = scorecard()
    card["provenance"] = {"build_id": f"sig-{window}", "template_version": "t9",
                          "model": "scripted", "seed": 11}
    (b / "scorecard.json").write_text(json.dumps(card))
    if exchange:
        (b / "llm").mkdir()
        (b / "llm" / "0001-region.json").write_text(json.dumps(
            {"prompt": exchange, "response": "return mid > ema;</script><b>x</b>"}))
    return b


class Runtime(BaseHTTPRequestHandler):
    """A stand-in of the control plane's HTTP endpoint; records the POSTs it gets."""

    posts: list[tuple[str, dict]] = []

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._send(200, {"engine_up": True, "status": {"strategies": [{"name": "desk-sig"}]},
                         "metrics": {"instances": [{"strategy": "desk-sig", "role": "live",
                                                    "build_id": "sig-3", "pnl": -41.25}]}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Runtime.posts.append((self.path, body))
        self._send(200, {"ok": True})

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def runtime_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Runtime.posts = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def world(tmp_path: Path):
    reg = Registry.open(f"sqlite:///{tmp_path / 'r.db'}", FileDeployer(tmp_path / "d.json"))
    staff(reg)
    register(reg, "desk-sig", "sig-3", "ann", bundle(tmp_path, 3))
    register(reg, "desk-sig", "sig-8", "ann", bundle(tmp_path, 8, exchange="write the entry"))
    reg.promote("desk-sig", 1, "shadow", "bob")
    reg.record_shadow_metrics("desk-sig", 1, GOOD_SHADOW, actor="runtime")
    reg.approve("desk-sig", 1, "cat")
    reg.promote("desk-sig", 1, "live", "bob")
    yield reg, tmp_path
    reg.engine.dispose()


def client_for(world, runtime_url: str | None = None, user: str = "vic",
               runtime_dir: Path | None = None) -> TestClient:
    reg, tmp = world
    app = create_app(DashboardSettings(db_url="sqlite://", secret_key_file=tmp / "k",
                                       runtime_url=runtime_url,
                                       runtime_dir=runtime_dir or tmp / "no-runtime"), reg)
    c = TestClient(app, base_url="http://127.0.0.1")
    assert login(c, user).status_code == 303
    return c


def test_version_page_shows_scorecard_code_spec_signals_diff_and_exchanges(world) -> None:
    page = client_for(world).get("/strategies/desk-sig/versions/2")
    assert page.status_code == 200
    html = page.text
    assert 'id="verdict">PASS<' in html and "min_trades" in html  # verdict and gate table
    assert 'id="chart-equity"' in html and '"callback_buckets"' in html  # chart data
    assert 'class="highlight"' in html and "cpp/strategy.cpp" in html  # Pygments
    assert "zscore(mid, 8) &lt; -1.7 and spread_wide" in html  # signal expressions
    assert "Exit when &lt;b&gt;spread&lt;/b&gt; closes." in html  # free-text logic, escaped
    assert "Diff against the live version v1" in html
    assert '<span class="del">-int window() { return 3; }</span>' in html
    assert '<span class="add">+int window() { return 8; }</span>' in html
    assert "0001-region.json" in html and "write the entry" in html  # LLM exchange
    assert "template_version" in html and "t9" in html  # provenance
    # untrusted text (spec, LLM output) is escaped, and cannot close the chart's JSON block
    assert "<script>alert" not in html and "</script><b>x</b>" not in html
    data = html.split('id="chart-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["charts"]["out_of_sample_start_ns"] > 0


def test_strategy_list_shows_owner_type_live_shadow_and_verdict(world) -> None:
    c = client_for(world)
    html = c.get("/").text
    assert "desk-sig" in html and "desk-owner" in html and "custom" in html
    assert 'href="/strategies/desk-sig/versions/1">v1</a>' in html
    api = c.get("/api/v1/strategies").json()
    assert api == [{**api[0], "name": "desk-sig", "owner": "desk-owner", "type": "custom",
                    "live_version": 1, "shadow_versions": [], "latest_version": 2,
                    "latest_verdict": "PASS", "versions": 2}]


def test_deployments_say_runtime_not_reachable_without_an_error_page(world) -> None:
    c = client_for(world, runtime_url="http://127.0.0.1:9")  # nothing listens on port 9
    page = c.get("/deployments")
    assert page.status_code == 200 and "runtime not reachable" in page.text
    assert c.get("/api/v1/deployments").json()["runtime_reachable"] is False


def test_deployments_stream_relays_the_control_planes_status(world, runtime_url: str) -> None:
    c = client_for(world, runtime_url)
    assert "runtime reachable" in c.get("/deployments").text
    with c.stream("GET", "/deployments/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(line for line in r.iter_lines() if line.startswith("data: "))
    event = json.loads(first[len("data: "):])
    assert event["error"] is None and event["runtime"]["metrics"]["instances"][0]["pnl"] == -41.25
    api = c.get("/api/v1/deployments").json()
    assert api["runtime_reachable"] and api["strategies"][0]["live"]["version"] == 1


def test_a_shadow_still_accumulating_shows_inconclusive_with_its_progress(world) -> None:
    reg, _ = world
    reg.promote("desk-sig", 2, "shadow", "bob")
    half = {**GOOD_SHADOW, "duration_s": GATE.min_duration_s // 2, "fills": 2}
    assert reg.record_shadow_metrics("desk-sig", 2, half, actor="runtime").outcome.value == \
        "Inconclusive"
    page = client_for(world).get("/deployments").text
    row = page.split('data-key="desk-sig/2">', 1)[1].split("</td>", 1)[0]
    assert row.startswith("Inconclusive")
    assert f"min_duration_s: {GATE.min_duration_s // 2} (threshold {GATE.min_duration_s}, " \
           "Inconclusive, 50% accumulated)" in row
    assert f"min_fills: 2 (threshold {GATE.min_fills}, Inconclusive, 29% accumulated)" in row
    assert "max_drawdown_pct: 2.5 (threshold 6.0, Successful)" in row
    api = client_for(world).get("/api/v1/strategies/desk-sig/versions/2").json()
    gate = api["shadow_gate"]
    assert gate["outcome"] == "Inconclusive" and "accumulating" in gate["detail"]["message"]


def test_the_control_planes_port_is_read_from_its_state_folder(world, runtime_url: str) -> None:
    _, tmp = world
    state = tmp / "runtime-state"
    c = client_for(world, runtime_dir=state)
    page = c.get("/deployments").text
    assert "runtime not reachable" in page and str(state) in page
    state.mkdir()
    port = int(runtime_url.rsplit(":", 1)[1])
    (state / "control.json").write_text(json.dumps({"http_port": port, "engine_restarts": 0}))
    assert c.get("/api/v1/deployments").json()["runtime_reachable"] is True


def test_kill_and_release_reach_the_control_plane(world, runtime_url: str) -> None:
    reg, _ = world
    c = client_for(world, runtime_url, user="bob")
    token = c.get("/").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = c.post("/actions/kill", data={"csrf_token": token, "reason": "desk-wide stop"})
    assert r.status_code == 200 and "kill of every strategy sent to the runtime" in r.text
    r = c.post("/api/v1/runtime/release", json={"strategy": "desk-sig", "reason": "resolved"},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["runtime_reachable"] is True
    assert Runtime.posts == [
        ("/kill", {"strategy": None, "reason": "desk-wide stop", "actor": "bob"}),
        ("/release", {"strategy": "desk-sig", "reason": "resolved", "actor": "bob"})]
    records = [r for r in reg.audit_records() if r["action"] == "runtime.requested"]
    assert [(r["strategy"], r["detail"]["request"]) for r in records] == [
        (None, "kill"), ("desk-sig", "release")]


def test_api_reads_versions_scorecard_and_filtered_audit(world) -> None:
    reg, _ = world
    _, secret = reg.create_token("vic", "reader", actor="root")
    c = TestClient(create_app(DashboardSettings(secret_key_file=world[1] / "k"), reg))
    h = {"Authorization": f"Bearer {secret}"}
    versions = c.get("/api/v1/strategies/desk-sig/versions", headers=h).json()
    assert [(v["version"], v["stage"]) for v in versions] == [(1, "live"), (2, "candidate")]
    assert versions[0]["approvals"] == ["cat"]
    card = c.get("/api/v1/strategies/desk-sig/versions/2/scorecard", headers=h).json()
    assert card["provenance"]["build_id"] == "sig-8"
    assert c.get("/api/v1/strategies/nope/versions", headers=h).status_code == 404
    audit = c.get("/api/v1/audit?actor=cat&action=version", headers=h).json()
    assert audit["intact"] and {r["action"] for r in audit["records"]} == {"version.approved"}
    me = c.get("/api/v1/me", headers=h).json()
    assert me == {"name": "vic", "role": "viewer", "via_token": True}


def test_pages_send_a_content_security_policy(world) -> None:
    r = client_for(world).get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in r.text.lower() and "https://" not in r.text


def test_unknown_version_is_a_404_page(world) -> None:
    r = client_for(world).get("/strategies/desk-sig/versions/99")
    assert r.status_code == 404 and "has no version 99" in r.text


def test_the_cached_strategy_list_follows_every_registry_change(world) -> None:
    reg, _ = world
    c = client_for(world)
    assert c.get("/api/v1/strategies").json()[0]["shadow_versions"] == []
    assert c.get("/api/v1/deployments").json()["strategies"][0]["shadow"] == []
    reg.promote("desk-sig", 2, "shadow", "bob")  # another process changes the registry
    assert c.get("/api/v1/strategies").json()[0]["shadow_versions"] == [2]
    shadow = c.get("/api/v1/deployments").json()["strategies"][0]["shadow"]
    assert [v["version"] for v in shadow] == [2]
    reg.request_review("desk-sig", 2, title="review v2", body="b", actor="ann")
    assert "1 open review request" in c.get("/").text


def test_the_audit_page_shows_a_broken_hash_chain(world) -> None:
    reg, _ = world
    c = client_for(world)
    assert "hash chain intact" in c.get("/audit").text
    with reg.engine.begin() as conn:  # an insider edits a record behind the registry's back
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    page = c.get("/audit").text
    assert "hash chain BROKEN" in page and "record 3" in page
    assert c.get("/api/v1/audit").json()["intact"] is False


def test_nothing_is_loaded_from_elsewhere(world) -> None:
    """No CDN: FastAPI's Swagger and ReDoc pages (which load scripts from one) are off, and
    every page's scripts, styles and images are the dashboard's own."""
    c = client_for(world)
    assert c.get("/api/docs").status_code == 404 and c.get("/docs").status_code == 404
    assert c.get("/redoc").status_code == 404
    for path in ("/", "/strategies/desk-sig/versions/2", "/deployments", "/audit", "/login"):
        html = c.get(path).text
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs and all(r.startswith(("/", "#")) for r in refs), (path, refs)


def test_a_scorecard_with_non_finite_numbers_still_draws(world) -> None:
    reg, tmp = world
    card = scorecard()
    card["charts"]["pnl"][3] = float("nan")
    card["metrics"]["in_sample"]["return_pct"] = float("inf")
    b = tmp / "bundle-nan"
    b.mkdir()
    (b / "scorecard.json").write_text(json.dumps(card))  # Python writes NaN/Infinity
    reg.register_build(strategy="desk-nan", spec_hash="n", build_id="nan-1", bundle=str(b),
                       scorecard={"verdict": "PASS"}, verdict="PASS", author="ann",
                       shadow_gate=GATE)
    c = client_for(world)
    page = c.get("/strategies/desk-nan/versions/1")
    assert page.status_code == 200
    api = c.get("/api/v1/strategies/desk-nan/versions/1/scorecard")
    assert api.status_code == 200 and api.json()["charts"]["pnl"][3] is None
    data = json.loads(page.text.split('id="chart-data">', 1)[1].split("</script>", 1)[0])
    assert data["charts"]["pnl"][3] is None and data["metrics"]["in_sample"]["return_pct"] is None
