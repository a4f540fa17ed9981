"""Starting, stopping and supervising the runtime's processes: ``sf-venue`` and ``sf-engine``.

Layout of the state folder (docs/runtime.md, "Control plane"): ``engine.json`` (the engine's
config, written here from the typed :class:`EngineJson`), ``engine.sock``, ``engine.pid``,
``venue.pid``, ``venue.port``, ``venue.journal.jsonl``, ``venue.json`` (sf-venue's matching
config, when one was given), ``plugins/``, ``control.json``, and the logs ``engine.log``,
``venue.log``, ``control.log``.

Both processes run in their own session (``start_new_session``): a control plane that dies,
even by SIGKILL, leaves trading running; the next control plane adopts them by their pid files
(the pid is checked against ``/proc/<pid>/cmdline``, so a recycled pid is never mistaken for
the engine).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratforge.core.engine_config import ConstantLatency, Fees, Latency, Risk, Venue
from stratforge.core.errors import StratforgeError, UserInputError
from stratforge.core.tools import find_executable
from stratforge.runtime.control.client import EngineClient, EngineError
from stratforge.runtime.control.state import write_atomic

__all__ = ["DEFAULT_STATE_DIR_ENV", "EngineJson", "Firm", "ReplayFeed", "Runtime",
           "RuntimeProcessError", "RuntimePaths", "SynthFeed", "VenueLink", "default_state_dir",
           "parse_venue_config"]

DEFAULT_STATE_DIR_ENV = "STRATFORGE_RUNTIME_DIR"
ENGINE_BIN = "sf-engine"
VENUE_BIN = "sf-venue"
_HINT = "`pip install .` (or `pip install -e .`) builds the runtime's binaries"


def default_state_dir() -> Path:
    """``$STRATFORGE_RUNTIME_DIR``, else ``$XDG_DATA_HOME/stratforge/runtime``."""
    if os.environ.get(DEFAULT_STATE_DIR_ENV):
        return Path(os.environ[DEFAULT_STATE_DIR_ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stratforge" / "runtime"


class RuntimeProcessError(StratforgeError):
    """A runtime process could not be started or stopped."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplayFeed(_M):
    kind: Literal["replay"] = "replay"
    path: str
    #: 0 = as fast as possible, 1.0 = real time by the file's receive timestamps
    speed: float = Field(default=1.0, ge=0)
    loop: bool = False
    #: a file of bars: sf-engine and sf-venue match on bars and take the close as the
    #: reference price, as sf-replay's bar mode (without it every order is NO_REFERENCE)
    bar_mode: bool = False


class SynthFeed(_M):
    kind: Literal["synth"] = "synth"
    seed: int = Field(ge=0)
    events: int = Field(default=1_000_000, ge=1)
    instruments: int = Field(default=1, ge=1)
    speed: float = Field(default=1.0, ge=0)


Feed = Annotated[ReplayFeed | SynthFeed, Field(discriminator="kind")]


class VenueLink(_M):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    session: str = Field(min_length=1)
    heartbeat_ms: int = Field(default=250, ge=1)


class Firm(_M):
    """Firm-wide limits across every live instance."""

    max_position: dict[str, int] = Field(default_factory=dict)
    max_gross_notional: float = Field(default=1e12, gt=0)


def _default_sim_venue() -> Venue:
    zero = ConstantLatency(ns=0)
    return Venue(latency=Latency(feed=zero, entry=zero, response=zero),
                 queue_model="risk_averse", fees=Fees(maker_bps=0, taker_bps=0), seed=1)


def parse_venue_config(text: str, source: str = "--venue-config") -> Venue:
    """sf-venue's matching config (sf-replay's ``venue`` object, docs/replay.md) from inline JSON
    or a file's path. Keys not given keep the default venue's (no latency, ``risk_averse``, zero
    fees, seed 1): ``{"fees": {"maker_bps": 40, "taker_bps": 60}}`` is a whole config.
    ``UserInputError`` naming the problem when it is not one."""
    where = source
    if not text.lstrip().startswith("{"):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise UserInputError(f"{source} {path}: cannot read it ({err.strerror or err}); give "
                                 "inline JSON or a JSON file") from None
        where = str(path)
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise UserInputError(f"{where}: the venue config is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise UserInputError(f"{where}: the venue config is a JSON object, not "
                             f"{type(doc).__name__}")
    try:
        return Venue.model_validate({**_default_sim_venue().model_dump(mode="json"), **doc})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                             for e in err.errors())
        raise UserInputError(f"{where}: not a venue config ({problems})") from None


def _default_risk() -> Risk:
    # the defaults a strategy gets when its load names none; every version's load carries its
    # spec's own limits, so these only bound a load without them
    return Risk(max_order_qty=1, max_order_notional=1, max_position=1, price_band_bps=100,
                max_open_orders=1, max_msgs_per_sec=1, msg_burst=1, max_loss=1,
                kill_on_max_loss=True, max_drawdown=1, kill_on_breach=True)


class EngineJson(_M):
    """``engine.json``: what ``sf-engine --config`` reads (docs/runtime.md)."""

    control_socket: str
    feed: Feed
    venue: VenueLink | None = None
    firm: Firm = Field(default_factory=Firm)
    latency_window_events: int = Field(default=1000, ge=1)
    sim_venue: Venue = Field(default_factory=_default_sim_venue)
    risk: Risk = Field(default_factory=_default_risk)

    def to_json(self) -> str:
        doc = self.model_dump(mode="json")  # "venue": null stays (paper live)
        doc["sim_venue"] = self.sim_venue.model_dump(mode="json", exclude_none=True)
        doc["risk"] = self.risk.model_dump(mode="json", exclude_none=True)
        return json.dumps(doc, indent=2) + "\n"


@dataclass(frozen=True)
class RuntimePaths:
    root: Path

    @property
    def engine_json(self) -> Path:
        return self.root / "engine.json"

    @property
    def socket(self) -> Path:
        return self.root / "engine.sock"

    @property
    def engine_pid(self) -> Path:
        return self.root / "engine.pid"

    @property
    def venue_pid(self) -> Path:
        return self.root / "venue.pid"

    @property
    def control_pid(self) -> Path:
        return self.root / "control.pid"

    @property
    def venue_port(self) -> Path:
        return self.root / "venue.port"

    @property
    def journal(self) -> Path:
        return self.root / "venue.journal.jsonl"

    @property
    def venue_json(self) -> Path:
        return self.root / "venue.json"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def control_json(self) -> Path:
        return self.root / "control.json"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int | None, name: str | None = None) -> bool:
    """``pid`` is a running (not zombie) process, whose command line names ``name`` if given."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        if stat[stat.rfind(")") + 2:].startswith("Z"):
            return False
        if name is not None:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            return any(name.encode() in part for part in argv[:3])
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _wait_gone(pid: int, name: str | None, child: subprocess.Popen | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return True
        elif not pid_alive(pid, name):
            return True
        time.sleep(0.02)
    return False


def stop_pid(pid: int | None, name: str | None, child: subprocess.Popen | None = None,
             grace_s: float = 5.0) -> str:
    """SIGTERM, then SIGKILL after ``grace_s``; how it ended."""
    if pid is None or not pid_alive(pid, name):
        if child is not None:
            child.poll()
        return "not running"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "exited"
    if _wait_gone(pid, name, child, grace_s):
        return "stopped (SIGTERM)"
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped (SIGTERM)"
    _wait_gone(pid, name, child, 5.0)
    return "killed (SIGKILL after the grace period)"


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class Runtime:
    """The engine and venue processes of one state folder."""

    def __init__(self, state_dir: Path | str, *, grace_s: float = 5.0,
                 start_timeout_s: float = 30.0, client_timeout_s: float = 5.0) -> None:
        self.paths = RuntimePaths(Path(state_dir).resolve())
        self.grace_s = grace_s
        self.start_timeout_s = start_timeout_s
        self.client = EngineClient(self.paths.socket, timeout=client_timeout_s)
        self._engine: subprocess.Popen | None = None
        self._venue: subprocess.Popen | None = None

    # --- reading ------------------------------------------------------------------------------
    def engine_config(self) -> EngineJson:
        try:
            return EngineJson.model_validate_json(self.paths.engine_json.read_text("utf-8"))
        except FileNotFoundError:
            raise UserInputError(f"{self.paths.engine_json} does not exist: the runtime was "
                                 "never started here (`stratforge runtime up`)") from None

    def engine_pid(self) -> int | None:
        return read_pid(self.paths.engine_pid)

    def venue_pid(self) -> int | None:
        return read_pid(self.paths.venue_pid)

    def engine_alive(self) -> bool:
        if self._engine is not None:
            return self._engine.poll() is None
        return pid_alive(self.engine_pid(), ENGINE_BIN)

    def venue_alive(self) -> bool:
        if self._venue is not None:
            return self._venue.poll() is None
        return pid_alive(self.venue_pid(), VENUE_BIN)

    def venue_port(self) -> int | None:
        try:
            text = self.paths.venue_port.read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    # --- starting -----------------------------------------------------------------------------
    def _spawn(self, argv: list[str], log: str, pid_file: Path) -> subprocess.Popen:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with open(self.paths.log(log), "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=self.paths.root, close_fds=True)
        write_atomic(pid_file, f"{proc.pid}\n")
        return proc

    def _log_tail(self, log: str, lines: int = 15) -> str:
        try:
            text = self.paths.log(log).read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def start_venue(self, feed: ReplayFeed | SynthFeed, heartbeat_timeout_ms: int = 1000) -> int:
        """Start sf-venue on the same data as the engine's feed; its port."""
        if self.venue_alive() and self.venue_port():
            return int(self.venue_port())  # type: ignore[arg-type]
        exe = find_executable(VENUE_BIN, _HINT)
        self.paths.venue_port.unlink(missing_ok=True)
        source = (["--data", str(Path(feed.path).resolve())] if isinstance(feed, ReplayFeed)
                  else ["--synth", f"{feed.seed}:{feed.events}:{feed.instruments}"])
        argv = [str(exe), *source, "--port", "0", "--port-file", str(self.paths.venue_port),
                "--journal", str(self.paths.journal),
                "--heartbeat-timeout-ms", str(heartbeat_timeout_ms)]
        if isinstance(feed, ReplayFeed) and feed.bar_mode:
            argv.append("--bar-mode")
        if self.paths.venue_json.is_file():  # the matching config `up` recorded
            argv += ["--venue-config", str(self.paths.venue_json)]
        self._venue = self._spawn(argv, "venue", self.paths.venue_pid)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            port = self.venue_port()
            if port:
                return port
            if self._venue.poll() is not None:
                raise RuntimeProcessError(f"sf-venue {describe_exit(self._venue.returncode)} at "
                                          f"start; its log ({self.paths.log('venue')}):\n"
                                          f"{self._log_tail('venue')}")
            time.sleep(0.02)
        raise RuntimeProcessError(f"sf-venue wrote no port to {self.paths.venue_port} within "
                                  f"{self.start_timeout_s:g} s; its log:\n"
                                  f"{self._log_tail('venue')}")

    def write_engine_config(self, config: EngineJson) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.paths.engine_json, config.to_json())

    def start_engine(self) -> dict[str, Any]:
        """Start sf-engine with the written ``engine.json``; wait until ``status`` answers and
        return that status."""
        exe = find_executable(ENGINE_BIN, _HINT)
        if self.paths.socket.exists() and not self.engine_alive():
            self.paths.socket.unlink()  # a stale socket of a dead engine
        self.client.close()
        self._engine = self._spawn([str(exe), "--config", str(self.paths.engine_json)],
                                   "engine", self.paths.engine_pid)
        deadline = time.monotonic() + self.start_timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._engine.poll() is not None:
                raise RuntimeProcessError(f"sf-engine {describe_exit(self._engine.returncode)} at "
                                          f"start; its log ({self.paths.log('engine')}):\n"
                                          f"{self._log_tail('engine')}")
            try:
                return self.client.status(timeout=1.0)
            except EngineError as err:
                last = err
                time.sleep(0.02)
        raise RuntimeProcessError(f"sf-engine did not answer status within "
                                  f"{self.start_timeout_s:g} s ({last}); its log:\n"
                                  f"{self._log_tail('engine')}")

    def venue_config(self) -> Venue | None:
        """The matching config sf-venue runs with (``venue.json``); None: the default venue."""
        try:
            return Venue.model_validate_json(self.paths.venue_json.read_text("utf-8"))
        except FileNotFoundError:
            return None

    def up(self, feed: ReplayFeed | SynthFeed, *, venue: bool = True, firm: Firm | None = None,
           session: str = "engine-1", heartbeat_ms: int = 250,
           latency_window_events: int = 1000,
           venue_config: Venue | None = None) -> dict[str, Any]:
        """Start what is not running (sf-venue when ``venue``, then sf-engine); adopt what is.
        ``venue_config``: sf-venue's matching config (fees, queue model, entry latency),
        recorded as ``venue.json`` for every later start of sf-venue from this state folder;
        None: the default venue. Returns the engine's status."""
        if self.engine_alive():
            return self.client.status()
        link = None
        if venue and not self.venue_alive():
            if venue_config is not None:
                self.paths.root.mkdir(parents=True, exist_ok=True)
                write_atomic(self.paths.venue_json,
                             venue_config.model_dump_json(exclude_none=True, indent=2) + "\n")
            else:
                self.paths.venue_json.unlink(missing_ok=True)
        if venue:
            port = self.start_venue(feed)
            link = VenueLink(port=port, session=session, heartbeat_ms=heartbeat_ms)
        self.write_engine_config(EngineJson(control_socket=str(self.paths.socket), feed=feed,
                                            venue=link, firm=firm or Firm(),
                                            latency_window_events=latency_window_events))
        return self.start_engine()

    def restart_engine(self, session: str) -> dict[str, Any]:
        """Start sf-engine again with the same config (a new venue session name, and the venue's
        current port if sf-venue restarted); the caller re-loads the instances."""
        cfg = self.engine_config()
        if cfg.venue is not None:
            port = self.venue_port() if self.venue_alive() else None
            if port is None:
                port = self.start_venue(cfg.feed)
            cfg = cfg.model_copy(update={"venue": cfg.venue.model_copy(
                update={"session": session, "port": port})})
            self.write_engine_config(cfg)
        self.paths.engine_pid.unlink(missing_ok=True)
        return self.start_engine()

    # --- supervision --------------------------------------------------------------------------
    def engine_exit(self) -> str | None:
        """None while sf-engine runs; else how it ended (``killed by SIGKILL``, ...)."""
        if self._engine is not None:
            code = self._engine.poll()
            return None if code is None else describe_exit(code)
        if pid_alive(self.engine_pid(), ENGINE_BIN):
            return None
        return "exited (it was not started by this control plane; exit status unknown)"

    def engine_exit_code(self) -> int | None:
        return self._engine.poll() if self._engine is not None else None

    # --- stopping -----------------------------------------------------------------------------
    def stop_engine(self) -> str:
        pid = self._engine.pid if self._engine is not None else self.engine_pid()
        how = "not running"
        if pid is not None and (self._engine is not None and self._engine.poll() is None
                                or self._engine is None and pid_alive(pid, ENGINE_BIN)):
            try:
                self.client.shutdown(timeout=self.grace_s)
                how = "shut down"
            except EngineError:
                how = ""
            if _wait_gone(pid, ENGINE_BIN, self._engine, self.grace_s):
                how = how or "exited"
            else:
                how = stop_pid(pid, ENGINE_BIN, self._engine, self.grace_s)
        self.client.close()
        self.paths.engine_pid.unlink(missing_ok=True)
        self.paths.socket.unlink(missing_ok=True)
        self._engine = None
        return how

    def stop_venue(self) -> str:
        pid = self._venue.pid if self._venue is not None else self.venue_pid()
        how = stop_pid(pid, VENUE_BIN, self._venue, self.grace_s)
        self.paths.venue_pid.unlink(missing_ok=True)
        self.paths.venue_port.unlink(missing_ok=True)
        self._venue = None
        return how

    def down(self) -> dict[str, str]:
        """Stop sf-engine (``shutdown``, then SIGTERM, then SIGKILL), then sf-venue."""
        return {"engine": self.stop_engine(), "venue": self.stop_venue()}


def status_summary(status: dict[str, Any]) -> str:
    """One line per strategy of an engine status, for the CLI."""
    feed = status.get("feed", {})
    lines = [f"feed {feed.get('kind')}: seq {feed.get('seq')}, {feed.get('events')} events"
             + (" (done)" if feed.get("done") else "")]
    venue = status.get("venue")
    if venue is not None:
        lines.append(f"venue session {venue.get('session')}: "
                     + ("connected" if venue.get("connected") else "DISCONNECTED"))
    if status.get("killed_all"):
        lines.append("KILL SWITCH ENGAGED (firm-wide)")
    for st in status.get("strategies", []):
        inst = ", ".join(f"{i.get('build_id', '?')[:12]}={i.get('role')}"
                         + (" FAULTED" if i.get("faulted") else "")
                         for i in st.get("instances", []))
        lines.append(f"{st.get('name')}: live {str(st.get('live'))[:12]}, last-good "
                     f"{str(st.get('last_good'))[:12]}" + (" KILLED" if st.get("killed") else "")
                     + (f" [{inst}]" if inst else ""))
    return "\n".join(lines)


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
