"""Run a Python twin in backtrader over one ``.sfe`` bar file (one or more instruments); write the result JSON.

Meant to run **inside the sandbox** (the twin is generated, untrusted code)::

    python -I -m stratforge.ci.crosscheck.bt_runner --strategy /job/python/strategy.py \\
        --params /job/params.txt --data /data/bars.sfe --out /out/backtrader.json \\
        --cash 50000 --maker-bps 0.5 --taker-bps 0.5 [--seed 0] [--strategy-id ID] [--symbols KO,IBM]

``--symbols``: the strategy's instruments in its own order (default: every instrument of the
file, in file order); the twin gets them with the file's instrument ids, as the engine hands them.

Exit status: 0 ok; 2 bad arguments or data; 3 the strategy raised (construction or a callback;
the message names it); 4 backtrader itself failed; 7 the output could not be written. The
output is written to ``<out>.tmp`` and renamed, so a failed run leaves no result file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from stratforge.ci.crosscheck.bars import CrosscheckDataError, load_bar_set
from stratforge.runtime.data.errors import DataFormatError, InputError
from stratforge.runtime.twin import create

try:  # backtrader may be missing from the sandbox's interpreter: main() says so (exit 4)
    from stratforge.ci.crosscheck.adapter import AdapterConfig, BarSeries, BarTape, run_cerebro
except ImportError as _err:
    _ADAPTER_MISSING: ImportError | None = _err
else:
    _ADAPTER_MISSING = None

RESULT_FORMAT = "sf-crosscheck-backtrader"
RESULT_VERSION = 1


class _StrategyFault(Exception):
    pass


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bt_runner", description=__doc__.splitlines()[0])
    ap.add_argument("--strategy", required=True)
    ap.add_argument("--params", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cash", type=float, required=True)
    ap.add_argument("--maker-bps", type=float, required=True)
    ap.add_argument("--taker-bps", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy-id", default="crosscheck")
    ap.add_argument("--symbols", default="", help="comma-separated instrument symbols, strategy order")
    return ap.parse_args(argv)


def _load_twin_class(path: str):
    spec = importlib.util.spec_from_file_location("twin_strategy", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = getattr(module, "STRATEGY", None)
    if cls is None:
        raise ValueError(f"{path} defines no STRATEGY")
    return cls


class _Guarded:
    """Every call into the twin goes through here: a raise becomes one fault naming the callback."""

    def __init__(self, twin) -> None:
        self._twin = twin

    def __getattr__(self, name: str):
        fn = getattr(self._twin, name)
        if not name.startswith("on_"):
            return fn

        def call(ctx, *args):
            try:
                return fn(ctx, *args)
            except Exception as err:  # noqa: BLE001 - a fault in generated code, reported as such
                raise _StrategyFault(f"{name} at t={ctx.t} (callback #{ctx.seq}): {type(err).__name__}: {err}") from err
        call.__name__ = name
        return call


def main(argv: list[str] | None = None) -> int:
    try:
        a = _parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return 2 if e.code else 0

    try:
        legs = load_bar_set(a.data, [x for x in a.symbols.split(",") if x] or None)
        params_blob = Path(a.params).read_text()
    except (CrosscheckDataError, DataFormatError, InputError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        cls = _load_twin_class(a.strategy)
        twin = create(cls, params_blob, [leg.instrument for leg in legs], strategy_id=a.strategy_id,
                      seed=a.seed)
    except Exception as err:  # noqa: BLE001
        print(f"strategy fault: construction: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    if _ADAPTER_MISSING is not None:
        print(f"error: backtrader is not importable in the sandbox: {_ADAPTER_MISSING}",
              file=sys.stderr)
        return 4
    tape = BarTape(tuple(BarSeries(leg.instrument, **leg.columns) for leg in legs),
                   tuple(leg.position for leg in legs))
    cfg = AdapterConfig(initial_cash=a.cash, maker_bps=a.maker_bps, taker_bps=a.taker_bps, seed=a.seed,
                        strategy_id=a.strategy_id)
    try:
        doc = run_cerebro(_Guarded(twin), tape, cfg)
    except _StrategyFault as err:
        print(f"strategy fault: {err}", file=sys.stderr)
        return 3
    except Exception:  # noqa: BLE001 - backtrader or the adapter failed: not the twin's fault
        print("backtrader run failed:\n" + traceback.format_exc(limit=8), file=sys.stderr)
        return 4
    doc = {"format": RESULT_FORMAT, "version": RESULT_VERSION, **doc}
    out = Path(a.out)
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False))
        os.replace(tmp, out)
    except (OSError, ValueError) as err:
        print(f"error: cannot write {out}: {err}", file=sys.stderr)
        return 7
    return 0


if __name__ == "__main__":
    sys.exit(main())
