"""Parity on the real run: the ``sf-replay --tape`` of the C++ plugin, fed to the Python twin.

1. :func:`convert_tape` reads the engine's tape (JSON lines: every callback input, then the
   decisions the C++ strategy made in it) into the twin's callback-tape records
   (``stratforge.runtime.twin.driver``), the engine's answers per callback (order ids, denial
   reason codes) and the C++ decisions as twin decision records. Positions come from the fills;
   L2 levels (which the tape does not carry) are rebuilt from the data file batch by batch and
   checked against the tape's top of book.
2. :func:`check_parity` runs the twin over that tape inside the sandbox
   (``stratforge.ci.backtest.twin_host``, answering like the engine did) and compares every
   decision; the first difference is reported with its callback and both decisions.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from stratforge.core import abi
from stratforge.ci.scorecard.inputs import Mismatch, ParityResult, ParityStatus
from stratforge.runtime.twin.driver import encode_tape_text
from stratforge.sandbox.base import Backend, Limits, Mount, RunRequest
from stratforge.sandbox.replay import MAX_TAPE_BYTES, ReplayError, open_output
from stratforge.sandbox.runners import python_mounts
from stratforge.runtime.data.book import L2Book
from stratforge.runtime.data.format import (ASK, BID, CLEAR, DEPTH, END_OF_BATCH, QUOTE,
                                            open_events)
import stratforge.ci as ci_pkg

#: The tape's names of the ABI's values (docs/runtime-abi.md); the values come from the header
#: through the generated :mod:`stratforge.core.abi`, never by hand.
SIDES = {"NONE": abi.SF_SIDE_NONE, "BUY": abi.SF_SIDE_BUY, "SELL": abi.SF_SIDE_SELL}
TYPES = {"LIMIT": abi.SF_ORD_LIMIT, "MARKET": abi.SF_ORD_MARKET}
TIFS = {"GTC": abi.SF_TIF_GTC, "IOC": abi.SF_TIF_IOC}
LIQUIDITY = {"MAKER": abi.SF_LIQ_MAKER, "TAKER": abi.SF_LIQ_TAKER}
STATUS = {name[len("SF_ORDER_"):]: getattr(abi, name) for name in abi.__all__
          if name.startswith("SF_ORDER_")}
#: Stable risk reason codes (docs/runtime-abi.md, "Risk reason codes").
REASONS = abi.RISK_REASONS
CALLBACKS = ("book", "trade", "bar", "fill", "order_update", "timer")
DECISIONS = ("submit", "cancel", "replace")
LEVELS_DEPTH = 10
TWIN_LIMITS = Limits(wall_s=300, cpu_s=300, memory_mb=3072, pids=16, output_bytes=64_000_000,
                     scratch_mb=64)


class TapeError(ValueError):
    """The engine's tape cannot be turned into a twin tape."""


@dataclass
class ConvertedTape:
    records: list[dict] = field(default_factory=list)       # twin callback records
    lines: list[str] = field(default_factory=list)          # the engine's line per record
    answers: dict[str, list[list[int]]] = field(default_factory=dict)
    decisions: list[dict] = field(default_factory=list)     # C++ decisions, twin format
    kills: int = 0


def _levels_from_data(data: Path, n_instruments: int):
    """Per instrument, an iterator of the book after each batch (top levels, best first)."""

    ev = open_events(data).events
    types, sides, insts = np.asarray(ev["type"]), np.asarray(ev["side"]), np.asarray(ev["instrument"])
    flags, v = np.asarray(ev["flags"]), np.asarray(ev["v"][:, :4])
    books = [L2Book() for _ in range(n_instruments)]
    touched = [False] * n_instruments
    for k in range(len(types)):
        i = int(insts[k])
        if i >= n_instruments:
            continue
        t = types[k]
        if t == DEPTH:
            books[i].set_level(int(sides[k]), int(v[k, 0]), int(v[k, 1]))
            touched[i] = True
        elif t == CLEAR:
            books[i].clear(int(sides[k]))
            touched[i] = True
        elif t == QUOTE:
            books[i].set_quote(int(v[k, 0]), int(v[k, 1]), int(v[k, 2]), int(v[k, 3]))
            touched[i] = True
        if flags[k] & END_OF_BATCH and touched[i]:
            touched[i] = False
            b = books[i]
            yield i, ([list(x) for x in b.levels(BID, LEVELS_DEPTH)],
                      [list(x) for x in b.levels(ASK, LEVELS_DEPTH)])


def convert_tape(tape: Path, strategy_id: str, n_instruments: int, *,
                 data: Path | None = None) -> ConvertedTape:
    """The engine's tape of ``strategy_id`` as twin records, answers and C++ decisions.

    With ``data``, book records carry the L2 levels rebuilt from the data file (the twin's
    ``ctx.level``); every rebuilt top of book must equal the tape's, else :class:`TapeError`."""
    out = ConvertedTape()
    pos = [0] * n_instruments
    levels = None
    pending: dict[int, list] = {i: [] for i in range(n_instruments)}
    if data is not None:
        levels = _levels_from_data(data, n_instruments)
    with open_output(tape, MAX_TAPE_BYTES) as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
                d = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise TapeError(f"tape line {lineno}: not JSON ({err})") from None
            k = d.get("k")
            if k == "header" or d.get("s") != strategy_id:
                continue
            try:
                _convert_line(out, d, k, line.rstrip("\n"), pos, levels, pending)
            except (KeyError, TypeError, ValueError) as err:
                raise TapeError(f"tape line {lineno}: {type(err).__name__}: {err}") from None
    return out


def _convert_line(out: ConvertedTape, d: dict, k: str, line: str, pos: list[int], levels,
                  pending) -> None:
    ts = int(d["ts"])
    if k in CALLBACKS:
        rec: dict = {"cb": k, "t": ts}
        if k == "book":
            rec["book"] = {"exch_ts": d["exch_ts"], "recv_ts": ts, "instrument": d["i"],
                           "flags": d["flags"], "bid_px": d["bid_px"], "bid_qty": d["bid_qty"],
                           "ask_px": d["ask_px"], "ask_qty": d["ask_qty"],
                           "bid_levels": d["bid_levels"], "ask_levels": d["ask_levels"]}
            if levels is not None:
                rec["levels"] = _next_levels(levels, pending, d)
        elif k == "trade":
            rec["trade"] = {"exch_ts": d["exch_ts"], "recv_ts": ts, "instrument": d["i"],
                            "side": SIDES[d["side"]], "px": d["px"], "qty": d["qty"],
                            "trade_id": d["trade_id"]}
        elif k == "bar":
            rec["bar"] = {"end_ts": d["end_ts"], "recv_ts": ts, "instrument": d["i"],
                          "open": d["open"], "high": d["high"], "low": d["low"],
                          "close": d["close"], "volume": d["volume"]}
        elif k == "fill":
            pos[int(d["i"])] = int(d["position"])
            rec["fill"] = {"ts": ts, "order_id": d["order_id"], "instrument": d["i"],
                           "side": SIDES[d["side"]], "liquidity": LIQUIDITY[d["liquidity"]],
                           "px": d["px"], "qty": d["qty"], "leaves_qty": d["leaves"],
                           "position": d["position"], "fee": float(d["fee"])}
        elif k == "order_update":
            rec["update"] = {"ts": ts, "order_id": d["order_id"], "instrument": d["i"],
                             "side": SIDES[d["side"]], "status": STATUS[d["status"]],
                             "px": d["px"], "qty": d["qty"], "leaves_qty": d["leaves"]}
        else:
            rec["timer"] = int(d["timer_id"])
        rec["pos"] = list(pos)
        out.records.append(rec)
        out.lines.append(line)
        return
    if k in DECISIONS:
        if not out.records:
            raise ValueError(f"a {k} decision before any callback")
        seq = len(out.records) - 1
        reason = REASONS.get(d["result"])
        if reason is None:
            raise ValueError(f"unknown result {d['result']!r}")
        if k == "submit":
            oid = int(d["order_id"])
            dec = {"op": "submit", "seq": seq, "t": ts, "inst": d["i"], "side": SIDES[d["side"]],
                   "type": TYPES.get(d["type"], 0), "tif": TIFS.get(d["tif"], 0), "px": d["px"],
                   "qty": d["qty"], "tag": d["tag"], "id": oid, "reason": reason}
        elif k == "cancel":
            oid = int(d["order_id"])
            dec = {"op": "cancel", "seq": seq, "t": ts, "id": oid, "reason": reason}
        else:
            oid = int(d["order_id"])
            dec = {"op": "replace", "seq": seq, "t": ts, "id": oid, "px": d["px"],
                   "qty": d["qty"], "reason": reason}
        out.decisions.append(dict(sorted(dec.items())))
        out.answers.setdefault(str(seq), []).append([oid, reason])
        return
    if k == "kill":
        out.kills += 1
        return
    raise ValueError(f"unknown tape record kind {k!r}")


def _next_levels(levels, pending, d: dict) -> dict:
    inst = int(d["i"])
    q = pending[inst]
    while not q:
        try:
            i, lv = next(levels)
        except StopIteration:
            raise ValueError(f"the data file has fewer book batches than the tape (instrument "
                             f"{inst} at ts {d['ts']})") from None
        pending[i].append(lv)
    bid, ask = q.pop(0)
    want = (d["bid_px"], d["bid_qty"], d["ask_px"], d["ask_qty"])
    got = (bid[0][0] if bid else d["bid_px"], bid[0][1] if bid else 0,
           ask[0][0] if ask else d["ask_px"], ask[0][1] if ask else 0)
    if (bid and ask) and got != want:
        raise ValueError(f"the rebuilt book does not match the tape at ts {d['ts']}: "
                         f"data {got}, tape {want}")
    return {"bid": bid, "ask": ask}


def _render(d: dict) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def compare(cpp: list[dict], py: list[dict], conv: ConvertedTape) -> ParityResult:
    """Every decision equal, or the first mismatch with its callback."""
    n_events = len(conv.records)
    for i, (c, p) in enumerate(zip(cpp, py)):
        if c != p:
            seq = min(int(c.get("seq", 0)), int(p.get("seq", 0)))
            return ParityResult(status=ParityStatus.mismatch, events_compared=seq + 1,
                                first_mismatch=Mismatch(event_index=seq, event=_event(conv, seq),
                                                        cpp_decision=_render(c),
                                                        python_decision=_render(p)),
                                details=f"decision {i} of {len(cpp)} differs")
    if len(cpp) != len(py):
        longer = cpp if len(cpp) > len(py) else py
        extra = longer[min(len(cpp), len(py))]
        seq = int(extra.get("seq", 0))
        none = "(no decision)"
        return ParityResult(
            status=ParityStatus.mismatch, events_compared=seq + 1,
            first_mismatch=Mismatch(event_index=seq, event=_event(conv, seq),
                                    cpp_decision=_render(extra) if longer is cpp else none,
                                    python_decision=_render(extra) if longer is py else none),
            details=f"C++ made {len(cpp)} decisions, Python {len(py)}")
    return ParityResult(status=ParityStatus.match, events_compared=n_events,
                        details=f"{len(cpp)} decisions identical over {n_events} callbacks")


def _event(conv: ConvertedTape, seq: int) -> str:
    return conv.lines[seq][:400] if 0 <= seq < len(conv.lines) else "?"


def _ci_mount() -> Mount:
    """The ``stratforge.ci`` package (for the twin host module), read-only at its own path."""
    root = Path(ci_pkg.__file__).resolve().parent
    return Mount(root, PurePosixPath(str(root)))


def _uses_levels(bundle: Path) -> bool:
    src = (bundle / "python" / "strategy.py").read_text(encoding="utf-8", errors="replace")
    return "ctx.level(" in src or "ctx.book_level(" in src


@dataclass
class TwinRun:
    """The Python twin replayed over (a prefix of) a converted tape inside the sandbox."""

    ok: bool
    decisions: list[dict] = field(default_factory=list)  # submit/cancel/replace records
    message: str = ""
    fault: bool = False  # the strategy raised (twin_host exit 3), not a sandbox/host failure


def twin_tape(bundle: Path, tape: Path, *, strategy_id: str, n_instruments: int,
              data: Path | None = None) -> ConvertedTape:
    """:func:`convert_tape` as the parity run does it (L2 levels only when the twin reads them)."""
    return convert_tape(tape, strategy_id, n_instruments,
                        data=data if data is not None and _uses_levels(bundle) else None)


def run_twin(backend: Backend, bundle: Path, records: list[dict], answers: dict[str, list[list[int]]],
             *, instruments: list[tuple[str, int, int]], work: Path,
             label: str = "parity-twin") -> TwinRun:
    """Run ``bundle``'s twin over ``records`` in the sandbox (``twin_host``), answering each
    order request with ``answers`` (the engine's); only the twin, its params, the tape and the
    answers are mounted (``/job``, read-only). ``label`` names the scratch folder under ``work``."""
    job = work / label
    if job.exists():
        shutil.rmtree(job)
    (job / "python").mkdir(parents=True)
    try:
        shutil.copy2(bundle / "python" / "strategy.py", job / "python" / "strategy.py")
        shutil.copy2(bundle / "params.txt", job / "params.txt")
        (job / "tape.txt").write_text(encode_tape_text(records), encoding="utf-8")
        (job / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
        inst_args: list[str] = [str(len(instruments))]
        for sym, tick, lot in instruments:
            inst_args += [sym, str(tick), str(lot)]
        j = PurePosixPath("/job")
        res = backend.run(RunRequest(
            argv=(sys.executable, "-I", "-m", "stratforge.ci.backtest.twin_host",
                  str(j / "python" / "strategy.py"), str(j / "params.txt"), str(j / "tape.txt"),
                  str(j / "answers.json"), *inst_args),
            inputs=(Mount(job.resolve(), j), *python_mounts(), _ci_mount()),
            env=(("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONHASHSEED", "0")),
            limits=TWIN_LIMITS, label=label))
    finally:
        shutil.rmtree(job, ignore_errors=True)
    if not res.ok:
        text = res.stderr[-2000:].decode("utf-8", "replace").strip()
        return TwinRun(ok=False, message=f"{res.reason.value} (exit {res.exit_code}): {text}",
                       fault=res.exit_code == 3)
    try:
        py = [json.loads(x) for x in res.stdout.decode("utf-8").splitlines() if x.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return TwinRun(ok=False, message=f"the twin's output is not JSON lines: {err}")
    return TwinRun(ok=True, decisions=py)


@dataclass
class ParityRun:
    """:func:`check_parity`'s result with its evidence: the converted tape and the twin's run
    (reused by the L2 bias checks as their full-tape run)."""

    result: ParityResult
    tape: ConvertedTape | None = None
    twin: TwinRun | None = None


def parity_run(backend: Backend, bundle: Path, tape: Path, *, strategy_id: str,
               instruments: list[tuple[str, int, int]], work: Path,
               data: Path | None = None) -> ParityRun:
    """:func:`check_parity`, keeping the converted tape and the twin's decisions."""
    try:
        conv = twin_tape(bundle, tape, strategy_id=strategy_id, n_instruments=len(instruments), data=data)
    except (TapeError, ReplayError) as err:
        return ParityRun(ParityResult(status=ParityStatus.error, events_compared=0, details=str(err)))
    if not conv.records:
        return ParityRun(ParityResult(status=ParityStatus.not_run, events_compared=0,
                                      details="the run delivered no callbacks to the strategy"), conv)
    twin = run_twin(backend, bundle, conv.records, conv.answers, instruments=instruments, work=work)
    if not twin.ok:
        text = twin.message if twin.message.startswith("the twin's output") else \
            f"the Python twin failed on the run's tape: {twin.message}"
        return ParityRun(ParityResult(status=ParityStatus.error, events_compared=0, details=text), conv, twin)
    return ParityRun(compare(conv.decisions, twin.decisions, conv), conv, twin)


def check_parity(backend: Backend, bundle: Path, tape: Path, *, strategy_id: str,
                 instruments: list[tuple[str, int, int]], work: Path,
                 data: Path | None = None) -> ParityResult:
    """Replay the real run's tape through the bundle's Python twin in the sandbox; compare."""
    return parity_run(backend, bundle, tape, strategy_id=strategy_id, instruments=instruments,
                      work=work, data=data).result


__all__ = ["ConvertedTape", "ParityRun", "TapeError", "TwinRun", "check_parity", "compare", "convert_tape",
           "parity_run", "run_twin", "twin_tape"]
