"""Replay a callback tape through a twin strategy file; print its decisions as JSON lines.

Meant to run inside the sandbox (the twin is generated, untrusted code)::

    python -m stratforge.runtime.twin.run STRATEGY.py PARAMS.txt TAPE.txt N SYMBOL TICK_E9 LOT_E9 ...
    python -m stratforge.runtime.twin.run --simulate MARKET SEED EVENTS OUT_TAPE \
        STRATEGY.py PARAMS.txt N SYMBOL TICK_E9 LOT_E9 ...

The second form runs the twin closed-loop against the toy venue (:func:`simulate`) over a seeded
synthetic market (MARKET: ``bars``, ``books`` or ``pairs``), shaped by the strategy's instruments
and PARAMS.txt (:func:`~.market.market_for`: spreads inside ``max_spread_ticks``, a book lean for
``entry_threshold``, two legs in their own ticks for a pair, as books or as bars), writes the
complete callback tape to OUT_TAPE (text form) and prints the decisions: the C++ plugin then
replays that tape open-loop, and both decision lists must be identical.

The arguments mirror the C++ parity harness (sandbox/harness/parity_harness.cpp), so both sides
of a parity check see the same instruments, parameters and tape. Exit status 0, or 2 for bad
arguments, or 3 when the strategy raised (the message names the callback record).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from .abi import Instrument
from .driver import create, decode_tape_text, encode_tape_text, replay
from .market import market_for
from .params import Params
from .sim import simulate


def parse_instruments(args: list[str]) -> list[Instrument]:
    """``N SYMBOL TICK_E9 LOT_E9 ...`` (the parity harness's arguments) as instruments."""
    n = int(args[0])
    if len(args) != 1 + 3 * n:
        raise ValueError(f"expected {n} instruments as SYMBOL TICK_E9 LOT_E9 triples")
    return [Instrument(i, args[1 + 3 * i], int(args[2 + 3 * i]), int(args[3 + 3 * i])) for i in range(n)]


def load_module(strategy_file: str):  # noqa: ANN201 - a module
    """Import a twin strategy file as a module (its top level runs: call inside the sandbox)."""
    spec = importlib.util.spec_from_file_location("twin_strategy", strategy_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {strategy_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _market(kind: str, seed: int, events: int, instruments: list[Instrument], params_text: str) -> list[dict]:
    """A seeded market around 100 quote units per instrument, shaped by the strategy's
    instruments and parameters (:func:`market_for`)."""
    if kind not in ("bars", "books", "pairs"):
        raise ValueError(f"unknown market kind {kind!r} (bars, books, pairs)")
    return market_for(kind, seed, events, [i.tick_size_e9 for i in instruments],
                      [i.lot_size_e9 for i in instruments], Params.parse(params_text))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    simulate_spec = None
    if args[:1] == ["--simulate"]:
        if len(args) < 9:
            print(__doc__, file=sys.stderr)
            return 2
        simulate_spec, args = args[1:5], [args[5], args[6], "-", *args[7:]]
    if len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    strategy_file, params_file, tape_file = args[:3]
    try:
        instruments = parse_instruments(args[3:])
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        module = load_module(strategy_file)
    except ImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    strategy = create(module.STRATEGY, Path(params_file).read_text(), instruments)
    try:
        if simulate_spec is not None:
            kind, seed, events, out_tape = simulate_spec
            market = _market(kind, int(seed), int(events), instruments, Path(params_file).read_text())
            tape, decisions = simulate(strategy, market, len(instruments))
            Path(out_tape).write_text(encode_tape_text(tape))
        else:
            decisions = replay(strategy, decode_tape_text(Path(tape_file).read_text()))
    except Exception as err:  # noqa: BLE001 - a fault in generated code, reported as such
        print(f"strategy fault: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    out = sys.stdout
    for d in decisions:
        out.write(json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
