"""Backtest a strategy plugin with ``sf-replay`` inside the sandbox.

The plugin is generated, untrusted code loaded into the engine process, so the whole replay runs
sandboxed: the engine binary, the plugin, its params, the data file and the config are bound
read-only at ``/job``; results and tape go to ``/out``; nothing else of the host is visible.
Results are read back without trusting ``/out``: no symlinks followed (``O_NOFOLLOW``), regular
files only, size-capped, JSON parsed defensively.

:func:`replay_config` maps a spec onto the engine's config (docs/backtest.md, "Config
mapping"): risk limits in human units as docs/replay.md wants them, the spec's latency, queue and
fee models, bar mode for bar data.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from stratforge.core.tools import ExecutableNotFound, find_executable
from stratforge.sandbox.results import ResultFileError, open_result, read_result_bytes
from stratforge.sandbox.base import Backend, Limits, Mount, Reason, RunRequest, RunResult

JOB = PurePosixPath("/job")
OUT = PurePosixPath("/out")
DATA = PurePosixPath("/data/events.sfe")

#: Spec queue model -> engine queue model (docs/replay.md "Models"):
#: back_of_queue advances only by traded volume (the engine's risk_averse caps the queue ahead at
#: the level size, which is the same conservative rule); pro_rata_cancels also advances on
#: cancels, which the engine models as decrease_advances (a level decrease not explained by a
#: trade moves the order forward).
QUEUE_MODELS = {"back_of_queue": "risk_averse", "pro_rata_cancels": "decrease_advances"}

REPLAY_LIMITS = Limits(wall_s=300, cpu_s=300, memory_mb=2048, pids=16, file_size_mb=1024,
                       output_bytes=200_000, scratch_mb=64)
MAX_RESULTS_BYTES = 256 * 1024 * 1024
L2_PNL_PERIOD_NS = 60 * 1_000_000_000  # PnL sampled at the end of every minute of a tick/L2 run
MAX_TAPE_BYTES = 1024 * 1024 * 1024
MAX_FILLS_LISTED = 2_000_000

EXIT_STRATEGY_FAULT, EXIT_STRATEGY_CRASH = 5, 6
EXIT_MEANING = {2: "usage error", 3: "config or plugin error", 4: "data error",
                5: "strategy fault", 6: "strategy crash", 7: "output error"}


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


def _num(x: Any) -> float | int:
    f = float(x)
    return int(f) if f.is_integer() else f


def _latency(spec) -> dict[str, Any]:
    lat = spec.backtest.latency
    if lat.model == "constant":
        feed = {"model": "constant", "ns": lat.feed_ns}
        order = {"model": "constant", "ns": lat.order_ns}
    else:
        feed = {"model": "lognormal", "median_ns": lat.feed_median_ns, "p99_ns": lat.feed_p99_ns}
        order = {"model": "lognormal", "median_ns": lat.order_median_ns,
                 "p99_ns": lat.order_p99_ns}
    # venue reports travel back on the order path: response uses the order latency
    return {"feed": feed, "entry": order, "response": dict(order)}


def risk_config(spec) -> dict[str, Any]:
    """The spec's ``risk`` section as the engine's global risk config (human units)."""
    r = spec.risk
    return {
        "max_order_qty": _num(r.max_order_qty),
        "max_order_notional": _num(r.max_order_notional),
        "max_position": _num(r.max_position),
        "price_band_bps": _num(r.price_band_bps),
        "max_open_orders": int(r.max_open_orders),
        "max_msgs_per_sec": int(r.max_orders_per_second),
        "msg_burst": int(r.max_orders_per_second),
        "max_loss": _num(r.max_loss),
        # the spec: loss and drawdown breaches always trip the kill switch; kill_on_breach widens
        # it to position, open-order and rate breaches (docs/backtest.md)
        "kill_on_max_loss": True,
        "max_drawdown": _num(r.max_drawdown),
        "kill_on_breach": bool(r.kill_on_breach),
    }


#: In bar mode the risk reference of an instrument is its last close, as fresh as its bars allow:
#: a pair's leg decided on the other leg's bar of the same day sees yesterday's close (more over a
#: weekend or holiday). The engine's default age limit (5 s) would deny every such order, so bar
#: runs allow ten days (daily bars across a long weekend); bar mode fills at the next open anyway.
BAR_REFERENCE_AGE_MS = 10 * 86_400_000


def pnl_sample_period_ns(bar_mode: bool) -> int:
    """The PnL sampling period asked of the engine: each bar (1 ns: every change of time) for bar
    data, the end of every minute for tick/L2 data, the periods of the scorecard's returns
    (docs/scorecard.md)."""
    return 1 if bar_mode else L2_PNL_PERIOD_NS


def replay_config(spec, *, plugin: str, params: str, data: str, bar_mode: bool,
                  strategy_id: str | None = None, seed: int | None = None,
                  results: str = "results.json", tape: str | None = "tape.jsonl") -> dict[str, Any]:
    """The ``sf-replay`` config JSON for ``spec`` (paths as the engine will see them)."""
    d = spec.backtest.data
    if seed is None:
        seed = int(d.seed) if d.kind == "synthetic" else 1
    cfg: dict[str, Any] = {
        "data": data,
        "bar_mode": bool(bar_mode),
        "strategies": [{
            "id": strategy_id or spec.metadata.name,
            "plugin": plugin,
            "params": params,
            "instruments": [i.symbol for i in spec.strategy.instruments],
        }],
        "risk": risk_config(spec) | ({"max_reference_age_ms": BAR_REFERENCE_AGE_MS} if bar_mode else {}),
        "venue": {
            "latency": _latency(spec),
            "queue_model": QUEUE_MODELS[spec.backtest.queue.model],
            "fees": {"maker_bps": _num(spec.backtest.fees.maker_bps),
                     "taker_bps": _num(spec.backtest.fees.taker_bps)},
            "seed": seed,
        },
        "output": {"results": results, "pnl_sample_period_ns": pnl_sample_period_ns(bar_mode),
                   "orders_list": True,
                   "max_fills_listed": MAX_FILLS_LISTED, "max_orders_listed": MAX_FILLS_LISTED,
                   "max_denials_listed": 1000},
    }
    if tape:
        cfg["output"]["tape"] = tape
    return cfg


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
    config: dict[str, Any] = field(default_factory=dict)
    run: RunResult | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _engine_message(res: RunResult) -> str:
    text = res.stderr[-4000:].decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-5:]) if lines else (res.detail or res.reason.value)


def run_replay(backend: Backend, spec, *, plugin: Path, params: Path, data: Path, out_dir: Path,
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
        cfg = replay_config(spec, plugin=str(JOB / "strategy.so"), params=params_text,
                            data=str(DATA), bar_mode=bar_mode, seed=seed,
                            results=str(OUT / "results.json"),
                            tape=str(OUT / "tape.jsonl") if tape else None)
        (job / "replay.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
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


__all__ = ["QUEUE_MODELS", "REPLAY_LIMITS", "ReplayError", "ReplayRun", "engine_binary",
           "open_output", "pnl_sample_period_ns", "read_output", "replay_config", "risk_config", "run_replay"]
