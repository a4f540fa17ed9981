"""Host side of the bar-level backtest: run the Python twin in backtrader inside the sandbox.

The twin trades the spec's instruments (one or several, e.g. a pair): backtrader gets one data
feed per instrument from the same ``.sfe`` file (``adapter.py``).

The twin (``python/strategy.py``, created with ``params.txt``) is generated, untrusted code, so
it runs only inside a sandbox backend: :func:`run_backtrader` stages the two files and the data
file read-only, runs ``python -I -m stratforge.ci.crosscheck.bt_runner`` there, and reads the
result JSON back from ``/out`` without trusting it (no symlinks, regular file, size cap, strict
model). backtrader itself is imported only inside the sandbox (``adapter.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratforge.core.engine_config import engine_seed
from stratforge.core.spec import StrategySpec
from stratforge.sandbox.base import Backend, Limits, Mount, Reason, RunRequest, RunResult
from stratforge.sandbox.runners import python_mounts
from stratforge.sandbox.results import ResultFileError, read_result_bytes

__all__ = ["BT_LIMITS", "BacktraderError", "BacktraderFill", "BacktraderResult", "BacktraderRun",
           "MAX_RESULT_BYTES", "run_backtrader", "read_sandbox_file"]

JOB = PurePosixPath("/job")
OUT = PurePosixPath("/out")
DATA = PurePosixPath("/data/bars.sfe")
RESULT_NAME = "backtrader.json"
MAX_RESULT_BYTES = 256 * 1024 * 1024
BT_LIMITS = Limits(wall_s=600, cpu_s=600, memory_mb=2048, pids=32, file_size_mb=512,
                   output_bytes=200_000, scratch_mb=64)
EXIT_MEANING = {2: "bad arguments or data", 3: "strategy fault", 4: "backtrader failed", 7: "output error"}


class BacktraderError(RuntimeError):
    """The backtrader run could not produce a result (sandbox, runner, output)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BacktraderFill(_Frozen):
    """One execution in backtrader, in engine units (ticks, lots) and quote/base units."""

    ts: int = Field(description="Receive time of the bar the order filled on (ns).")
    bar: int = Field(ge=0, description="Index of that bar (file order, all instruments).")
    instrument: str = Field(default="", description="Symbol of the instrument that filled.")
    order_id: int = Field(ge=1, description="Order id as the engine would number it.")
    side: Literal["BUY", "SELL"]
    liquidity: Literal["MAKER", "TAKER"]
    px: int = Field(description="Fill price, ticks.")
    qty: int = Field(gt=0, description="Fill quantity, lots.")
    price: float = Field(description="Fill price, quote currency (backtrader's).")
    size: float = Field(description="Fill size, base units (backtrader's).")
    fee: float = Field(description="backtrader commission, quote currency.")
    position_lots: int = Field(description="Position after the fill, lots.")


class BacktraderResult(_Frozen):
    """What ``bt_runner`` writes (format ``sf-crosscheck-backtrader`` version 1)."""

    format: Literal["sf-crosscheck-backtrader"]
    version: Literal[1]
    bars: int = Field(ge=0)
    first_ts: int
    last_ts: int
    instrument: dict[str, Any] = Field(description="The first instrument (symbol, tick, lot).")
    instruments: tuple[dict[str, Any], ...] = Field(default=(), description="Every instrument replayed, "
                                                    "strategy order: id, symbol, tick, lot, bars.")
    initial_cash: float
    final_value: float
    final_pnl: float = Field(description="broker value at the end minus starting cash: realised + "
                             "unrealised at the last close, net of commission.")
    fees: float
    position_lots: int = Field(description="Position of the first instrument at the end, lots.")
    positions: dict[str, int] = Field(default_factory=dict, description="Position per symbol at the end, lots.")
    closed_trades: int = Field(ge=0, description="TradeAnalyzer total.closed.")
    open_trades: int = Field(ge=0, description="TradeAnalyzer total.open.")
    rejected_orders: int = Field(ge=0, description="Orders backtrader's broker refused (cash/margin).")
    open_orders_at_end: int = Field(ge=0)
    fills: tuple[BacktraderFill, ...]
    decisions: tuple[dict[str, Any], ...] = Field(description="The twin's decision records "
                                                  "(docs/templates.md), in order.")
    decision_bars: tuple[int, ...] = Field(description="Index (file order, all instruments) of the "
                                           "bar being processed when each decision was made.")
    decision_callbacks: tuple[str, ...] = Field(description="The callback (on_bar, on_fill, ...) "
                                                "that made each decision.")
    decision_positions: tuple[int, ...] = Field(description="Position (lots) of the decision's "
                                                "instrument (a submit's; else the first) the host "
                                                "reported during the callback that made it.")
    equity: tuple[float, ...] = Field(description="broker value minus starting cash after each bar "
                                      "(file order, all instruments).")
    analyzers: dict[str, Any] = Field(description="TradeAnalyzer, Returns, DrawDown analyses.")
    backtrader_version: str


@dataclass(frozen=True)
class BacktraderRun:
    """How a sandboxed backtrader run ended."""

    status: Literal["ok", "strategy_fault", "error"]
    message: str
    result: BacktraderResult | None
    run: RunResult | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def read_sandbox_file(path: Path, max_bytes: int) -> bytes:
    """Read a file the sandbox wrote (:func:`stratforge.sandbox.results.read_result_bytes`)."""
    try:
        return read_result_bytes(path.parent, path.name, max_bytes=max_bytes)
    except ResultFileError as err:
        raise BacktraderError(f"sandbox output {err}") from None


def crosscheck_mounts() -> tuple[Mount, ...]:
    """The interpreter and stratforge (``python_mounts``) plus the ``stratforge.ci`` package the
    runner lives in, all read-only."""
    mounts = list(python_mounts())
    spec = importlib.util.find_spec("stratforge.ci")
    if spec is not None and spec.origin:
        ci_dir = Path(spec.origin).resolve().parent
        if not any(ci_dir.is_relative_to(m.source) for m in mounts):
            mounts.append(Mount(ci_dir, PurePosixPath(str(ci_dir))))
    return tuple(mounts)


def _stage(bundle: Path, data: Path, job: Path) -> Path:
    """Copy only what the run needs: the twin, its params and the data file."""
    if job.exists():
        shutil.rmtree(job)
    (job / "python").mkdir(parents=True)
    shutil.copy2(bundle / "python" / "strategy.py", job / "python" / "strategy.py")
    shutil.copy2(bundle / "params.txt", job / "params.txt")
    staged = job.parent / f"{job.name}.data" / "bars.sfe"
    staged.parent.mkdir(parents=True, exist_ok=True)
    if staged.exists():
        staged.unlink()
    try:
        os.link(data, staged)
    except OSError:
        shutil.copy2(data, staged)
    return staged


def run_backtrader(backend: Backend, bundle: Path, data: Path, spec: StrategySpec, *, work_dir: Path,
                   limits: Limits = BT_LIMITS, label: str = "backtrader",
                   seed: int | None = None) -> BacktraderRun:
    """Backtest ``bundle``'s Python twin over the bars of ``data`` (an ``.sfe`` file) in backtrader,
    inside ``backend``. Cash = ``backtest.initial_capital``, commission = ``backtest.fees`` (bps).
    ``work_dir`` holds the staged inputs and the output (``<label>/out``)."""
    bundle, data = Path(bundle).resolve(), Path(data).resolve()
    for need in (bundle / "python" / "strategy.py", bundle / "params.txt", data):
        if not need.is_file():
            raise BacktraderError(f"Condition failed: {need} does not exist")
    base = Path(work_dir).resolve() / label
    job, out = base / "job", base / "out"
    staged = _stage(bundle, data, job)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    fees = spec.backtest.fees
    argv = (sys.executable, "-I", "-m", "stratforge.ci.crosscheck.bt_runner",
            "--strategy", str(JOB / "python" / "strategy.py"), "--params", str(JOB / "params.txt"),
            "--data", str(DATA), "--out", str(OUT / RESULT_NAME),
            "--cash", repr(float(spec.backtest.initial_capital)),
            "--maker-bps", repr(float(fees.maker_bps)), "--taker-bps", repr(float(fees.taker_bps)),
            "--seed", str(engine_seed(spec) if seed is None else int(seed)),
            "--strategy-id", spec.metadata.name,
            "--symbols", ",".join(i.symbol for i in spec.strategy.instruments))
    env = (("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONHASHSEED", "0"), ("OPENBLAS_NUM_THREADS", "1"),
           ("OMP_NUM_THREADS", "1"), ("MPLBACKEND", "Agg"))
    req = RunRequest(argv=argv, inputs=(Mount(job, JOB), Mount(staged, DATA), *crosscheck_mounts()),
                     output_dir=out, workdir=PurePosixPath("/tmp"), env=env, limits=limits,
                     label=f"crosscheck-{label}-{uuid.uuid4().hex[:6]}")
    res = backend.run(req)
    if not res.ok:
        text = res.text("stderr", 2000).strip() or res.detail or res.reason.value
        if res.reason is Reason.NONZERO_EXIT and res.exit_code == 3:
            return BacktraderRun("strategy_fault", text, None, res)
        if res.reason is Reason.NONZERO_EXIT:
            what = EXIT_MEANING.get(res.exit_code or 0, f"exit {res.exit_code}")
            return BacktraderRun("error", f"bt_runner {what}: {text}", None, res)
        kind = "error" if res.reason is Reason.SANDBOX_SETUP else "strategy_fault"
        return BacktraderRun(kind, f"{res.reason.value}: {text}", None, res)
    try:
        raw = read_sandbox_file(out / RESULT_NAME, MAX_RESULT_BYTES)
        result = BacktraderResult.model_validate(json.loads(raw))
    except BacktraderError as err:
        return BacktraderRun("error", str(err), None, res)
    except (ValueError, UnicodeDecodeError, ValidationError) as err:
        return BacktraderRun("error", f"the backtrader result is malformed: {str(err)[:500]}", None, res)
    n = len(result.decisions)
    if not (len(result.decision_bars) == len(result.decision_callbacks) == len(result.decision_positions) == n):
        return BacktraderRun("error", "the backtrader result is malformed: the decision lists differ in length",
                             None, res)
    return BacktraderRun("ok", "", result, res)
