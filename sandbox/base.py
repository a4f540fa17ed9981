"""What a sandboxed run is, independent of the backend that isolates it.

A :class:`RunRequest` names a command, the read-only inputs it sees, the writable output
folder, and its :class:`Limits`. Every backend (``local`` bubblewrap, ``docker``, ``kubernetes``)
turns the same request into its own isolation and returns a :class:`RunResult` whose
:class:`Reason` says, with a stable code, how the run ended. Limits come from the project's
settings, never from a spec: a spec cannot widen the sandbox.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol


class Reason(str, enum.Enum):
    """How a sandboxed run ended. Stable codes: reports and dashboards group by them."""

    OK = "OK"                                      # exit status 0
    NONZERO_EXIT = "NONZERO_EXIT"                  # the program failed on its own
    SANDBOX_TIMEOUT = "SANDBOX_TIMEOUT"            # wall-clock limit reached, group killed
    SANDBOX_CPU = "SANDBOX_CPU"                    # CPU-time limit (SIGXCPU/SIGKILL by rlimit)
    SANDBOX_MEMORY = "SANDBOX_MEMORY"              # memory limit (cgroup OOM kill or ENOMEM)
    SANDBOX_PIDS = "SANDBOX_PIDS"                  # process-count limit reached
    SANDBOX_FILE_SIZE = "SANDBOX_FILE_SIZE"        # file-size limit (SIGXFSZ) or scratch full
    SANDBOX_OUTPUT_LIMIT = "SANDBOX_OUTPUT_LIMIT"  # stdout/stderr beyond the byte cap
    SANDBOX_SIGNAL = "SANDBOX_SIGNAL"              # killed by another signal (e.g. SIGSEGV)
    SANDBOX_SETUP = "SANDBOX_SETUP"                # the sandbox itself could not start


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run (defaults fit a compile or a short backtest on 2 cores)."""

    wall_s: float = 120.0
    cpu_s: int = 120
    memory_mb: int = 1024
    pids: int = 128
    file_size_mb: int = 256
    open_files: int = 256
    output_bytes: int = 1_000_000
    scratch_mb: int = 256
    out_dir_mb: int = 256  # total bytes a run may leave in its output folder

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "pids", "file_size_mb", "open_files",
                     "output_bytes", "scratch_mb", "out_dir_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Condition failed: Limits.{name} must be > 0")


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox (read-only unless ``writable``)."""

    source: Path
    target: PurePosixPath
    writable: bool = False


@dataclass(frozen=True)
class RunRequest:
    """One command to run in isolation.

    ``inputs`` are bound read-only (the bundle, the engine binaries, the Python install);
    ``output_dir`` is the only writable host folder, bound at ``/out``; ``/tmp`` is a private
    size-capped scratch. ``env`` adds variables to a minimal environment (``PATH`` only): the
    caller's environment never leaks in.
    """

    argv: tuple[str, ...]
    inputs: tuple[Mount, ...] = ()
    output_dir: Path | None = None
    workdir: PurePosixPath = PurePosixPath("/tmp")
    env: tuple[tuple[str, str], ...] = ()
    limits: Limits = field(default_factory=Limits)
    sanitizer: bool = False  # ASan needs a huge address space: use the cgroup, never RLIMIT_AS
    stdin: bytes | None = None
    label: str = "run"


@dataclass(frozen=True)
class RunResult:
    """How the run ended, what it printed (capped), and what it used."""

    reason: Reason
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    cpu_s: float
    enforced: tuple[str, ...]  # which mechanisms held the limits, e.g. "memory=cgroup-v1"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    def text(self, stream: str = "stderr", limit: int = 4000) -> str:
        data = self.stderr if stream == "stderr" else self.stdout
        return data[-limit:].decode("utf-8", "replace")


class Backend(Protocol):
    """An isolation backend."""

    name: str

    def available(self) -> tuple[bool, str]:
        """Whether runs can start here, and why not."""

    def run(self, request: RunRequest) -> RunResult:
        """Run ``request`` to completion inside the sandbox."""
