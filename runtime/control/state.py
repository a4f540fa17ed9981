"""The control plane's own durable state, ``<state>/control.json``.

What it holds is what the control plane needs to put the engine back after a crash or a restart
of either process: every deployed instance (with what ``load`` needs), the live and the
last-good build per strategy, the cursor into the engine's ``events`` and the HTTP port of the
metrics endpoint (the dashboard reads it).

Writes are atomic: the new document goes to a temporary file in the same folder, is fsynced, and
is renamed over ``control.json`` (then the folder is fsynced), so a SIGKILL at any instant leaves
either the old or the new state, never a torn file. :data:`KILL_ENV` is a test hook that
SIGKILLs the process at one of the write's checkpoints.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratforge.core.errors import UserInputError

__all__ = ["CONTROL_FILE", "ControlState", "Instance", "StateStore", "StrategyState",
           "WRITE_CHECKPOINTS", "write_atomic"]

CONTROL_FILE = "control.json"
#: test hook: SIGKILL this process at a checkpoint of :func:`write_atomic`
KILL_ENV = "STRATFORGE_CONTROL_KILL_AT"
#: the checkpoints of one atomic write, in order
WRITE_CHECKPOINTS = ("tmp-written", "tmp-synced", "renamed")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Instance(_Model):
    """One deployed version of a strategy, with everything ``load`` needs to load it again."""

    build_id: str
    #: shadow: a shadow slot; live: the live slot; standby: the last-good build kept loaded as a
    #: shadow instance so a rollback is a swap (the registry sees it as retired)
    role: Literal["shadow", "live", "standby"]
    plugin: str
    sha256: str
    params: str = ""
    instruments: list[str] = Field(default_factory=list)
    risk: dict[str, Any] = Field(default_factory=dict)
    latency_budget_ns: int = 0
    #: engine time when the control plane first saw this instance as shadow (shadow gate's
    #: duration), and the live instance's counters at that moment (the comparison's baseline)
    shadow_started_ts_ns: int | None = None
    reference_baseline: dict[str, float] | None = None


class StrategyState(_Model):
    live: str | None = None
    last_good: str | None = None
    instances: dict[str, Instance] = Field(default_factory=dict)
    #: the engine's answer to the last promote / rollback the control plane sent:
    #: {"cmd", "to", "previous", "swap_ns", "at_seq"}
    last_swap: dict[str, Any] | None = None


class ControlState(_Model):
    version: Literal[1] = 1
    http_port: int | None = None
    #: the next ``n`` to ask the engine's ``events`` for (reset when the engine restarts)
    events_next: int = 1
    #: the engine's pid the cursor belongs to (a new engine numbers its events from 1 again)
    engine_pid: int | None = None
    engine_restarts: int = 0
    strategies: dict[str, StrategyState] = Field(default_factory=dict)

    def strategy(self, name: str) -> StrategyState:
        return self.strategies.setdefault(name, StrategyState())


def _checkpoint(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new content."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        _checkpoint("tmp-written")
        os.fsync(fd)
    finally:
        os.close(fd)
    _checkpoint("tmp-synced")
    os.replace(tmp, path)
    _checkpoint("renamed")
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class StateStore:
    """``control.json`` in a state folder: :meth:`load` and :meth:`save` (thread-safe)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / CONTROL_FILE
        self._lock = threading.RLock()

    def load(self) -> ControlState:
        with self._lock:
            try:
                raw = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return ControlState()
            try:
                return ControlState.model_validate(json.loads(raw))
            except (ValueError, ValidationError) as err:
                raise UserInputError(f"{self.path}: not a valid control-plane state file "
                                     f"({str(err).splitlines()[0]}); move it away to start "
                                     "from an empty runtime") from None

    def save(self, state: ControlState) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, state.model_dump_json(indent=2) + "\n")

    def update(self, change: "Any") -> ControlState:
        """Load, apply ``change(state)`` and save, under the store's lock."""
        with self._lock:
            state = self.load()
            change(state)
            self.save(state)
            return state
