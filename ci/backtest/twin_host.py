"""Replay a real run's callback tape through a Python twin, answering as the engine answered.

Runs inside the sandbox (the twin is generated, untrusted code)::

    python -I -m stratforge.ci.backtest.twin_host STRATEGY.py PARAMS.txt TAPE.txt ANSWERS.json \
        N SYMBOL TICK_E9 LOT_E9 ...

Like ``stratforge.runtime.twin.run`` (same arguments plus ANSWERS.json), but the host does not
accept everything: during callback ``seq`` the k-th order request gets the k-th answer the engine
gave during that callback in the real run (order id, or the risk reason code of a denial), so
the twin follows the same path as the C++ plugin did under the real risk gate. A twin that asks
more than the engine was asked gets "accepted" with a fresh id (the comparison reports it).
Prints decision records as JSON lines (docs/templates.md); exit 0, 2 bad arguments, 3 the
strategy raised.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stratforge.runtime.twin.abi import SF_ACCEPTED, OrderRequest, OrderResult
from stratforge.runtime.twin.context import RecordingContext
from stratforge.runtime.twin.driver import _dispatch, apply_host_state, create, decode_tape_text
from stratforge.runtime.twin.run import load_module, parse_instruments


class ScriptedHost(RecordingContext):
    """A :class:`RecordingContext` whose answers come from the recorded run."""

    def __init__(self, answers: dict[str, list[list[int]]]) -> None:
        super().__init__(record_logs=False)
        self.answers = answers
        self._queue: list[list[int]] = []
        self._fresh = 1 << 40

    def begin(self, seq: int) -> None:
        self._queue = list(self.answers.get(str(seq), ()))

    def _next(self) -> tuple[int, int] | None:
        if not self._queue:
            return None
        oid, reason = self._queue.pop(0)
        return int(oid), int(reason)

    def submit(self, req: OrderRequest) -> OrderResult:
        ans = self._next()
        if ans is None:
            oid, reason = self._fresh, SF_ACCEPTED
            self._fresh += 1
        else:
            oid, reason = ans
        self._record("submit", inst=req.instrument, side=req.side, type=req.type, tif=req.tif,
                     px=req.px, qty=req.qty, tag=req.user_tag, id=oid, reason=reason)
        return OrderResult(oid if reason == SF_ACCEPTED else 0, reason)

    def cancel(self, order_id: int) -> int:
        ans = self._next()
        reason = SF_ACCEPTED if ans is None else ans[1]
        self._record("cancel", id=order_id, reason=reason)
        return reason

    def replace(self, order_id: int, px: int, qty: int) -> int:
        ans = self._next()
        reason = SF_ACCEPTED if ans is None else ans[1]
        self._record("replace", id=order_id, px=px, qty=qty, reason=reason)
        return reason


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    strategy_file, params_file, tape_file, answers_file = args[:4]
    rest = args[4:]
    try:
        instruments = parse_instruments(rest)
    except (ValueError, IndexError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    tape = decode_tape_text(Path(tape_file).read_text())
    host = ScriptedHost(json.loads(Path(answers_file).read_text()))
    seq = -1
    try:
        module = load_module(strategy_file)
        strategy = create(module.STRATEGY, Path(params_file).read_text(), instruments)
        for seq, rec in enumerate(tape):
            apply_host_state(host, seq, rec)
            host.begin(seq)
            _dispatch(strategy, host, rec)
    except Exception as err:  # noqa: BLE001 - a fault in generated code, reported as such
        print(f"strategy fault at callback #{seq}: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    out = sys.stdout
    for d in host.decisions:
        if d["op"] in ("submit", "cancel", "replace"):
            out.write(json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
