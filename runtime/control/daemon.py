"""The control-plane loop (``stratforge runtime serve``): supervise sf-engine, follow its
``events``, poll its metrics, and call the shell's callbacks.

One :meth:`ControlDaemon.step` does, in order:

1. **supervise** — if sf-engine is gone: exit status 0 means it was shut down on purpose (the
   daemon stops); anything else is a crash: sf-engine is started again and every deployed
   instance is loaded again, except that each strategy's live version — which may be what
   crashed it — is replaced by its last-good version (or, with none recorded, the strategy is
   left without a live version). ``on_engine_restarted(reason, rollbacks)`` follows, then one
   ``on_auto_rollback`` per strategy whose live version changed. A crash loop (more than
   ``max_restarts`` within ``restart_window_s``) stops the restarts: an operator must look.
2. **events** — the engine's notices after the cursor kept in control.json, handed to
   ``on_event``; an ``auto_rollback`` notice also updates control.json (the failed version is
   unloaded; there is no last-good any more) and calls ``on_auto_rollback``. The cursor is
   saved after each notice, so a killed daemon repeats at most one (the registry's record of
   an automatic rollback is idempotent).
3. **metrics** (every ``metrics_interval_s``) — ``status`` and ``metrics`` go to the Prometheus
   collector; each shadow instance's gate metrics go to ``on_shadow_metrics``.
4. **reconcile** (every ``reconcile_interval_s``) — ``reconcile()`` (the registry's).

Each callback's failure is logged and the loop goes on: a registry that is down must not stop
the supervision of a running engine.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from stratforge.core.errors import StratforgeError
from stratforge.runtime.control.client import EngineError
from stratforge.runtime.control.deployer import LocalDeployer
from stratforge.runtime.control.metrics import (TOKEN_FILE, EngineCollector, MetricsServer,
                                                gate_metrics, snapshot_instances)
from stratforge.runtime.control.process import Runtime
from stratforge.runtime.control.state import ControlState, StateStore, write_atomic

__all__ = ["Callbacks", "ControlDaemon", "Rollback"]

log = logging.getLogger("stratforge.runtime.control")


@dataclass(frozen=True)
class Rollback:
    strategy: str
    from_build: str | None
    to_build: str | None
    reason: str


def _noop(*_: Any) -> None:
    return None


@dataclass
class Callbacks:
    on_event: Callable[[dict[str, Any]], None] = _noop
    on_auto_rollback: Callable[[Rollback], None] = _noop
    on_engine_restarted: Callable[[str, list[Rollback]], None] = _noop
    #: (strategy, build_id, gate metrics)
    on_shadow_metrics: Callable[[str, str, dict[str, Any]], None] = _noop
    reconcile: Callable[[], None] = _noop
    #: raises (a UserInputError) when ``actor`` may not do a kill or release asked over HTTP
    authorize_runtime_action: Callable[[str, "str | None", "str | None", str], None] = \
        field(default=lambda what, strategy, reason, actor: None)
    #: a kill or release asked over HTTP and done: (what, strategy or None, reason, actor, answer)
    on_runtime_action: Callable[[str, "str | None", "str | None", str, dict[str, Any]], None] = \
        field(default=lambda what, strategy, reason, actor, resp: None)
    #: the backtest's reference for a version with no live instance to compare with:
    #: (strategy, build_id) -> {"pnl", "fills", "accepted"} or None
    backtest_reference: Callable[[str, str], Mapping[str, float] | None] = \
        field(default=lambda s, b: None)
    #: initial capital of a strategy (drawdown percent), or None
    capital: Callable[[str, str], float | None] = field(default=lambda s, b: None)


class ControlDaemon:
    def __init__(self, runtime: Runtime, store: StateStore, deployer: LocalDeployer,
                 callbacks: Callbacks | None = None, *, metrics_interval_s: float = 5.0,
                 reconcile_interval_s: float = 1.0, poll_s: float = 0.1, http_port: int = 0,
                 max_restarts: int = 5, restart_window_s: float = 60.0,
                 serve_http: bool = True) -> None:
        self.rt = runtime
        self.store = store
        self.deployer = deployer
        self.cb = callbacks or Callbacks()
        self.metrics_interval_s = metrics_interval_s
        self.reconcile_interval_s = reconcile_interval_s
        self.poll_s = poll_s
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.collector = EngineCollector()
        self.http: MetricsServer | None = None
        if serve_http:
            token = secrets.token_urlsafe(32)
            store.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(store.path.parent / TOKEN_FILE, token + "\n")  # 0600, new each start
            self.http = MetricsServer(self.collector, http_port,
                                      extra_status=self._extra_status,
                                      actions=self._action, token=token).start()
            port = self.http.port
            self.store.update(lambda s: setattr(s, "http_port", port))
        self.stopped = threading.Event()
        self.gave_up: str | None = None
        self._restarts: deque[float] = deque()
        self._last_metrics = 0.0
        self._last_reconcile = 0.0

    def _action(self, what: str, strategy: str | None, reason: str | None,
                actor: str) -> dict[str, Any]:
        """``POST /kill`` / ``/release`` (the dashboard): the engine acts, the callback audits."""
        self.cb.authorize_runtime_action(what, strategy, reason, actor)
        resp = self.rt.client.kill(strategy) if what == "kill" else self.rt.client.release(strategy)
        self.cb.on_runtime_action(what, strategy, reason, actor, resp)
        return {k: v for k, v in resp.items() if k not in ("id", "ok")}

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        """Steps until :attr:`stopped` is set (SIGTERM in ``runtime serve``)."""
        self.startup()
        while not self.stopped.is_set():
            self.step()
            self.stopped.wait(self.poll_s)
        self.close()

    def close(self) -> None:
        if self.http is not None:
            self.http.stop()
            self.http = None

    def startup(self) -> None:
        """Adopt the running engine: load every recorded instance it lacks (after `runtime
        down` / `up`, the deployments come back as they were)."""
        if self.rt.engine_exit() is None:
            self._cursor_for_engine()
            self._guard("restore", lambda: self.restore(crashed=False, reason=""))

    def step(self) -> None:
        now = time.monotonic()
        if self.gave_up is None:
            self._guard("supervise", self.supervise)
        if self.rt.engine_exit() is None:
            self._guard("events", self.follow_events)
            if now - self._last_metrics >= self.metrics_interval_s:
                self._last_metrics = now
                self._guard("metrics", self.poll_metrics)
        else:
            self.collector.update(None, None, self.store.load().engine_restarts)
        if now - self._last_reconcile >= self.reconcile_interval_s:
            self._last_reconcile = now
            self._guard("reconcile", self.cb.reconcile)

    def _guard(self, what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (StratforgeError, OSError, ValueError, KeyError) as err:
            log.warning("%s: %s: %s", what, type(err).__name__, err)

    # --- supervision --------------------------------------------------------------------------
    def supervise(self) -> None:
        reason = self.rt.engine_exit()
        if reason is None:
            return
        if self.rt.engine_exit_code() == 0:
            log.info("sf-engine exited with status 0 (shut down): the control plane stops")
            self.stopped.set()
            return
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > self.restart_window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            self.gave_up = (f"sf-engine crashed {len(self._restarts) + 1} times within "
                            f"{self.restart_window_s:g} s (last: {reason}); not restarting it "
                            "— look at engine.log, then `stratforge runtime up`")
            log.error(self.gave_up)
            return
        self._restarts.append(now)
        log.warning("sf-engine %s: restarting it with the last-good versions", reason)
        state = self.store.load()
        self.rt.restart_engine(session=f"engine-{state.engine_restarts + 2}")
        self._cursor_for_engine(restarted=True)
        rollbacks = self.restore(crashed=True, reason=f"crash: sf-engine {reason}")
        self.cb.on_engine_restarted(reason, rollbacks)
        for rb in rollbacks:
            self.cb.on_auto_rollback(rb)

    def _cursor_for_engine(self, restarted: bool = False) -> None:
        pid = self.rt.engine_pid()

        def change(s: ControlState) -> None:
            if s.engine_pid != pid:
                s.events_next = 1  # a new engine numbers its notices from 1
                s.engine_pid = pid
                for st in s.strategies.values():  # its counters start again
                    for inst in st.instances.values():
                        inst.shadow_started_ts_ns, inst.reference_baseline = None, None
            if restarted:
                s.engine_restarts += 1
        self.store.update(change)

    def restore(self, *, crashed: bool, reason: str) -> list[Rollback]:
        """Load every recorded instance the engine lacks. ``crashed``: the live versions are
        replaced by their last-good ones (never the version that was live at the crash)."""
        status = self.rt.client.status()
        loaded = {st["name"]: {i["build_id"]: i.get("role") for i in st.get("instances", [])}
                  for st in status.get("strategies", [])}
        rollbacks: list[Rollback] = []
        state = self.store.load()
        for name, st in state.strategies.items():
            have = loaded.get(name, {})
            live = st.live
            if crashed and live is not None:
                target = st.last_good if st.last_good in st.instances else None
                rollbacks.append(Rollback(name, live, target, reason))
                st.instances.pop(live, None)
                st.live, st.last_good = target, None
                if target is not None:
                    st.instances[target].role = "live"
            standby = st.last_good if st.last_good in st.instances else None
            if (not crashed and st.live is not None and standby is not None
                    and not have and st.live in st.instances):
                # an empty engine (after `runtime down` / `up`): load the last-good version live
                # and promote the live one over it, so the engine itself knows its last-good
                # again (its automatic rollbacks need it); a swap between two events
                self.deployer.load_instance(name, st.instances[standby], "live")
                self.deployer.load_instance(name, st.instances[st.live], "shadow")
                self.rt.client.promote(name, st.live)
                have.update({standby: "shadow", st.live: "live"})
            # the live version first (as live), then the others as shadow
            order = sorted(st.instances.values(), key=lambda i: i.role != "live")
            for inst in order:
                if inst.build_id in have:
                    continue
                role = "live" if inst.role == "live" else "shadow"
                if role == "live" and any(r == "live" for r in have.values()):
                    role = "shadow"
                self.deployer.load_instance(name, inst, role)
                have[inst.build_id] = role
        self.store.save(state)
        return rollbacks

    # --- events -------------------------------------------------------------------------------
    def follow_events(self) -> None:
        state = self.store.load()
        resp = self.rt.client.events(since=state.events_next)
        for ev in resp.get("events", []):
            n = int(ev.get("n", 0))
            if n < state.events_next:
                continue
            self.cb.on_event(ev)
            if ev.get("kind") == "auto_rollback":
                self._auto_rollback(ev)
            self.store.update(lambda s, n=n: setattr(s, "events_next", n + 1))
            state = self.store.load()

    def _auto_rollback(self, ev: Mapping[str, Any]) -> None:
        strategy = str(ev.get("strategy") or "")
        failed = ev.get("from") or ev.get("build_id")
        to = ev.get("to")
        reason = str(ev.get("reason") or "auto_rollback")

        def change(s: ControlState) -> None:
            st = s.strategy(strategy)
            if to:
                st.live = to
                if to in st.instances:
                    st.instances[to].role = "live"
                if failed in st.instances:
                    st.instances[failed].role = "shadow"
            st.last_good = None
        self.store.update(change)
        if to and failed:
            # the failed version must not stay loaded as a standby nor be a rollback target
            try:
                self.deployer.client.unload(strategy, failed)
            except EngineError as err:
                log.warning("unload of %s %s after its automatic rollback: %s", strategy,
                            failed, err)
            self.store.update(lambda s: s.strategy(strategy).instances.pop(failed, None))
        self.cb.on_auto_rollback(Rollback(strategy, failed, to, reason))

    # --- metrics ------------------------------------------------------------------------------
    def _standby(self, state: ControlState) -> dict[str, set[str]]:
        return {name: {b for b, i in st.instances.items() if i.role == "standby"}
                for name, st in state.strategies.items()}

    def poll_metrics(self) -> None:
        status = self.rt.client.status()
        metrics = self.rt.client.metrics()
        state = self.store.load()
        self.collector.update(status, metrics, state.engine_restarts, self._standby(state))
        ts_now = int((status.get("feed") or {}).get("ts_ns") or 0)
        records = snapshot_instances(metrics)
        lives = {m.get("strategy"): m for m in records if m.get("role") == "live"}
        out: list[tuple[str, str, dict[str, Any]]] = []

        def change(s: ControlState) -> None:
            for m in records:
                name, bid = m.get("strategy"), m.get("build_id")
                rec = s.strategies.get(name) and s.strategies[name].instances.get(bid)
                if not rec or rec.role != "shadow" or m.get("role") != "shadow":
                    continue
                live = lives.get(name)
                if rec.shadow_started_ts_ns is None:
                    rec.shadow_started_ts_ns = ts_now
                    rec.reference_baseline = _counters(live) if live is not None else None
                reference: Mapping[str, float] | None
                if live is not None and rec.reference_baseline is not None:
                    now_c, base = _counters(live), rec.reference_baseline
                    reference = {k: now_c[k] - base.get(k, 0.0) for k in now_c}
                    # the shadow's own counters since it was first seen are its whole life:
                    # it was loaded at most one poll earlier
                else:
                    reference = self.cb.backtest_reference(name, bid)
                duration = (ts_now - rec.shadow_started_ts_ns) / 1e9
                out.append((name, bid, gate_metrics(m, duration_s=duration, reference=reference,
                                                    capital=self.cb.capital(name, bid))))
        self.store.update(change)
        for name, bid, gm in out:
            self.cb.on_shadow_metrics(name, bid, gm)

    def _extra_status(self) -> dict[str, Any]:
        state = self.store.load()
        return {"control": {"engine_restarts": state.engine_restarts, "gave_up": self.gave_up,
                            "strategies": {n: {"live": s.live, "last_good": s.last_good,
                                               "instances": {b: i.role for b, i in
                                                             s.instances.items()}}
                                           for n, s in state.strategies.items()}}}


def _counters(m: Mapping[str, Any]) -> dict[str, float]:
    o = m.get("orders") or {}
    return {"pnl": float(m.get("pnl") or 0), "fills": float(o.get("fills") or 0),
            "accepted": float(o.get("accepted") or 0)}
