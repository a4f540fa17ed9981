"""The live runtime's commands: ``stratforge runtime up|down|status|serve``, ``stratforge kill``
and ``stratforge release`` (docs/runtime.md, "Control plane").

``runtime up`` starts ``runtime serve`` in the background — the control plane, which starts
sf-venue and sf-engine as its children and supervises them — and waits until the engine answers.
``serve`` wires the runtime to the registry: its reconcile loop drives promotions and rollbacks
through :class:`~stratforge.runtime.control.LocalDeployer`, the engine's automatic rollbacks and
restarts are recorded in the registry (actor ``system:engine``), and each shadow instance's
metrics become shadow-gate observations. ``kill`` and ``release`` act on the engine directly and
are audited with the acting user.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import click

from stratforge.ci.build import Workspace
from stratforge.cli_registry import acting_user, open_registry
from stratforge.core.errors import StratforgeError, UserInputError
from stratforge.registry import Registry
from stratforge.registry import reasons as R
from stratforge.registry.db import default_url
from stratforge.runtime.control import (Callbacks, ControlDaemon, EngineClient, EngineError,
                                        Firm, LocalDeployer, ReplayFeed, Rollback, Runtime,
                                        StateStore, SynthFeed, default_state_dir)
from stratforge.runtime.control.process import (parse_venue_config, pid_alive, read_pid,
                                                status_summary, stop_pid)
from stratforge.runtime.data.format import is_bar_file
from stratforge.settings import load_settings

__all__ = ["register"]

log = logging.getLogger("stratforge.runtime.control")
SERVE_MARK = "runtime-serve"

_STATE = click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
                      default=None, help="State folder (default: $STRATFORGE_RUNTIME_DIR, else "
                      "~/.local/share/stratforge/runtime).")


def _state_dir(state_dir: Path | None) -> Path:
    return (state_dir or default_state_dir()).resolve()


def control_running(state_dir: Path) -> int | None:
    """The pid of the control plane serving ``state_dir``, or None."""
    pid = read_pid(state_dir / "control.pid")
    return pid if pid_alive(pid, "stratforge") else None


def _feed(data: Path | None, synth: int | None, speed: float, loop: bool, events: int,
          instruments: int) -> ReplayFeed | SynthFeed | None:
    if data is not None and synth is not None:
        raise click.UsageError("--data and --synth are exclusive: one feed")
    if data is not None:
        if not data.is_file():
            raise UserInputError(f"--data {data}: no such file")
        return ReplayFeed(path=str(data.resolve()), speed=speed, loop=loop,
                          bar_mode=is_bar_file(data))
    if synth is not None:
        return SynthFeed(seed=synth, events=events, instruments=instruments, speed=speed)
    return None


def _firm(max_position: tuple[str, ...], max_gross_notional: float | None) -> Firm:
    limits: dict[str, int] = {}
    for item in max_position:
        sym, sep, n = item.partition("=")
        if not sep or not sym or not n.strip().lstrip("-").isdigit() or int(n) <= 0:
            raise click.BadParameter(f"{item!r}: expected SYMBOL=LOTS with LOTS > 0",
                                     param_hint="--firm-max-position")
        limits[sym] = int(n)
    return Firm(max_position=limits, **({"max_gross_notional": max_gross_notional}
                                        if max_gross_notional is not None else {}))


def _feed_options(f: Any) -> Any:
    for opt in reversed((
        click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Replay this event file (.sfev) as the feed."),
        click.option("--synth", type=int, default=None, metavar="SEED",
                     help="The synthetic live generator with this seed as the feed."),
        click.option("--events", type=int, default=1_000_000, show_default=True,
                     help="Events of the synthetic feed."),
        click.option("--instruments", type=int, default=1, show_default=True,
                     help="Instruments of the synthetic feed."),
        click.option("--speed", type=float, default=1.0, show_default=True,
                     help="Pace: 1 = real time, 10 = ten times faster, 0 = as fast as possible."),
        click.option("--loop", is_flag=True, help="Restart the replay at its end."),
        click.option("--no-venue", is_flag=True,
                     help="No sf-venue: live orders go to an in-process simulated venue "
                     "(paper live)."),
        click.option("--venue-config", default=None, metavar="JSON|FILE",
                     help="sf-venue's matching config (sf-replay's venue object: fees, "
                     "queue_model, latency.entry, seed), inline JSON or a file; keys not given "
                     "keep the defaults (no latency, risk_averse, zero fees). Execution the "
                     "shadows' simulated venue does not model, e.g. adverse fees."),
        click.option("--firm-max-position", multiple=True, metavar="SYMBOL=LOTS",
                     help="Firm-wide net position limit across live instances (repeatable)."),
        click.option("--max-gross-notional", type=float, default=None,
                     help="Firm-wide gross notional limit across live instances."),
        click.option("--metrics-interval", type=float, default=10.0, show_default=True,
                     help="Seconds between metrics polls (and shadow-gate observations)."),
        click.option("--http-port", type=int, default=0, show_default=True,
                     help="Port of /metrics and /status on 127.0.0.1 (0: pick one)."),
        click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
                     default=None, help="The workspace build root the tested plugins are in "
                     "(as `stratforge build --build-dir`; default: build/stratforge)."),
    )):
        f = opt(f)
    return f


@click.group("runtime")
def runtime_grp() -> None:
    """The live runtime: sf-engine, sf-venue and the control plane."""


def _serve_argv(state: Path, opts: Mapping[str, Any]) -> list[str]:
    argv = [sys.executable, "-m", "stratforge", "runtime", "serve", "--state", str(state)]
    for key in ("data", "synth", "events", "instruments", "speed", "metrics_interval",
                "http_port", "max_gross_notional", "build_dir", "venue_config"):
        if opts.get(key) is not None:
            argv += [f"--{key.replace('_', '-')}", str(opts[key])]
    for flag in ("loop", "no_venue"):
        if opts.get(flag):
            argv.append(f"--{flag.replace('_', '-')}")
    for item in opts.get("firm_max_position") or ():
        argv += ["--firm-max-position", item]
    return argv


@runtime_grp.command("up")
@_STATE
@_feed_options
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the engine to answer.")
def up_cmd(state_dir: Path | None, timeout: float, **opts: Any) -> None:
    """Start the runtime (the control plane, sf-venue and sf-engine) in the background."""
    state = _state_dir(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    feed = _feed(opts["data"], opts["synth"], opts["speed"], opts["loop"], opts["events"],
                 opts["instruments"])
    _firm(opts["firm_max_position"], opts["max_gross_notional"])  # checked before starting
    if opts.get("venue_config") is not None:  # checked (and made canonical) before starting
        if opts["no_venue"]:
            raise click.UsageError("--venue-config configures sf-venue: not with --no-venue")
        opts["venue_config"] = parse_venue_config(opts["venue_config"]).model_dump_json(
            exclude_none=True)
    if control_running(state) is not None:
        click.echo(f"the runtime is already up ({state})")
        _print_status(state, "text")
        return
    if feed is None and not (state / "engine.json").is_file():
        raise click.UsageError("give the feed: --data FILE or --synth SEED")
    for key in ("data", "build_dir"):
        if opts[key] is not None:
            opts[key] = Path(opts[key]).resolve()
    with open(state / "control.log", "ab") as out:
        proc = subprocess.Popen(_serve_argv(state, opts), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "STRATFORGE_RUNTIME_SERVE": SERVE_MARK})
    deadline = time.monotonic() + timeout
    client = EngineClient(state / "engine.sock", timeout=2.0)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state / "control.log").read_text("utf-8", errors="replace").splitlines()
            raise StratforgeError(f"the control plane exited with status {proc.returncode} "
                                  f"at start; {state / 'control.log'}:\n" + "\n".join(tail[-15:]))
        http = StateStore(state).load().http_port
        if http is not None and read_pid(state / "control.pid") == proc.pid:
            try:
                status = client.status()
            except EngineError:
                time.sleep(0.1)
                continue
            click.echo(f"runtime up ({state}): control plane pid {proc.pid}, metrics on "
                       f"http://127.0.0.1:{http}/metrics")
            click.echo(status_summary(status))
            return
        time.sleep(0.1)
    raise StratforgeError(f"the runtime did not come up within {timeout:g} s; see "
                          f"{state / 'control.log'} and {state / 'engine.log'}")


@runtime_grp.command("down")
@_STATE
@click.option("--grace", type=float, default=5.0, show_default=True,
              help="Seconds each process gets to stop before SIGKILL.")
def down_cmd(state_dir: Path | None, grace: float) -> None:
    """Stop the runtime: the control plane, then sf-engine (shutdown: cancels its live orders),
    then sf-venue. Deployments stay recorded: `runtime up` loads them again."""
    state = _state_dir(state_dir)
    pid = read_pid(state / "control.pid")
    how = stop_pid(pid, None, None, grace) if control_running(state) else "not running"
    (state / "control.pid").unlink(missing_ok=True)
    result = Runtime(state, grace_s=grace).down()
    click.echo(f"control plane: {how}; sf-engine: {result['engine']}; "
               f"sf-venue: {result['venue']}")


def _print_status(state: Path, fmt: str) -> int:
    ctl = StateStore(state).load()
    try:
        status: dict[str, Any] | None = EngineClient(state / "engine.sock", timeout=3.0).status()
    except EngineError as err:
        status, why = None, str(err)
    running = control_running(state)
    if fmt == "json":
        click.echo(json.dumps({"state_dir": str(state), "control_plane_pid": running,
                               "engine": status, "control": json.loads(ctl.model_dump_json())},
                              indent=2, sort_keys=True))
    else:
        click.echo(f"state {state}: control plane "
                   + (f"pid {running}" if running else "NOT RUNNING")
                   + (f", metrics http://127.0.0.1:{ctl.http_port}/metrics"
                      if running and ctl.http_port else "")
                   + f", engine restarts {ctl.engine_restarts}")
        click.echo(status_summary(status) if status is not None else f"sf-engine: {why}")
    return 0 if status is not None else 1


@runtime_grp.command("status")
@_STATE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def status_cmd(state_dir: Path | None, fmt: str) -> None:
    """The engine's status (feed, venue, strategies and their instances). Exit 1 when the
    engine is not running."""
    if _print_status(_state_dir(state_dir), fmt):
        raise click.exceptions.Exit(1)


# --- serve: the control plane ------------------------------------------------------------------
def _scorecard(reg: Registry, strategy: str, build_id: str) -> dict[str, Any] | None:
    for v in reg.versions(strategy):
        if v.build_id == build_id:
            path = Path(v.bundle) / "scorecard.json"
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
    return None


class _Wiring:
    """The daemon's callbacks onto the registry."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg

    def reconcile(self) -> None:
        self.reg.reconcile()

    def on_event(self, ev: dict[str, Any]) -> None:
        log.info("engine event %s", json.dumps(ev, sort_keys=True))

    def on_auto_rollback(self, rb: Rollback) -> None:
        crashed = rb.reason.startswith("crash:")
        try:
            self.reg.record_automatic_rollback(rb.strategy, rb.from_build, rb.to_build,
                                               rb.reason, stopped=crashed)
        except StratforgeError as err:
            log.error("could not record the automatic rollback of %s: %s", rb.strategy, err)

    def authorize_runtime_action(self, what: str, strategy: str | None, reason: str | None,
                                 actor: str) -> None:
        self.reg.authorize(actor, what, strategy, {"reason": reason, "all": strategy is None})

    def on_runtime_action(self, what: str, strategy: str | None, reason: str | None, actor: str,
                          resp: dict[str, Any]) -> None:
        self.reg.record_action(actor, what, strategy, {
            "reason": reason, "all": strategy is None, "via": "http",
            **{k: v for k, v in resp.items() if k not in ("id", "ok")}})

    def on_engine_restarted(self, reason: str, rollbacks: list[Rollback]) -> None:
        self.reg.record_action(R.ACTOR_ENGINE, "engine_restarted", None, {
            "reason": reason, "rollbacks": [{"strategy": r.strategy, "from": r.from_build,
                                             "to": r.to_build} for r in rollbacks]})

    def on_shadow_metrics(self, strategy: str, build_id: str, metrics: dict[str, Any]) -> None:
        for v in self.reg.versions(strategy):
            if v.build_id == build_id:
                self.reg.record_shadow_metrics(strategy, v.number, metrics, "system:runtime")
                return

    def backtest_reference(self, strategy: str, build_id: str) -> Mapping[str, float] | None:
        card = _scorecard(self.reg, strategy, build_id)
        try:
            m = card["metrics"]  # type: ignore[index]
            ratio = m["fill_ratio"]["value"]
            return {"pnl": float(m["full"]["pnl_net"]), "fills": float(m["fills"]),
                    **({"fill_ratio": float(ratio)} if ratio is not None else {})}
        except (TypeError, KeyError, ValueError):
            return None

    def capital(self, strategy: str, build_id: str) -> float | None:
        card = _scorecard(self.reg, strategy, build_id)
        try:
            return float(card["metrics"]["initial_capital"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            return None


@runtime_grp.command("serve")
@_STATE
@_feed_options
def serve_cmd(state_dir: Path | None, **opts: Any) -> None:
    """Run the control plane in the foreground (`runtime up` starts it in the background)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    state = _state_dir(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    other = control_running(state)
    if other is not None and other != os.getpid():
        raise UserInputError(f"a control plane (pid {other}) already serves {state}")
    (state / "control.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    try:
        _serve(state, opts)
    finally:
        if read_pid(state / "control.pid") == os.getpid():
            (state / "control.pid").unlink(missing_ok=True)


def _serve(state: Path, opts: Mapping[str, Any]) -> None:
    feed = _feed(opts["data"], opts["synth"], opts["speed"], opts["loop"], opts["events"],
                 opts["instruments"])
    rt = Runtime(state)
    if rt.engine_exit() is not None:
        try:
            if feed is not None:
                rt.up(feed, venue=not opts["no_venue"],
                      firm=_firm(opts["firm_max_position"], opts["max_gross_notional"]),
                      venue_config=(parse_venue_config(opts["venue_config"])
                                    if opts.get("venue_config") else None))
            else:
                cfg = rt.engine_config()  # the last run's config
                rt.up(cfg.feed, venue=cfg.venue is not None, firm=cfg.firm,
                      venue_config=rt.venue_config())
        except BaseException:
            rt.down()  # nothing half-started is left behind (sf-venue, pid files)
            raise
        log.info("sf-engine started (pid %s)", rt.engine_pid())
    else:
        log.info("adopted the running sf-engine (pid %s)", rt.engine_pid())
    store = StateStore(state)
    build_root = (Path(opts["build_dir"]).resolve() if opts.get("build_dir")
                  else Workspace.default().build_root)
    deployer = LocalDeployer(rt.client, store, rt.paths.plugins, build_root=build_root)
    interval = float(opts["metrics_interval"])
    reg = Registry.open(load_settings().db_url or default_url(), deployer=deployer,
                        shadow_max_age_s=max(60.0, 3 * interval))
    wiring = _Wiring(reg)
    daemon = ControlDaemon(rt, store, deployer, Callbacks(
        on_event=wiring.on_event, on_auto_rollback=wiring.on_auto_rollback,
        on_engine_restarted=wiring.on_engine_restarted,
        authorize_runtime_action=wiring.authorize_runtime_action,
        on_runtime_action=wiring.on_runtime_action,
        on_shadow_metrics=wiring.on_shadow_metrics, reconcile=wiring.reconcile,
        backtest_reference=wiring.backtest_reference, capital=wiring.capital),
        metrics_interval_s=interval, http_port=int(opts["http_port"]))
    signal.signal(signal.SIGTERM, lambda *_: daemon.stopped.set())
    signal.signal(signal.SIGINT, lambda *_: daemon.stopped.set())
    log.info("control plane serving %s (metrics http://127.0.0.1:%s/metrics)", state,
             daemon.http.port if daemon.http else None)
    try:
        daemon.run()
    finally:
        reg.engine.dispose()


# --- kill / release ------------------------------------------------------------------------------
def _switch(action: str, name: str | None, all_: bool, reason: str | None,
            state_dir: Path | None) -> None:
    if (name is None) == (not all_):
        raise click.UsageError(f"name one strategy or --all (the firm-wide {action})")
    state = _state_dir(state_dir)
    reg = open_registry()
    actor = acting_user(reg)
    reg.authorize(actor, action, name, {"reason": reason, "all": all_})
    client = EngineClient(state / "engine.sock")
    resp = client.kill(name) if action == "kill" else client.release(name)
    detail = {"reason": reason, "all": all_,
              **{k: v for k, v in resp.items() if k not in ("id", "ok")}}
    reg.record_action(actor, action, name, detail)
    what = "every strategy (firm-wide)" if all_ else name
    if action == "kill":
        click.echo(f"kill switch engaged for {what}: working orders canceled, new orders "
                   f"denied (KILL_SWITCH); killed: {', '.join(resp.get('killed') or []) or '-'}")
    else:
        click.echo(f"kill switch released for {what}")


@click.command("kill")
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Every strategy: the firm-wide kill switch.")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@_STATE
def kill_cmd(name: str | None, all_: bool, reason: str, state_dir: Path | None) -> None:
    """Engage the kill switch of NAME (or --all): cancel its working orders, deny new ones."""
    _switch("kill", name, all_, reason, state_dir)


@click.command("release")
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Release the firm-wide kill switch.")
@click.option("--reason", default=None, help="Why (recorded in the audit log).")
@_STATE
def release_cmd(name: str | None, all_: bool, reason: str | None,
                state_dir: Path | None) -> None:
    """Release the kill switch of NAME (or --all)."""
    _switch("release", name, all_, reason, state_dir)


COMMANDS = (runtime_grp, kill_cmd, release_cmd)


def register(group: click.Group) -> None:
    """Add the runtime's commands to the ``stratforge`` group."""
    for command in COMMANDS:
        group.add_command(command)
