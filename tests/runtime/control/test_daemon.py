"""The control-plane loop against the engine double: engine notices followed with a durable
cursor, automatic rollbacks turned into state and a callback, shadow metrics handed to the
gate, the crash restore that loads last-good (never the version live at the crash)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from control_kit import make_bundle
from engine_double import EngineDouble

from stratforge.runtime.control import (Callbacks, ControlDaemon, EngineClient, LocalDeployer,
                                        Rollback, Runtime, StateStore)

S = "gamma-fade"


@dataclass(frozen=True)
class T:
    strategy: str
    build_id: str
    bundle: str


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.rollbacks: list[Rollback] = []
        self.shadow: list[tuple[str, str, dict]] = []
        self.reconciles = 0

    def callbacks(self) -> Callbacks:
        return Callbacks(on_event=self.events.append, on_auto_rollback=self.rollbacks.append,
                         on_shadow_metrics=lambda s, b, m: self.shadow.append((s, b, m)),
                         reconcile=self._reconcile,
                         backtest_reference=lambda s, b: {"pnl": 10.0, "fills": 5,
                                                          "fill_ratio": 0.5},
                         capital=lambda s, b: 1000.0)

    def _reconcile(self) -> None:
        self.reconciles += 1


class DoubleRuntime(Runtime):
    """A Runtime whose engine is the double: alive while the double serves."""

    def __init__(self, state: Path, engine: EngineDouble) -> None:
        super().__init__(state)
        self.client = EngineClient(engine.path, timeout=2)
        self.engine = engine

    def engine_exit(self) -> str | None:
        return None

    def engine_pid(self) -> int | None:
        return 4242


def _setup(tmp_path: Path, engine: EngineDouble) -> tuple[ControlDaemon, LocalDeployer,
                                                          Recorder, StateStore]:
    store = StateStore(tmp_path / "state")
    rt = DoubleRuntime(tmp_path / "state", engine)
    dep = LocalDeployer(rt.client, store, tmp_path / "state" / "plugins",
                        build_root=tmp_path / "build")
    rec = Recorder()
    daemon = ControlDaemon(rt, store, dep, rec.callbacks(), metrics_interval_s=0,
                           reconcile_interval_s=0, serve_http=False)
    daemon.startup()
    return daemon, dep, rec, store


def _t(tmp_path: Path, b: str) -> T:
    return T(S, b, str(make_bundle(tmp_path, S, b)))


def test_an_auto_rollback_notice_updates_the_state_and_calls_back_once(
        tmp_path: Path, engine: EngineDouble) -> None:
    daemon, dep, rec, store = _setup(tmp_path, engine)
    dep.apply(_t(tmp_path, "g1"), "live")
    dep.apply(_t(tmp_path, "g2"), "shadow")
    dep.apply(_t(tmp_path, "g2"), "live")
    engine.auto_rollback(S, "risk:MAX_LOSS")
    daemon.step()
    daemon.step()  # the cursor is durable: no second callback
    assert rec.rollbacks == [Rollback(S, "g2", "g1", "risk:MAX_LOSS")]
    st = store.load().strategies[S]
    assert (st.live, st.last_good, sorted(st.instances)) == ("g1", None, ["g1"])
    assert dep.observe(S) == {"g1": "live"}  # the failed version was unloaded
    kinds = [e["kind"] for e in rec.events]
    assert kinds.count("auto_rollback") == 1 and kinds[:1] == ["load"]
    assert store.load().events_next == len(engine.events) + 1
    assert rec.reconciles == 2


def test_a_restarted_control_plane_resumes_after_its_cursor(tmp_path: Path,
                                                           engine: EngineDouble) -> None:
    daemon, dep, rec, store = _setup(tmp_path, engine)
    dep.apply(_t(tmp_path, "g1"), "live")
    daemon.step()
    seen = len(rec.events)
    _, _, rec2, _ = _setup(tmp_path, engine)  # a new daemon on the same state and engine
    dep.apply(_t(tmp_path, "g2"), "shadow")
    daemon2 = _setup(tmp_path, engine)[0]
    daemon2.cb = rec2.callbacks()
    daemon2.step()
    assert seen >= 1
    assert [e["build_id"] for e in rec2.events] == ["g2"]  # only the new notice


def test_shadow_metrics_go_to_the_gate_callback(tmp_path: Path, engine: EngineDouble) -> None:
    daemon, dep, rec, _ = _setup(tmp_path, engine)
    dep.apply(_t(tmp_path, "g1"), "shadow")  # no live instance: the backtest is the reference
    engine.metrics_extra[(S, "g1")] = {"pnl": 6.0, "orders": {"fills": 3, "accepted": 6}}
    daemon.step()
    engine.advance(90)  # 90 events of 1 s each in the double's engine time
    daemon.step()
    assert [(s, b) for s, b, _ in rec.shadow] == [(S, "g1"), (S, "g1")]
    last = rec.shadow[-1][2]
    assert last["duration_s"] == 90.0 and last["fills"] == 3
    assert last["pnl_deviation_pct"] == 0.0  # 2.0 per fill both
    assert last["fill_ratio_deviation_pct"] == 0.0


def test_crash_restore_loads_last_good_as_live_never_the_crashed_version(
        tmp_path: Path, engine: EngineDouble) -> None:
    daemon, dep, rec, store = _setup(tmp_path, engine)
    dep.apply(_t(tmp_path, "g1"), "live")
    dep.apply(_t(tmp_path, "g2"), "shadow")
    dep.apply(_t(tmp_path, "g2"), "live")
    dep.apply(_t(tmp_path, "g3"), "shadow")
    # the engine dies and comes back empty (a new double on the same socket path)
    path = engine.path
    engine.close()
    fresh = EngineDouble(path)
    try:
        rbs = daemon.restore(crashed=True, reason="crash: sf-engine killed by SIGKILL")
        assert rbs == [Rollback(S, "g2", "g1", "crash: sf-engine killed by SIGKILL")]
        loads = [(r["build_id"], r["role"]) for r in fresh.requests if r["cmd"] == "load"]
        assert loads == [("g1", "live"), ("g3", "shadow")]
        st = store.load().strategies[S]
        assert (st.live, st.last_good, sorted(st.instances)) == ("g1", None, ["g1", "g3"])
    finally:
        fresh.close()


def test_restore_after_down_and_up_loads_everything_as_it_was(
        tmp_path: Path, engine: EngineDouble) -> None:
    daemon, dep, rec, store = _setup(tmp_path, engine)
    dep.apply(_t(tmp_path, "g1"), "live")
    dep.apply(_t(tmp_path, "g2"), "shadow")
    dep.apply(_t(tmp_path, "g2"), "live")
    path = engine.path
    engine.close()
    fresh = EngineDouble(path)
    try:
        assert daemon.restore(crashed=False, reason="") == []
        # last-good loaded live, the live version promoted over it: the engine knows its
        # last-good again
        cmds = [(r["cmd"], r.get("build_id"), r.get("role")) for r in fresh.requests
                if r["cmd"] in ("load", "promote")]
        assert cmds == [("load", "g1", "live"), ("load", "g2", "shadow"),
                        ("promote", "g2", None)]
        assert (fresh.live[S], fresh.last_good[S]) == ("g2", "g1")
        assert store.load().strategies[S].last_good == "g1"
        assert dep.observe(S) == {"g2": "live", "g1": "retired"}
    finally:
        fresh.close()


class CrashingRuntime(DoubleRuntime):
    """An engine that is found dead at every check (each restart brings up a fresh double)."""

    def __init__(self, state: Path, engine: EngineDouble, code: int) -> None:
        super().__init__(state, engine)
        self.code = code
        self.restarts = 0

    def engine_exit(self) -> str | None:
        return "killed by SIGSEGV" if self.code else "exited with status 0"

    def engine_exit_code(self) -> int | None:
        return self.code

    def restart_engine(self, session: str) -> dict:
        self.restarts += 1
        path = self.engine.path
        self.engine.close()
        self.engine = EngineDouble(path)
        return self.client.status()


def _crashing(tmp_path: Path, engine: EngineDouble, code: int):
    store = StateStore(tmp_path / "state")
    rt = CrashingRuntime(tmp_path / "state", engine, code)
    dep = LocalDeployer(rt.client, store, tmp_path / "state" / "plugins",
                        build_root=tmp_path / "build")
    restarted: list[tuple[str, list]] = []
    cb = Callbacks(on_engine_restarted=lambda r, rbs: restarted.append((r, rbs)))
    return ControlDaemon(rt, store, dep, cb, max_restarts=3, restart_window_s=60,
                         serve_http=False), rt, restarted, store


def test_a_crash_loop_stops_the_restarts(tmp_path: Path, engine: EngineDouble) -> None:
    daemon, rt, restarted, store = _crashing(tmp_path, engine, -11)
    try:
        for _ in range(6):
            daemon.supervise()
        assert rt.restarts == 3 and len(restarted) == 3
        assert restarted[0][0] == "killed by SIGSEGV"
        assert daemon.gave_up is not None and "crashed 4 times within 60 s" in daemon.gave_up
        assert store.load().engine_restarts == 3
    finally:
        rt.engine.close()


def test_an_engine_shut_down_on_purpose_stops_the_control_plane(
        tmp_path: Path, engine: EngineDouble) -> None:
    daemon, rt, restarted, _ = _crashing(tmp_path, engine, 0)
    try:
        daemon.supervise()
        assert daemon.stopped.is_set() and rt.restarts == 0 and restarted == []
    finally:
        rt.engine.close()
