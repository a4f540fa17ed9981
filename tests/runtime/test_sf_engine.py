"""sf-engine, the live runtime daemon, driven over its control socket as the control plane does.

The test strategy (runtime/engine/tests/plugins/daemon_trader.cpp) is compiled here twice with
different manifest build ids (two versions of one strategy); the feed is the engine's own
synthetic generator, so nothing depends on shared data. Protocol: docs/runtime.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from stratforge.core.tools import find_executable, first_executable
from stratforge.registry.phase import (MIN_P99_SAMPLES, GateOutcome, ShadowGate,
                                       evaluate_shadow_gate)
from stratforge.runtime.control.metrics import gate_metrics
from stratforge.runtime.data.format import is_bar_file, open_events

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "runtime" / "engine" / "include"
TRADER_SRC = ROOT / "runtime" / "engine" / "tests" / "plugins" / "daemon_trader.cpp"

RISK = {"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 50, "price_band_bps": 500,
        "max_open_orders": 16, "max_msgs_per_sec": 1000000, "max_loss": 1e9}
SIM_VENUE = {"latency": {"feed": {"model": "constant", "ns": 1000},
                         "entry": {"model": "constant", "ns": 2000},
                         "response": {"model": "constant", "ns": 2000}},
             "queue_model": "risk_averse", "fees": {"maker_bps": 0.0, "taker_bps": 10.0}, "seed": 5}


@pytest.fixture(scope="module")
def engine_bin() -> Path:
    """The installed sf-engine, or $SF_ENGINE (a development build, e.g. build/engine-dev/sf-engine)."""
    override = os.environ.get("SF_ENGINE")
    return Path(override) if override else find_executable("sf-engine")


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> dict[str, Path]:
    cxx = first_executable("c++", "g++", "clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the test strategy")
    out = tmp_path_factory.mktemp("plugins")
    built = {}
    for version in ("a", "b"):
        so = out / f"trader_{version}.so"
        subprocess.run([cxx, "-std=c++20", "-O1", "-shared", "-fPIC", "-fvisibility=hidden", f"-I{INCLUDE}",
                        f'-DSF_BUILD_ID="trader-{version}"', str(TRADER_SRC), "-o", str(so)], check=True)
        built[version] = so
    return built


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Engine:
    """One sf-engine process and one control connection."""

    def __init__(self, binary: Path, feed: dict, **extra):
        self.dir = Path(tempfile.mkdtemp(prefix="sfe-"))
        self.sock_path = self.dir / "engine.sock"
        cfg = {"control_socket": str(self.sock_path), "feed": feed, "venue": None, "risk": RISK,
               "sim_venue": SIM_VENUE, **extra}
        (self.dir / "engine.json").write_text(json.dumps(cfg))
        self.log = open(self.dir / "engine.log", "wb")
        self.proc = subprocess.Popen([str(binary), "--config", str(self.dir / "engine.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.sock_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sf-engine did not start: {self.logtext()}")
            time.sleep(0.02)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        try:
            self.sock.connect(str(self.sock_path))
        except OSError:
            self.proc.kill()  # never leave an engine behind a failed start
            self.proc.wait()
            raise
        self.buf = b""
        self.next_id = 1

    def logtext(self) -> str:
        self.log.flush()
        return (self.dir / "engine.log").read_text(errors="replace")

    def send_line(self, line: bytes) -> dict:
        self.sock.sendall(line + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"engine closed the connection: {self.logtext()}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd: str, **fields) -> dict:
        rid = self.next_id
        self.next_id += 1
        resp = self.send_line(json.dumps({"id": rid, "cmd": cmd, **fields}).encode())
        assert resp["id"] == rid
        return resp

    def ok(self, cmd: str, **fields) -> dict:
        resp = self.call(cmd, **fields)
        assert resp["ok"], resp
        return resp

    def load(self, strategy: str, plugin: Path, build_id: str, **fields) -> dict:
        fields.setdefault("instruments", ["SYN0"])
        return self.call("load", strategy=strategy, build_id=build_id, plugin=str(plugin),
                         sha256=fields.pop("sha256", sha(plugin)), **fields)

    def wait_for(self, pred, what: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = pred()
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_done(self):
        self.wait_for(lambda: self.ok("status")["feed"]["done"], "the feed to end")

    def instances(self) -> dict[tuple[str, str], dict]:
        out = {}
        for st in self.ok("status")["strategies"]:
            for inst in st["instances"]:
                out[(st["name"], inst["build_id"])] = inst
        return out

    def metrics(self) -> dict[tuple[str, str], dict]:
        return {(m["strategy"], m["build_id"]): m for m in self.ok("metrics")["instances"]}

    def close(self):
        if self.proc.poll() is None:
            try:
                self.ok("shutdown")
                self.proc.wait(timeout=20)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
        self.sock.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def start(engine_bin):
    started = []

    def _start(feed: dict, **extra) -> Engine:
        e = Engine(engine_bin, feed, **extra)
        started.append(e)
        return e

    yield _start
    for e in started:
        e.close()


def synth(events: int, loop: bool = False, speed: float = 0) -> dict:
    return {"kind": "synth", "seed": 17, "events": events, "instruments": 1, "speed": speed, "loop": loop}


def assert_no_gap(inst: dict):
    """Every feed event from the one after the load to the last is delivered exactly once."""
    assert inst["first_seq"] == inst["loaded_at_seq"] + 1, inst
    assert inst["events"] == inst["last_seq"] - inst["first_seq"] + 1, inst


def test_promote_and_rollback_many_times_without_a_dropped_or_repeated_event(start, plugins):
    eng = start(synth(50000, loop=True))
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("mm", plugins["b"], "trader-b", params="mode=quote\nrest_ticks=3")["ok"]
    at = []
    for k in range(60):
        if k % 2 == 0:
            r = eng.ok("promote", strategy="mm", build_id="trader-b")
            assert r["previous"] == "trader-a"
        else:
            r = eng.ok("rollback", strategy="mm", reason="test")
            assert r["previous"] == "trader-b"
        assert r["swap_ns"] > 0
        at.append(r["at_seq"])
        time.sleep(0.002)
    assert at == sorted(at) and len(set(at)) == len(at)
    # a rollback without "to" goes to the previous live instance: after a rollback, the one rolled back from
    for expect in ("trader-a", "trader-b"):
        r = eng.ok("rollback", strategy="mm")
        assert r["previous"] == expect
        at.append(r["at_seq"])
    status = eng.ok("status")
    (st,) = status["strategies"]
    assert st["live"] == "trader-a" and st["last_good"] is None  # after a rollback: nothing is known good
    insts = eng.instances()
    for inst in insts.values():
        assert_no_gap(inst)
        assert not inst["faulted"]
    a, b = insts[("mm", "trader-a")], insts[("mm", "trader-b")]
    assert a["last_seq"] == b["last_seq"]  # both saw the same events up to the same point
    assert a["live_first_seq"] == at[-1]
    m = eng.metrics()
    # the swaps canceled working orders (the quote strategy always has one)
    assert m[("mm", "trader-a")]["orders"]["canceled"] > 10
    assert m[("mm", "trader-b")]["orders"]["canceled"] > 10
    assert m[("mm", "trader-a")]["role"] == "live" and m[("mm", "trader-b")]["role"] == "shadow"
    assert m[("mm", "trader-a")]["live_first_seq"] == at[-1]
    kinds = [e["kind"] for e in eng.ok("events")["events"]]
    assert kinds.count("swap") == 30 and kinds.count("rollback") == 32 and kinds.count("load") == 2


def test_a_plugin_whose_sha256_differs_is_refused(start, plugins, tmp_path):
    eng = start(synth(5000))
    r = eng.load("mm", plugins["a"], "trader-a", sha256="0" * 64)
    assert not r["ok"]
    assert "SHA-256 is " + sha(plugins["a"]) in r["error"] and "not the build that was tested" in r["error"]
    # a file changed after it was registered (one byte appended) is refused with the old hash
    tampered = tmp_path / "trader_a.so"
    tampered.write_bytes(plugins["a"].read_bytes() + b"\0")
    r = eng.load("mm", tampered, "trader-a", sha256=sha(plugins["a"]))
    assert not r["ok"] and "SHA-256" in r["error"]
    assert eng.ok("status")["strategies"] == []
    r = eng.call("load", strategy="mm", build_id="trader-a", plugin=str(tmp_path / "missing.so"), sha256="0" * 64,
                 instruments=["SYN0"])
    assert not r["ok"] and "cannot read plugin" in r["error"] and "missing.so" in r["error"]


def test_a_plugin_whose_manifest_build_id_differs_is_refused(start, plugins):
    eng = start(synth(5000))
    r = eng.load("mm", plugins["a"], "trader-b")
    assert not r["ok"]
    assert "manifest build_id is 'trader-a'" in r["error"] and "'trader-b'" in r["error"]
    assert eng.ok("status")["strategies"] == []
    assert eng.load("mm", plugins["a"], "trader-a")["ok"]


def test_load_rules_and_idempotence(start, plugins):
    eng = start(synth(5000))
    first = eng.load("mm", plugins["a"], "trader-a", role="live")
    assert first["ok"] and first["instance"]["role"] == "live"
    again = eng.load("mm", plugins["a"], "trader-a", role="live")
    assert again["ok"] and again["already"] is True
    r = eng.load("mm", plugins["b"], "trader-b", role="live")
    assert not r["ok"] and "already has a live instance (build 'trader-a')" in r["error"]
    r = eng.call("unload", strategy="mm", build_id="trader-a")
    assert not r["ok"] and "is the live instance" in r["error"]
    r = eng.call("load", strategy="ref", build_id="sf-engine-0.1.0", plugin="builtin:noop",
                 sha256="ab" * 32, instruments=["SYN0"])
    assert not r["ok"] and "builtin plugin" in r["error"]
    r = eng.load("mm", plugins["b"], "trader-b", instruments=["NOPE"])
    assert not r["ok"] and '"NOPE" is not in the feed' in r["error"]
    r = eng.load("mm", plugins["b"], "trader-b", risk={"max_position": -3})
    assert not r["ok"] and "max_position" in r["error"]
    assert eng.load("mm", plugins["b"], "trader-b")["ok"]
    eng.wait_done()
    assert eng.ok("unload", strategy="mm", build_id="trader-b")["instance"]["build_id"] == "trader-b"
    assert list(eng.instances()) == [("mm", "trader-a")]


def test_firm_limit_denies_the_second_live_strategy_with_FIRM_LIMIT(start, plugins):
    eng = start(synth(30000, loop=True), firm={"max_position": {"SYN0": 6}})
    for name in ("s1", "s2"):
        assert eng.load(name, plugins["a"], "trader-a", role="live",
                        params={"mode": "buyer", "qty": 2, "every": 5})["ok"]
    # a shadow buyer trades paper: never counted, never limited by the firm
    assert eng.load("paper", plugins["a"], "trader-a", params={"mode": "buyer", "qty": 2, "every": 5})["ok"]

    def denied_and_paper_beyond():
        m = eng.metrics()
        d = m[("s1", "trader-a")]["denials"].get("FIRM_LIMIT", 0) + m[("s2", "trader-a")]["denials"].get("FIRM_LIMIT", 0)
        return d > 0 and m[("paper", "trader-a")]["position"]["SYN0"] > 6

    eng.wait_for(denied_and_paper_beyond, "FIRM_LIMIT denials")
    body = eng.ok("metrics")
    m = {x["strategy"]: x for x in body["instances"]}
    firm_pos = body["firm"]["position"]["SYN0"]
    assert firm_pos == m["s1"]["position"]["SYN0"] + m["s2"]["position"]["SYN0"]
    assert 5 <= firm_pos <= 6
    assert m["s1"]["position"]["SYN0"] > 0 and m["s2"]["position"]["SYN0"] >= 0
    assert "FIRM_LIMIT" not in m["paper"]["denials"]
    assert body["firm"]["gross_notional"] > 0


def test_kill_and_release_per_strategy_and_firm_wide(start, plugins):
    eng = start(synth(40000, loop=True))
    assert eng.load("q", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("t", plugins["b"], "trader-b", role="live", params={"mode": "quote"})["ok"]
    eng.wait_for(lambda: eng.metrics()[("q", "trader-a")]["orders"]["accepted"] > 5, "orders")
    assert eng.ok("kill", strategy="q")["killed"] == ["q"]
    eng.wait_for(lambda: eng.metrics()[("q", "trader-a")]["denials"].get("KILL_SWITCH", 0) > 3, "KILL_SWITCH denials")
    m = eng.metrics()
    assert m[("q", "trader-a")]["orders"]["working"] == 0 and m[("q", "trader-a")]["killed"]
    assert not m[("t", "trader-b")]["killed"]
    accepted = m[("q", "trader-a")]["orders"]["accepted"]
    assert eng.ok("release", strategy="q")["released"] == ["q"]
    eng.wait_for(lambda: eng.metrics()[("q", "trader-a")]["orders"]["accepted"] > accepted + 3, "orders after release")
    assert sorted(eng.ok("kill")["killed"]) == ["q", "t"]
    status = eng.ok("status")
    assert status["killed_all"] and all(s["killed"] for s in status["strategies"])
    eng.ok("release")
    assert not eng.ok("status")["killed_all"]
    kinds = [e["kind"] for e in eng.ok("events")["events"]]
    assert kinds.count("kill") == 2 and kinds.count("release") == 2


def test_a_live_instance_that_loses_money_is_rolled_back_with_its_orders_canceled(start, plugins):
    eng = start(synth(40000, loop=True))
    assert eng.load("x", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.ok("kill", strategy="x")  # B must not lose its money as a shadow, before the promote
    assert eng.load("x", plugins["b"], "trader-b", params={"mode": "taker", "every": 3},
                    risk={"max_loss": 8.0})["ok"]
    # a bystander loaded after them: the rollback's event must be counted for it too
    assert eng.load("y", plugins["a"], "trader-a", params={"mode": "quote"})["ok"]
    eng.ok("promote", strategy="x", build_id="trader-b")
    eng.ok("release", strategy="x")
    ev = eng.wait_for(lambda: [e for e in eng.ok("events")["events"] if e["kind"] == "auto_rollback"],
                      "the automatic rollback")
    assert ev[0]["reason"] == "risk:MAX_LOSS" and ev[0]["from"] == "trader-b" and ev[0]["to"] == "trader-a"
    st = {x["name"]: x for x in eng.ok("status")["strategies"]}["x"]
    assert st["live"] == "trader-a"
    eng.wait_for(lambda: eng.metrics()[("x", "trader-b")]["orders"]["working"] == 0, "the cancels")
    bad = eng.metrics()[("x", "trader-b")]
    assert bad["killed"] and bad["kill_reason"] == "MAX_LOSS" and bad["risk_breaches"] == 1
    assert bad["pnl"] < -4.0  # tripped below -8; the mark of an open lot may move it back a little since
    assert bad["orders"]["canceled"] >= 1  # its resting order was canceled by the kill
    assert bad["role"] == "shadow"
    r = eng.call("promote", strategy="x", build_id="trader-b")
    assert not r["ok"] and "has tripped its kill switch (MAX_LOSS)" in r["error"]
    for inst in eng.instances().values():
        assert_no_gap(inst)


def test_sustained_latency_breach_rolls_back(start, plugins):
    eng = start(synth(40000, loop=True), latency_window_events=30)
    assert eng.load("slow", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("slow", plugins["b"], "trader-b", params={"mode": "quote", "spin_ns": 200000},
                    latency_budget_ns=50000)["ok"]
    eng.ok("promote", strategy="slow", build_id="trader-b")
    ev = eng.wait_for(lambda: [e for e in eng.ok("events")["events"] if e["kind"] == "auto_rollback"],
                      "the latency rollback")
    reason = ev[0]["reason"]
    assert reason.startswith("latency:p99=") and reason.endswith(">budget=50000"), reason
    assert int(reason.split("=")[1].split(">")[0]) > 50000
    assert eng.ok("status")["strategies"][0]["live"] == "trader-a"
    # the slow instance keeps running as a shadow and can be promoted again by hand
    assert eng.ok("promote", strategy="slow", build_id="trader-b")["ok"]


def test_a_strategy_within_its_latency_budget_stays_live(start, plugins):
    """The counterpart of the latency rollback: the check does not fire on a compliant strategy."""
    eng = start(synth(20000), latency_window_events=30)
    assert eng.load("fast", plugins["b"], "trader-b", role="live", params={"mode": "quote", "spin_ns": 2000},
                    latency_budget_ns=50_000_000)["ok"]
    eng.wait_done()
    assert not [e for e in eng.ok("events")["events"] if e["kind"] == "auto_rollback"]
    assert eng.ok("status")["strategies"][0]["live"] == "trader-b"


def test_a_live_instance_that_faults_is_rolled_back(start, plugins):
    eng = start(synth(40000, loop=True))
    assert eng.load("f", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("f", plugins["b"], "trader-b", params={"mode": "quote", "throw_after": 200000})["ok"]
    eng.ok("promote", strategy="f", build_id="trader-b")
    ev = eng.wait_for(lambda: [e for e in eng.ok("events")["events"] if e["kind"] == "auto_rollback"],
                      "the fault rollback")
    assert ev[0]["reason"] == "fault:on_book" and ev[0]["to"] == "trader-a"
    fault = [e for e in eng.ok("events")["events"] if e["kind"] == "fault"]
    assert "throw_after reached" in fault[0]["reason"]
    insts = eng.instances()
    assert insts[("f", "trader-b")]["faulted"] and insts[("f", "trader-b")]["role"] == "shadow"
    assert "throw_after reached" in insts[("f", "trader-b")]["fault"]
    assert insts[("f", "trader-a")]["role"] == "live" and not insts[("f", "trader-a")]["faulted"]
    r = eng.call("promote", strategy="f", build_id="trader-b")
    assert not r["ok"] and "has faulted" in r["error"]


def test_bad_requests_get_clear_errors_and_the_engine_keeps_running(start, plugins):
    eng = start(synth(5000))
    r = eng.send_line(b'{"id": 1, "cmd": "status"')
    assert not r["ok"] and r["id"] is None and r["error"].startswith("malformed JSON request: line 1, column")
    r = eng.send_line(b'[1, 2]')
    assert not r["ok"] and "must be a JSON object" in r["error"]
    r = eng.send_line(b'{"cmd": "status"}')
    assert not r["ok"] and '"id" is missing' in r["error"]
    r = eng.call("launch")
    assert not r["ok"] and "unknown cmd 'launch'" in r["error"] and "promote" in r["error"]
    r = eng.send_line(b'{"id": 7}')
    assert r["id"] == 7 and not r["ok"] and '"cmd" is missing' in r["error"]
    r = eng.call("load", strategy="mm", build_id="trader-a", sha256=sha(plugins["a"]), instruments=["SYN0"])
    assert not r["ok"] and r["error"] == 'load: field "plugin" is required'
    r = eng.call("promote", strategy="nobody", build_id="x")
    assert not r["ok"] and "unknown strategy 'nobody'" in r["error"]
    r = eng.call("load", strategy="mm", build_id="trader-a", plugin=str(plugins["a"]), sha256=sha(plugins["a"]),
                 instruments=["SYN0"], role="boss")
    assert not r["ok"] and '"role" must be "shadow" or "live"' in r["error"]
    r = eng.call("events", since=-1)
    assert not r["ok"] and '"since"' in r["error"]
    st = eng.ok("status")
    assert st["feed"]["kind"] == "synth" and st["feed"]["seq"] >= 0


def test_shutdown_exits_zero_and_removes_the_socket(start, plugins):
    eng = start(synth(5000))
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    eng.wait_done()
    assert eng.ok("shutdown")["ok"]
    assert eng.proc.wait(timeout=20) == 0
    assert not eng.sock_path.exists()


def test_a_bad_config_exits_with_the_config_code_and_names_the_problem(engine_bin, tmp_path):
    cfg = tmp_path / "engine.json"
    cfg.write_text(json.dumps({"control_socket": str(tmp_path / "e.sock"),
                               "feed": {"kind": "synth", "events": 0}, "risk": RISK,
                               "firm": {"max_position": {"SYN0": -1}}}))
    proc = subprocess.run([str(engine_bin), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert "feed.events must be an integer in 1.." in proc.stderr
    assert "firm.max_position.SYN0 must be an integer >= 0" in proc.stderr
    cfg.write_text(json.dumps({"control_socket": str(tmp_path / "e.sock"), "feed": synth(100), "risk": RISK,
                               "firm": {"max_position": {"NOPE": 1}}}))
    proc = subprocess.run([str(engine_bin), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3 and "firm.max_position.NOPE: symbol is not in the feed" in proc.stderr


@pytest.fixture(scope="module")
def venue_bin() -> Path:
    """The installed sf-venue, or $SF_VENUE (a development build)."""
    override = os.environ.get("SF_VENUE")
    return Path(override) if override else find_executable("sf-venue")


def journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_live_orders_go_to_sf_venue_and_a_swap_cancels_them_there_first(start, plugins, venue_bin, tmp_path):
    """With `venue` set, the live instance trades over the wire protocol; the shadow stays paper."""
    port_file, jpath = tmp_path / "venue.port", tmp_path / "venue.journal.jsonl"
    venue = subprocess.Popen([str(venue_bin), "--synth", "17:400000:1", "--port", "0", "--port-file", str(port_file),
                              "--journal", str(jpath)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert venue.poll() is None and time.monotonic() < deadline, "sf-venue did not start"
            time.sleep(0.02)
        port = int(port_file.read_text())
        eng = start(synth(400000, loop=True, speed=1.0),  # loop: a slow machine must not run out of feed
                    venue={"host": "127.0.0.1", "port": port, "session": "engine-t", "heartbeat_ms": 100})
        st = eng.ok("status")
        assert st["venue"] == {"connected": True, "session": "engine-t", "paper": False}
        assert eng.load("v", plugins["a"], "trader-a", role="live", params={"mode": "quote", "rest_ticks": 30})["ok"]
        assert eng.load("v", plugins["b"], "trader-b", params={"mode": "quote", "rest_ticks": 30})["ok"]

        def tags(kind):
            return [(e["client_id"] >> 40) for e in journal(jpath) if e["t"] == kind and e.get("session") == "engine-t"]

        eng.wait_for(lambda: len(tags("order")) >= 5, "live orders at the venue")
        assert set(tags("order")) == {1}  # only the live instance (tag 1) trades at the venue
        # the venue's ACKs and CANCELEDs come back to the strategy
        eng.wait_for(lambda: eng.metrics()[("v", "trader-a")]["orders"]["canceled"] >= 2, "the venue's CANCELED reports")
        r = eng.ok("promote", strategy="v", build_id="trader-b")
        eng.wait_for(lambda: 2 in tags("order"), "the new live instance's orders at the venue")
        lines = [e for e in journal(jpath) if e.get("session") == "engine-t"]
        first_b = next(i for i, e in enumerate(lines) if e["t"] == "order" and e["client_id"] >> 40 == 2)
        a_open = {e["client_id"] for e in lines[:first_b] if e["t"] == "order"} - \
                 {e["client_id"] for e in lines[:first_b] if e["t"] in ("cancel", "reject")} - \
                 {e["client_id"] for e in lines[:first_b] if e["t"] == "fill" and e["leaves"] == 0}
        assert not a_open, f"orders of the old live instance still open when the new one traded: {a_open}"
        assert r["at_seq"] > 0
        # the venue goes away: the session drops, live orders are denied VENUE_BACKPRESSURE
        venue.terminate()
        venue.wait(timeout=20)
        eng.wait_for(lambda: not eng.ok("status")["venue"]["connected"], "the engine to notice the venue is gone")
        assert any(e["kind"] == "venue_down" for e in eng.ok("events")["events"])
        eng.wait_for(lambda: eng.metrics()[("v", "trader-b")]["denials"].get("VENUE_BACKPRESSURE", 0) > 0,
                     "VENUE_BACKPRESSURE denials")
        assert eng.metrics()[("v", "trader-b")]["orders"]["working"] == 0
    finally:
        if venue.poll() is None:
            venue.kill()
            venue.wait()


@pytest.mark.parametrize("role", ["live", "shadow"])  # the engine thread, the shadow thread
def test_a_strategy_crash_kills_the_engine_and_a_restart_reuses_the_socket(engine_bin, tmp_path, role):
    """A signal in plugin code ends the process (exit 6, strategy and callback named); the control
    plane restarts it on the same state directory, where the dead engine's socket file is replaced."""
    cxx = first_executable("c++", "g++", "clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the crashing strategy")
    so = tmp_path / "segv.so"
    subprocess.run([cxx, "-std=c++20", "-O0", "-shared", "-fPIC", "-fvisibility=hidden", f"-I{INCLUDE}",
                    '-DSF_BUILD_ID="segv-1"', str(ROOT / "runtime/engine/tests/plugins/segv.cpp"), "-o", str(so)],
                   check=True)
    eng = Engine(engine_bin, synth(20000, loop=True))
    try:
        try:  # the crash may come before the answer leaves the socket
            r = eng.load("boom", so, "segv-1", role=role, params={"after": 200})
            assert r["ok"], r
        except AssertionError as e:
            assert "engine closed the connection" in str(e)
        except ConnectionResetError:
            pass
        assert eng.proc.wait(timeout=30) == 6
        assert "strategy 'boom@segv-1' crashed with SIGSEGV in callback on_book" in eng.logtext()
        assert eng.sock_path.exists()  # left behind by the dead process
        again = subprocess.Popen([str(engine_bin), "--config", str(eng.dir / "engine.json")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(str(eng.sock_path))
                    break
                except OSError:
                    s.close()
                    assert again.poll() is None and time.monotonic() < deadline, "the restart did not come up"
                    time.sleep(0.05)
            s.sendall(b'{"id": 1, "cmd": "shutdown"}\n')
            assert json.loads(s.makefile().readline())["ok"]
            s.close()
            assert again.wait(timeout=20) == 0
        finally:
            if again.poll() is None:
                again.kill()
                again.wait()
    finally:
        eng.close()


def test_sigterm_shuts_down_like_the_shutdown_command(start, plugins):
    eng = start(synth(20000, loop=True, speed=0.5))
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    eng.proc.terminate()
    assert eng.proc.wait(timeout=20) == 0
    assert not eng.sock_path.exists()
    assert "sf-engine: shut down" in eng.logtext()


def _bars_file(tmp_path: Path) -> Path:
    """A synthetic file of daily bars (the data tools' generator, nothing of the examples)."""
    out = tmp_path / "bars.sfe"
    subprocess.run([sys.executable, "-m", "stratforge", "data", "synth", "--kind", "bars",
                    "--events", "600", "--seed", "29", "-o", str(out)], check=True,
                   capture_output=True)
    assert is_bar_file(out) and not is_bar_file(_book_file(tmp_path))
    return out


def _book_file(tmp_path: Path) -> Path:
    out = tmp_path / "book.sfe"
    if not out.exists():
        subprocess.run([sys.executable, "-m", "stratforge", "data", "synth", "--events", "2000",
                        "--seed", "29", "-o", str(out)], check=True, capture_output=True)
    return out


def test_a_bars_feed_trades_in_bar_mode_like_sf_replay(start, tmp_path):
    """Old: sf-engine read a bars file as a book — no quote ever set a reference price, so
    every order of a bars strategy was denied NO_REFERENCE in shadow and live. With
    ``feed.bar_mode`` (the control plane sets it for a file of bars) the shadow fills on bars
    and the bar close is the reference, as in sf-replay's bar mode."""
    bars = _bars_file(tmp_path)
    got = {}
    for bar_mode in (False, True):
        eng = start({"kind": "replay", "path": str(bars), "speed": 0, "loop": True,
                     "bar_mode": bar_mode})
        symbol = open_events(bars).instruments[0].symbol
        r = eng.call("load", strategy="bm", build_id="sf-engine-0.1.0", role="shadow",
                     plugin="builtin:bar_momentum", instruments=[symbol],
                     params={"lookback": 3, "qty": 1})
        assert r["ok"], r
        eng.wait_for(lambda: eng.metrics()[("bm", "sf-engine-0.1.0")]["events"] > 1500,
                     "two and a half passes over the bars")
        assert eng.ok("status")["feed"]["bar_mode"] is bar_mode
        got[bar_mode] = eng.metrics()[("bm", "sf-engine-0.1.0")]
        eng.close()
    old, new = got[False], got[True]
    assert old["orders"]["fills"] == 0 and old["denials"].get("NO_REFERENCE", 0) > 0, old
    assert new["orders"]["fills"] > 0 and "NO_REFERENCE" not in new["denials"], new
# --- the shadow thread (docs/runtime.md, "Live path and shadow thread") ---------------------------

@pytest.mark.parametrize("threaded", [True, False])
def test_shadows_see_the_live_events_with_and_without_the_shadow_thread(start, plugins, threaded):
    eng = start(synth(60000, loop=True), shadow_thread=threaded)
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    for k in range(3):  # one live and three trading shadows, as in the benchmark
        assert eng.load(f"mm{k}", plugins["b"], "trader-b", params={"mode": "taker", "every": 7 + k})["ok"]
    time.sleep(0.5)
    status = eng.ok("status")
    assert status["shadow"]["thread"] is threaded
    assert status["shadow"]["ring_capacity"] == (1024 if threaded else 0)  # an unpaced replay: "wait"
    assert status["shadow"]["missed_events"] == 0
    insts = {(st["name"], i["build_id"]): i for st in status["strategies"] for i in st["instances"]}
    live = insts[("mm", "trader-a")]
    for key, inst in insts.items():
        assert_no_gap(inst)
        assert inst["complete"] is True and inst["missed_events"] == 0, inst
        assert inst["last_seq"] == live["last_seq"] == status["feed"]["seq"], key
    m = eng.metrics()
    assert all(m[(f"mm{k}", "trader-b")]["orders"]["accepted"] > 0 for k in range(3))  # trading shadows
    assert all(m[key]["complete"] for key in m)


def test_a_promotion_moves_the_shadow_to_the_live_path_at_the_next_seq(start, plugins):
    eng = start(synth(40000, loop=True))
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("mm", plugins["b"], "trader-b", params={"mode": "quote", "rest_ticks": 4})["ok"]
    time.sleep(0.05)
    r = eng.ok("promote", strategy="mm", build_id="trader-b")
    time.sleep(0.05)
    insts = eng.instances()
    a, b = insts[("mm", "trader-a")], insts[("mm", "trader-b")]
    assert b["role"] == "live" and a["role"] == "shadow"
    assert b["live_first_seq"] == r["at_seq"]
    for inst in (a, b):
        assert_no_gap(inst)  # across the move between the live path and the shadow thread
    assert a["last_seq"] == b["last_seq"]


def test_a_full_shadow_ring_marks_the_shadow_evidence_incomplete_never_silently(start, plugins):
    # planted: a 4-event ring and a shadow that spins 100 us per book update; "drop" is the policy of a
    # paced (real-time) feed: the engine thread never waits for the shadow thread
    eng = start(synth(20000, loop=True), shadow_ring_events=4, shadow_full="drop")
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("mm", plugins["b"], "trader-b", params={"mode": "quote", "spin_ns": 100000})["ok"]
    time.sleep(0.5)
    status = eng.ok("status")  # one response: both sides after the same seq
    assert status["shadow"]["full"] == "drop"
    assert status["shadow"]["missed_events"] > 0
    assert status["shadow"]["first_missed_seq"] > 0
    insts = {i["build_id"]: i for i in status["strategies"][0]["instances"]}
    live, shadow = insts["trader-a"], insts["trader-b"]
    assert live["complete"] is True and live["missed_events"] == 0
    assert_no_gap(live)
    assert shadow["complete"] is False
    # every event after its load either reached the shadow or is counted as missed
    assert shadow["events"] + shadow["missed_events"] == status["feed"]["seq"] - shadow["loaded_at_seq"]
    m = eng.metrics()[("mm", "trader-b")]
    assert m["complete"] is False and m["missed_events"] >= shadow["missed_events"]
    lag = [e for e in eng.ok("events")["events"] if e["kind"] == "shadow_lag"]
    assert lag and "incomplete evidence" in lag[0]["reason"]
    # promoting the incomplete shadow still works (a rollback target must always be usable), and it
    # keeps its record of what it missed while a shadow
    r = eng.ok("promote", strategy="mm", build_id="trader-b")
    assert r["previous"] == "trader-a"
    assert eng.instances()[("mm", "trader-b")]["complete"] is False


def test_an_unpaced_replay_waits_for_the_shadow_thread_and_misses_nothing(start, plugins):
    # the same planted slow shadow and tiny ring; an unpaced replay (speed 0) has no clock to keep up
    # with, so its default policy is "wait": the replay runs at the slower side's pace
    eng = start(synth(8000, loop=True), shadow_ring_events=4)
    assert eng.load("mm", plugins["a"], "trader-a", role="live", params={"mode": "quote"})["ok"]
    assert eng.load("mm", plugins["b"], "trader-b", params={"mode": "quote", "spin_ns": 50000})["ok"]
    time.sleep(0.5)
    status = eng.ok("status")
    assert status["shadow"]["full"] == "wait"
    assert status["shadow"]["full_waits"] > 0 and status["shadow"]["missed_events"] == 0
    insts = {i["build_id"]: i for i in status["strategies"][0]["instances"]}
    for inst in insts.values():
        assert_no_gap(inst)
        assert inst["complete"] is True
    assert insts["trader-a"]["last_seq"] == insts["trader-b"]["last_seq"] == status["feed"]["seq"]


def test_bad_shadow_settings_are_config_errors(engine_bin, tmp_path):
    cfg = tmp_path / "engine.json"
    cfg.write_text(json.dumps({"control_socket": str(tmp_path / "e.sock"), "feed": synth(100), "risk": RISK,
                               "shadow_thread": "yes", "shadow_ring_events": 1000, "shadow_cpu": -2,
                               "shadow_full": "block"}))
    proc = subprocess.run([str(engine_bin), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert 'shadow_thread must be true or false, was "yes"' in proc.stderr
    assert "shadow_ring_events must be a power of two in 2..16777216, was 1000" in proc.stderr
    assert "shadow_cpu must be null or a CPU number in 0.." in proc.stderr
    assert 'shadow_full must be "drop" or "wait"' in proc.stderr


def test_a_paced_feed_warms_before_each_gap_and_a_slow_callback_still_fails_the_shadow_gate(start, plugins):
    """Cold callbacks (docs/runtime.md): an event that ends an idle gap of the paced feed is
    preceded by a warm-up of every instance (feed.warmups counts them). The warm-up calls
    nothing and drops no sample: a strategy that genuinely spins 20 µs in its callback keeps a
    p99 over a 5 µs budget, and the registry's shadow gate fails it on the engine's metrics."""
    # synthetic batches come 1-41 µs apart: at 0.01x most gaps are over the 1 ms idle threshold
    eng = start(synth(4000, loop=True, speed=0.01))
    assert eng.load("slow", plugins["b"], "trader-b",
                    params={"mode": "quote", "spin_ns": 20000})["ok"]  # a shadow instance
    m = eng.wait_for(lambda: (lambda x: x if x["callback_ns"]["count"] >= 2 * MIN_P99_SAMPLES
                              else None)(eng.metrics()[("slow", "trader-b")]),
                     "enough shadow callbacks for a p99")
    inst = eng.instances()[("slow", "trader-b")]
    assert eng.ok("status")["feed"]["warmups"] > 0
    # every event the shadow saw was delivered to it and measured (at least one callback each)
    assert m["callback_ns"]["count"] >= inst["events"] > 0
    assert m["callback_ns"]["p99"] >= 20000
    gate = ShadowGate(min_duration_s=0, min_fills=0, max_pnl_deviation_pct=100,
                      max_fill_ratio_deviation_pct=100, max_drawdown_pct=100,
                      max_callback_p99_ns=5000)
    result = evaluate_shadow_gate(gate, gate_metrics(m, duration_s=1.0, reference=None,
                                                     capital=1e6))
    assert result.outcome is GateOutcome.FAILED
    assert [c.name for c in result.criteria if c.outcome is GateOutcome.FAILED] == [
        "max_callback_p99_ns"]


def test_a_refused_load_does_not_hand_its_library_to_the_next_load(start, plugins):
    """A load refused after dlopen() (here: the manifest's build id) leaves a library glibc may
    not unload (a plugin with unique symbols is never unloaded); the next load's in-memory copy
    must not get its /proc/self/fd name, or dlopen() returns the refused library for it."""
    eng = start(synth(5000))
    r = eng.load("mm", plugins["a"], "trader-x")
    assert not r["ok"] and "manifest build_id is 'trader-a'" in r["error"]
    r = eng.load("mm", plugins["b"], "trader-b")
    assert r["ok"], r
    assert r["instance"]["sha256"] == sha(plugins["b"])
    r = eng.load("other", plugins["a"], "trader-y")  # and once more, with two loaded
    assert not r["ok"] and "manifest build_id is 'trader-a'" in r["error"]
    assert eng.load("other", plugins["a"], "trader-a")["ok"]
