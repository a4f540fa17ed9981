"""Backtest a strategy plugin with ``sf-replay`` inside the sandbox.

The plugin is generated, untrusted code loaded into the engine process, so the whole replay runs
sandboxed: the engine binary, the plugin, its params, the data file and the config are bound
read-only at ``/job``; results and tape go to ``/out``; nothing else of the host is visible.
Results are read back without trusting ``/out``: no symlinks followed (``O_NOFOLLOW``), regular
files only, size-capped, JSON parsed defensively.

:func:`stratforge.core.engine_config.engine_config` maps a spec onto the engine's typed config
(docs/backtest.md, "Config mapping"); the engine's exit codes come from the header through the
generated :mod:`stratforge.core.abi`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from stratforge.core.abi import (EXIT_CONFIG, EXIT_DATA, EXIT_ENGINE_CRASH, EXIT_OUTPUT,
                                 EXIT_STRATEGY_CRASH, EXIT_STRATEGY_FAULT, EXIT_USAGE)
from stratforge.core.engine_config import EngineConfig, engine_config
from stratforge.core.spec.models import StrategySpec
from stratforge.core.tools import ExecutableNotFound, find_executable
from stratforge.sandbox.results import ResultFileError, open_result, read_result_bytes
from stratforge.sandbox.base import Backend, Limits, Mount, Reason, RunRequest, RunResult

JOB = PurePosixPath("/job")
OUT = PurePosixPath("/out")
DATA = PurePosixPath("/data/events.sfe")

REPLAY_LIMITS = Limits(wall_s=300, cpu_s=300, memory_mb=2048, pids=16, file_size_mb=1024,
                       output_bytes=200_000, scratch_mb=64)
MAX_RESULTS_BYTES = 256 * 1024 * 1024
MAX_TAPE_BYTES = 1024 * 1024 * 1024

#: what each engine exit code means (the codes: sf/crash.hpp, via core.abi)
EXIT_MEANING = {EXIT_USAGE: "usage error", EXIT_CONFIG: "config or plugin error",
                EXIT_DATA: "data error", EXIT_STRATEGY_FAULT: "strategy fault",
                EXIT_STRATEGY_CRASH: "strategy crash", EXIT_OUTPUT: "output error",
                EXIT_ENGINE_CRASH: "engine invariant failure (a bug in the engine)"}


class ReplayError(RuntimeError):
    """The replay could not run (engine missing, sandbox, config, data, output)."""


def engine_binary() -> Path:
    """The real ``sf-replay`` executable (an ELF file, not a shell shim such as pyenv's): it is
    copied into the sandbox, where no interpreter would run a shim."""
    try:
        found = find_executable("sf-replay")
    except ExecutableNotFound as exc:
        raise ReplayError(str(exc)) from None
    real = found.resolve()
    try:
        with open(real, "rb") as fh:
            if fh.read(4) == b"\x7fELF":
                return real
    except OSError as exc:
        raise ReplayError(f"sf-replay at {found} cannot be read: {exc}") from None
    raise ReplayError(f"sf-replay at {found} is not the engine binary (a script or shim?): "
                      "`pip install .` builds and installs the real one into the environment")


def read_output(path: Path, max_bytes: int) -> bytes:
    """Read a file the sandbox wrote (:func:`stratforge.sandbox.results.read_result_bytes`)."""
    try:
        return read_result_bytes(path.parent, path.name, max_bytes=max_bytes)
    except ResultFileError as err:
        raise ReplayError(f"sandbox output {err}") from None


def open_output(path: Path, max_bytes: int):
    """A binary file object over a sandbox output (checked like :func:`read_output`)."""
    try:
        return open_result(path.parent, path.name, max_bytes=max_bytes)
    except ResultFileError as err:
        raise ReplayError(f"sandbox output {err}") from None


@dataclass
class ReplayRun:
    """How a sandboxed replay ended."""

    status: str                      # "ok", "strategy_fault" or "error"
    message: str
    exit_code: int | None
    results: dict[str, Any] | None   # the results document (when the engine wrote one)
    tape: Path | None                # the tape file in out_dir (when requested and written)
    config: EngineConfig | None = None
    run: RunResult | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _engine_message(res: RunResult) -> str:
    text = res.stderr[-4000:].decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-5:]) if lines else (res.detail or res.reason.value)


def run_replay(backend: Backend, spec: StrategySpec, *, plugin: Path, params: Path, data: Path, out_dir: Path,
               bar_mode: bool, tape: bool = True, limits: Limits = REPLAY_LIMITS,
               seed: int | None = None) -> ReplayRun:
    """Run ``sf-replay`` over ``data`` with ``plugin`` in the sandbox; results in ``out_dir``."""
    data = data.resolve()  # the one data file the sandbox sees, links resolved, read-only
    if not data.is_file():
        raise ReplayError(f"the replay's data must be one regular .sfe file, was {data}")
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "tape.jsonl"):
        p = out_dir / stale
        if p.exists() or p.is_symlink():
            p.unlink()
    job = out_dir.parent / f"{out_dir.name}.job"
    if job.exists():
        shutil.rmtree(job)
    job.mkdir(parents=True)
    try:
        shutil.copy2(engine_binary(), job / "sf-replay")
        shutil.copy2(plugin, job / "strategy.so")
        params_text = params.read_text(encoding="utf-8")
        cfg = engine_config(spec, plugin=str(JOB / "strategy.so"), params=params_text,
                            data=str(DATA), bar_mode=bar_mode, seed=seed,
                            results=str(OUT / "results.json"),
                            tape=str(OUT / "tape.jsonl") if tape else None)
        (job / "replay.json").write_text(json.dumps(cfg.to_json(), indent=2), encoding="utf-8")
        argv = [str(JOB / "sf-replay"), "--config", str(JOB / "replay.json"), "--quiet"]
        req = RunRequest(argv=tuple(argv),
                         inputs=(Mount(job, JOB), Mount(data, DATA)),
                         output_dir=out_dir, workdir=PurePosixPath("/tmp"), limits=limits,
                         label="replay")
        res = backend.run(req)
    finally:
        shutil.rmtree(job, ignore_errors=True)
    results = None
    rpath = out_dir / "results.json"
    if rpath.exists() or rpath.is_symlink():
        try:
            results = json.loads(read_output(rpath, MAX_RESULTS_BYTES))
        except (ValueError, UnicodeDecodeError) as err:
            return ReplayRun("error", f"the results file is not JSON: {err}", res.exit_code, None,
                             None, cfg, res)
        if not isinstance(results, dict):
            return ReplayRun("error", "the results file is not a JSON object", res.exit_code,
                             None, None, cfg, res)
    tpath = out_dir / "tape.jsonl"
    tape_path = tpath if tape and tpath.exists() and not tpath.is_symlink() else None
    if res.ok:
        if results is None:
            return ReplayRun("error", "sf-replay exited 0 without a results file", 0, None, None,
                             cfg, res)
        return ReplayRun("ok", "", 0, results, tape_path, cfg, res)
    if res.reason is Reason.NONZERO_EXIT and res.exit_code in (EXIT_STRATEGY_FAULT,
                                                               EXIT_STRATEGY_CRASH):
        return ReplayRun("strategy_fault", f"{EXIT_MEANING[res.exit_code]}: {_engine_message(res)}",
                         res.exit_code, results, tape_path, cfg, res)
    if res.reason is Reason.NONZERO_EXIT:
        what = EXIT_MEANING.get(res.exit_code or 0, f"exit {res.exit_code}")
        return ReplayRun("error", f"sf-replay {what}: {_engine_message(res)}", res.exit_code,
                         results, tape_path, cfg, res)
    # the sandbox stopped the run (time, memory, signal): the plugin runs in-process, so a
    # signal or a resource limit is the strategy's doing
    kind = "strategy_fault" if res.reason is not Reason.SANDBOX_SETUP else "error"
    return ReplayRun(kind, f"{res.reason.value}: {res.detail or _engine_message(res)}",
                     res.exit_code, results, tape_path, cfg, res)


__all__ = ["EXIT_MEANING", "REPLAY_LIMITS", "ReplayError", "ReplayRun", "engine_binary",
           "open_output", "read_output", "run_replay"]
