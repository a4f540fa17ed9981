#!/usr/bin/env python3
"""The codegen evaluation: free-text intents → signal expressions → scenario checks.

    python bench/codegen_eval.py --provider local [--model 1.5b] [--grammar on|off]
                                 [--intents a,b] [--record DIR | --replay DIR] [--out DIR]

Each intent (``bench/codegen_eval/intents/*.yaml``) is a small spec of its own (strategy type,
params, data kind), the free-text ``logic`` a user would write, and a hand-built tape (bars, or
book updates and trades, plus the strategy's own fills) with the decisions the words imply at given
updates ("at the update labelled ``drop`` entry_long is true, one update later false").

For every intent the harness runs the project's own loop, :func:`logic_to_signals` (ask →
extract → check → repair, at most ``1 + codegen.max_repair_rounds`` = 4 calls), and evaluates the
accepted signals on the tape with the reference evaluator (``stratforge.core.expr.Evaluator``, the
executable definition of what the generated C++ and Python compute), fed the way the strategy
templates feed it (see ``generator/render/scenarios.py``, ``_SignalOracle``).

Every exchange is recorded (one folder per intent, the project's recorder), so ``--replay DIR``
reproduces the run without a model: the table and JSON it writes are a function of the recordings
and the intents only (seconds and tokens are the recorded ones), byte for byte.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from stratforge.core.errors import StratforgeError
from stratforge.core.expr import (MAX_LEVELS, SERIES, DataKind, Evaluator, ExpressionError, Type,
                                  compile_expression, depth_series, parse)
from stratforge.core.spec.loader import load_spec_bytes
from stratforge.core.spec.models import StrategySpec
from stratforge.core.spec.signals import spec_params
from stratforge.generator.llm import get_provider
from stratforge.generator.llm.extract import ExtractionError, extract_json
from stratforge.generator.llm.prompts import ROLE_SIGNALS, LogicTranslation, logic_to_signals
from stratforge.generator.llm.record import Recorder
from machine import cpu_model  # bench/machine.py (this script's folder is on sys.path)

HERE = Path(__file__).resolve().parent
INTENTS_DIR = HERE / "codegen_eval" / "intents"
RESULTS_FORMAT = "stratforge-codegen-eval/1"
TYPES = ("market_making", "momentum", "mean_reversion", "stat_arb", "order_book_imbalance", "custom")
BOOK_SERIES = ("mid", "spread", "bid", "ask", "bid_size", "ask_size", "microprice",
               *(depth_series(s, k) for s in ("bid", "ask") for k in range(2, MAX_LEVELS + 1)))
BAR_SERIES = ("open", "high", "low", "close", "volume")
TRADE_SERIES = ("last", "last_size")
POSITION_SERIES = ("position", "entry_price", "time_in_position", "bars_in_position")


class IntentError(StratforgeError):
    """An intent file is malformed (names the file and what is wrong)."""


# --------------------------------------------------------------------------------------------
# intents


@dataclass(frozen=True)
class Check:
    """``signal`` must be ``expect`` at update ``at`` (1-based), or at every update (``at=None``).

    ``expect=False`` is met by false or undefined (not warm): the strategy acts only on true.
    """

    signal: str
    expect: bool
    at: int | None
    where: str  # how the intent file wrote it, for reports


@dataclass(frozen=True)
class Intent:
    id: str
    path: Path
    type: str
    data: str  # "bars" or "book"
    params: dict[str, Any]
    logic: str
    tape: list[dict[str, Any]]  # expanded: one dict per event (update or fill)
    checks: tuple[Check, ...]
    order_qty: float = 1.0
    tags: tuple[str, ...] = ()
    step_s: float = 60.0
    #: a hand-written correct translation (tests: it passes every check; planted defects fail)
    reference: dict[str, str] = field(default_factory=dict)


def _fail(path: Path, msg: str) -> IntentError:
    return IntentError(f"{path}: {msg}")


def _expand_tape(path: Path, raw: Any, data: str, volume: float) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Expand ``repeat`` rows; returns the events and label → 1-based update number."""
    if not isinstance(raw, list) or not raw:
        raise _fail(path, "tape.events must be a non-empty list")
    events: list[dict[str, Any]] = []
    labels: dict[str, int] = {}
    n_updates = 0
    for i, row in enumerate(raw, 1):
        where = f"tape.events[{i}]"
        if not isinstance(row, dict):
            raise _fail(path, f"{where} must be a mapping")
        if "closes" in row or "mids" in row:  # shorthand: a run of bars by close, or books by mid
            key = "closes" if "closes" in row else "mids"
            if set(row) - {key, "label"} or not isinstance(row[key], list) or not row[key]:
                raise _fail(path, f"{where}: {key} takes a non-empty list (and an optional label)")
            half = 0.01
            seq = [{"bar": c} if key == "closes" else {"book": [m - half, m + half, 10, 10]}
                   for c in row[key] for m in [float(c)]]
            if "label" in row:
                seq[0]["label"] = row["label"]
            sub, sub_labels = _expand_tape(path, seq, data, volume)
            for lab, n in sub_labels.items():
                if lab in labels:
                    raise _fail(path, f"{where}: duplicate label {lab!r}")
                labels[lab] = n_updates + n
            events += sub
            n_updates += len(sub)
            continue
        kinds = [k for k in ("bar", "book", "trade", "fill") if k in row]
        if len(kinds) != 1:
            raise _fail(path, f"{where} needs exactly one of bar, book, trade, fill, closes, mids")
        kind = kinds[0]
        unknown = set(row) - {kind, "repeat", "label", "depth"}
        if unknown:
            raise _fail(path, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if kind == "bar" and data != "bars" or kind in ("book", "trade") and data != "book":
            raise _fail(path, f"{where}: a {kind} event on a {data} intent")
        repeat = int(row.get("repeat", 1))
        if repeat < 1 or (kind == "fill" and repeat != 1):
            raise _fail(path, f"{where}: bad repeat {repeat}")
        v = row[kind]
        ev: dict[str, Any]
        if kind == "bar":
            vals = [v] if isinstance(v, int | float) else list(v)
            if len(vals) == 1:
                c = float(vals[0]); ev = {"open": c, "high": c, "low": c, "close": c, "volume": volume}
            elif len(vals) == 2:
                c = float(vals[0]); ev = {"open": c, "high": c, "low": c, "close": c, "volume": float(vals[1])}
            elif len(vals) == 5:
                ev = dict(zip(BAR_SERIES, map(float, vals)))
            else:
                raise _fail(path, f"{where}: bar is close, [close, volume] or [open, high, low, close, volume]")
        elif kind == "book":
            if len(v) != 4:
                raise _fail(path, f"{where}: book is [bid, ask, bid_size, ask_size]")
            ev = dict(zip(("bid", "ask", "bid_size", "ask_size"), map(float, v)))
            depth = row.get("depth") or {}
            ev["depth"] = {s: [float(x) for x in depth.get(s, [ev[f"{s}_size"]])] for s in ("bid", "ask")}
        elif kind == "trade":
            if len(v) != 2:
                raise _fail(path, f"{where}: trade is [price, size]")
            ev = {"last": float(v[0]), "last_size": float(v[1])}
        else:
            if len(v) != 2:
                raise _fail(path, f"{where}: fill is [signed position after the fill, price]")
            ev = {"position": float(v[0]), "price": float(v[1])}
        ev["kind"] = kind
        if "label" in row:
            label = str(row["label"])
            if kind == "fill" or label in labels or not re.fullmatch(r"[a-z][a-z0-9_]*", label):
                raise _fail(path, f"{where}: bad or duplicate label {label!r}")
            labels[label] = n_updates + 1
        for _ in range(repeat):
            events.append(dict(ev))
            if kind != "fill":
                n_updates += 1
    return events, labels


def _resolve_at(path: Path, at: Any, labels: Mapping[str, int], n_updates: int) -> int:
    if isinstance(at, int):
        n = at
    else:
        m = re.fullmatch(r"([a-z][a-z0-9_]*)\s*(?:([+-])\s*(\d+))?", str(at))
        if not m or m.group(1) not in labels:
            raise _fail(path, f"check at {at!r}: not an update number or a label (labels: "
                        f"{', '.join(labels) or 'none'})")
        n = labels[m.group(1)] + (int(m.group(3)) * (1 if m.group(2) == "+" else -1) if m.group(2) else 0)
    if not 1 <= n <= n_updates:
        raise _fail(path, f"check at {at!r} is update {n}, outside 1..{n_updates}")
    return n


def load_intent(path: Path) -> Intent:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise _fail(path, f"not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise _fail(path, "must be a mapping")
    allowed = {"id", "type", "data", "params", "logic", "tape", "checks", "order_qty", "tags", "note",
               "reference"}
    unknown = set(doc) - allowed
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("id", "type", "data", "params", "logic", "tape", "checks"):
        if key not in doc:
            raise _fail(path, f"missing '{key}'")
    if doc["id"] != path.stem:
        raise _fail(path, f"id '{doc['id']}' must equal the file name '{path.stem}'")
    if doc["type"] not in TYPES:
        raise _fail(path, f"type must be one of {', '.join(TYPES)}")
    if doc["data"] not in ("bars", "book"):
        raise _fail(path, "data must be bars or book")
    tape = doc["tape"] if isinstance(doc["tape"], dict) else {}
    step = float(tape.get("step_s", 60.0))
    events, labels = _expand_tape(path, tape.get("events"), doc["data"], float(tape.get("volume", 1000.0)))
    n_updates = sum(1 for e in events if e["kind"] != "fill")
    checks: list[Check] = []
    if not isinstance(doc["checks"], list) or not doc["checks"]:
        raise _fail(path, "checks must be a non-empty list")
    for i, c in enumerate(doc["checks"], 1):
        if not isinstance(c, dict):
            raise _fail(path, f"checks[{i}] must be a mapping")
        if "always" in c:
            for sig, want in dict(c["always"]).items():
                if sig not in ROLE_SIGNALS or not isinstance(want, bool):
                    raise _fail(path, f"checks[{i}]: always needs role signals with true/false")
                checks.append(Check(sig, want, None, f"always {sig}={str(want).lower()}"))
            continue
        at = _resolve_at(path, c.get("at"), labels, n_updates)
        pairs = {k: v for k, v in c.items() if k != "at"}
        if not pairs:
            raise _fail(path, f"checks[{i}] names no signal")
        for sig, want in pairs.items():
            if sig not in ROLE_SIGNALS or not isinstance(want, bool):
                raise _fail(path, f"checks[{i}]: '{sig}' must be a role signal "
                            f"({', '.join(ROLE_SIGNALS)}) with true or false")
            checks.append(Check(sig, want, at, f"@{c['at']} {sig}={str(want).lower()}"))
    if not any(c.expect for c in checks):
        raise _fail(path, "at least one check must expect true (else an answer of all \"false\" passes)")
    if not any((not c.expect) and c.at is not None for c in checks):
        raise _fail(path, "at least one check must expect false at a given update (else an answer "
                    "of all \"true\" could pass)")
    return Intent(id=doc["id"], path=path, type=doc["type"], data=doc["data"],
                  params=dict(doc["params"]), logic=str(doc["logic"]).strip(), tape=events,
                  checks=tuple(checks), order_qty=float(doc.get("order_qty", 1)),
                  tags=tuple(doc.get("tags", ())), step_s=step,
                  reference=dict(doc.get("reference") or {}))


def load_intents(folder: Path = INTENTS_DIR, ids: Sequence[str] | None = None) -> list[Intent]:
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise IntentError(f"{folder}: no intent files (*.yaml)")
    by_id = {p.stem: p for p in paths}
    if ids:
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise IntentError(f"unknown intent(s) {', '.join(missing)} (known: {', '.join(by_id)})")
        paths = [by_id[i] for i in ids]
    return [load_intent(p) for p in paths]


# --------------------------------------------------------------------------------------------
# the spec of an intent


def _instrument(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "venue": "evalvenue", "tick_size": "0.01", "lot_size": "1",
            "quote_currency": "USD"}


def spec_document(intent: Intent) -> dict[str, Any]:
    """A complete spec of the intent's own (risk, gates and data are placeholders the eval does
    not read; only the strategy block and codegen matter to logic → signals)."""
    strategy: dict[str, Any] = {
        "type": intent.type,
        "instruments": [_instrument("EVA"), _instrument("EVB")] if intent.type == "stat_arb"
        else [_instrument("EVA")],
        "params": intent.params,
        "logic": intent.logic,
    }
    if intent.type == "custom":
        strategy["order_qty"] = intent.order_qty
    data = ({"kind": "synthetic", "profile": "bars", "events": 3000, "seed": 7,
             "start": "2024-02-05T14:30:00Z", "start_price": 50, "volatility_annual": 0.3}
            if intent.data == "bars" else
            {"kind": "synthetic", "profile": "l2", "events": 30000, "seed": 7,
             "start": "2024-02-05T14:30:00Z", "start_price": 50, "volatility_annual": 0.3})
    return {
        "apiVersion": "stratforge/v1", "kind": "Strategy",
        "metadata": {"name": f"eval-{intent.id}", "owner": "codegen-eval",
                     "description": "codegen evaluation intent"},
        "strategy": strategy,
        "risk": {"max_order_qty": 50, "max_position": 50, "max_order_notional": 50000,
                 "max_open_orders": 4, "max_orders_per_second": 20, "price_band_bps": 500,
                 "max_loss": 5000, "max_drawdown": 5000},
        "latency": {"callback_p50_ns": 20000, "callback_p99_ns": 200000,
                    "tick_to_order_p99_ns": 400000},
        "backtest": {"data": data, "period": {"out_of_sample_fraction": 0.3},
                     "fees": {"maker_bps": 1.0, "taker_bps": 1.0},
                     "latency": {"model": "constant", "feed_ns": 0, "order_ns": 0},
                     "queue": {"model": "back_of_queue"}, "initial_capital": 20000},
        "gates": {"min_sharpe": 0.3, "max_drawdown_pct": 30, "min_trades": 10,
                  "max_callback_p99_ns": 200000,
                  "shadow": {"min_duration_s": 3600, "min_fills": 5, "max_pnl_deviation_pct": 60,
                             "max_fill_ratio_deviation_pct": 25}},
        "codegen": {"mode": "expressions", "max_repair_rounds": 3, "seed": 0},
    }


def build_spec(intent: Intent) -> StrategySpec:
    raw = yaml.safe_dump(spec_document(intent), sort_keys=False).encode()
    try:
        return load_spec_bytes(raw, f"{intent.path} (as a spec)").spec
    except StratforgeError as err:
        raise _fail(intent.path, f"does not make a valid spec: {err}") from None


# --------------------------------------------------------------------------------------------
# the tape through the reference evaluator


class TapeError(Exception):
    """The signals cannot run on the tape (they read data the intent's market does not carry)."""


def run_tape(signals: Mapping[str, str], params: Mapping[str, Any], intent: Intent
             ) -> list[dict[str, Any]]:
    """Every signal's value at every update (1-based list index + 1), fed as the templates do:
    book and trade events update their own series (``last_size`` is 0 on a book update), bars set
    OHLCV; the position series describe the position at the start of the update (a fill opens it
    at the previous update's time; ``bars_in_position`` counts updates since, this one included)."""
    typed: dict[str, Any] = {}
    for name, text in signals.items():
        typed[name] = compile_expression(text, params, signals=typed)
    carried = set(POSITION_SERIES) | (set(BAR_SERIES) if intent.data == "bars"
                                      else set(BOOK_SERIES) | set(TRADE_SERIES))
    for name, t in typed.items():
        foreign = sorted(s for s in t.series_used if s not in carried)
        if foreign:
            kinds = sorted({str(SERIES[s].kind) for s in foreign})
            raise TapeError(f"signal '{name}' reads {', '.join(foreign)} ({'/'.join(kinds)} data), "
                            f"which a {intent.data} strategy does not have")
    evals = {n: Evaluator(t) for n, t in typed.items()}
    inp: dict[str, float | None] = {s: None for s in carried}
    inp["last_size"] = 0.0
    lots, entry, since, count, now = 0.0, math.nan, 0.0, 0, 0.0
    out: list[dict[str, Any]] = []
    for ev in intent.tape:
        kind = ev["kind"]
        if kind == "fill":
            new = ev["position"]
            if new == 0.0:
                lots, entry, count = 0.0, math.nan, 0
            elif lots == 0.0 or (new > 0) != (lots > 0):
                lots, entry, since, count = new, ev["price"], now, 0
            else:
                if abs(new) > abs(lots):  # adding: volume-weighted average
                    entry = (entry * abs(lots) + ev["price"] * (abs(new) - abs(lots))) / abs(new)
                lots = new
            continue
        now = len(out) * intent.step_s
        if kind == "bar":
            inp.update({k: ev[k] for k in BAR_SERIES})
        elif kind == "book":
            bid, ask, bq, aq = ev["bid"], ev["ask"], ev["bid_size"], ev["ask_size"]
            inp.update(bid=bid, ask=ask, bid_size=bq, ask_size=aq, mid=0.5 * (bid + ask),
                       spread=ask - bid, last_size=0.0)
            den = bq + aq
            inp["microprice"] = math.nan if den == 0.0 else (bid * aq + ask * bq) / den
            for side in ("bid", "ask"):
                sizes = ev["depth"][side]
                for k in range(2, MAX_LEVELS + 1):
                    inp[depth_series(side, k)] = sum(sizes[:k])
        else:
            inp.update(last=ev["last"], last_size=ev["last_size"])
        if lots == 0.0:
            inp.update(position=0.0, entry_price=math.nan, time_in_position=0.0, bars_in_position=0.0)
        else:
            count += 1
            inp.update(position=lots, entry_price=entry, time_in_position=now - since,
                       bars_in_position=float(count))
        vals: dict[str, Any] = {}
        for n, e in evals.items():
            vals[n] = e.update({**inp, **vals})
        out.append(vals)
        if kind == "trade":
            inp["last_size"] = 0.0
    return out


def score(signals: Mapping[str, str], params: Mapping[str, Any], intent: Intent
          ) -> tuple[bool, list[str]]:
    """Whether the signals make every decision the intent's checks name; the failures."""
    try:
        values = run_tape(signals, params, intent)
    except (TapeError, ExpressionError) as err:
        return False, [str(err)]
    failures: list[str] = []
    for c in intent.checks:
        ats = range(1, len(values) + 1) if c.at is None else [c.at]
        for at in ats:
            got = values[at - 1].get(c.signal)
            ok = (got is True) if c.expect else (got is not True)
            if not ok:
                failures.append(f"{c.where}: update {at} gave {json.dumps(got)}")
                break
    return not failures, failures


# --------------------------------------------------------------------------------------------
# one intent through the loop


def _parse_failure(answer: str) -> bool:
    """The answer is not one JSON object, or an expression in it does not parse (syntax, not
    names or types)."""
    try:
        value = extract_json(answer, expected="one JSON object").value
    except ExtractionError:
        return True
    sigs = value.get("signals") if isinstance(value, dict) else None
    if not isinstance(sigs, dict):
        return False  # well-formed JSON of the wrong shape: a checker error, not a parse failure
    for text in sigs.values():
        if isinstance(text, str):
            try:
                parse(text)
            except ExpressionError as err:
                if "unknown" not in str(err).lower():
                    return True
    return False


def loop_kwargs(intent: Intent, grammar: str | None, per_signal: bool = False) -> dict[str, Any]:
    """The data kind, the grammar switch and one-signal-per-request, for logic_to_signals when
    this build takes them."""
    accepted = inspect.signature(logic_to_signals).parameters
    kw: dict[str, Any] = {"data": intent.data} if "data" in accepted else {}
    if per_signal:
        if "per_signal" not in accepted:
            raise SystemExit("codegen_eval: --per-signal needs a logic_to_signals that takes it")
        kw["per_signal"] = True
    if grammar is None:
        return kw
    if "grammar" not in accepted:
        raise SystemExit("codegen_eval: --grammar needs a logic_to_signals with a grammar switch "
                         "(not in this build); leave --grammar out")
    return {**kw, "grammar": grammar == "on"}


def evaluate(intent: Intent, provider: Any, recorder: Recorder, grammar: str | None = None,
             per_signal: bool = False) -> dict[str, Any]:
    spec = build_spec(intent)
    params = spec_params(spec)
    result: LogicTranslation = logic_to_signals(spec, provider, recorder, raise_on_failure=False,
                                                **loop_kwargs(intent, grammar, per_signal))
    exchanges = list(recorder)
    tokens = sum(int(e.data["tokens"]["total"]) for e in exchanges)
    completion = sum(int(e.data["tokens"]["completion"]) for e in exchanges)
    seconds = sum(float(e.data["timing"]["latency_s"]) for e in exchanges)
    correct, failures = (score(result.signals, params, intent) if result.accepted
                         else (False, ["not accepted"]))
    return {
        "id": intent.id, "type": intent.type, "data": intent.data,
        "accepted": result.accepted, "stop_reason": result.stop_reason,
        "rounds": len(result.rounds),
        "parse_failures": sum(1 for r in result.rounds if _parse_failure(r.answer)),
        "correct": bool(result.accepted and correct),
        "failures": failures if result.accepted else [],
        "last_errors": list(result.rounds[-1].errors) if result.rounds else [],
        "tokens": tokens, "completion_tokens": completion, "seconds": round(seconds, 3),
        "signals": dict(result.signals),
    }


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    acc = sum(1 for r in rows if r["accepted"])
    ok = sum(1 for r in rows if r["correct"])
    secs = [r["seconds"] for r in rows]
    comp = sum(r["completion_tokens"] for r in rows)
    return {
        "intents": n, "accepted": acc, "accepted_pct": round(100.0 * acc / n, 1) if n else 0.0,
        "accepted_and_correct": ok, "accepted_and_correct_pct": round(100.0 * ok / n, 1) if n else 0.0,
        "parse_failures": sum(r["parse_failures"] for r in rows),
        "rounds": sum(r["rounds"] for r in rows),
        "median_seconds": round(statistics.median(secs), 1) if secs else 0.0,
        "max_seconds": round(max(secs), 1) if secs else 0.0,
        "tokens": sum(r["tokens"] for r in rows),
        "completion_tokens_per_s": round(comp / sum(secs), 1) if secs and sum(secs) else 0.0,
    }


def markdown(rows: Sequence[Mapping[str, Any]], tot: Mapping[str, Any], title: str) -> str:
    lines = [f"### {title}", "",
             "| intent | type | data | accepted | rounds | correct | parse fail | tokens | s | note |",
             "|---|---|---|---|---:|---|---:|---:|---:|---|"]
    for r in rows:
        note = "" if r["correct"] else (r["failures"][0] if r["failures"] else
                                        (r["stop_reason"] + (": " + r["last_errors"][0] if r["last_errors"] else "")))
        note = note.replace("|", "\\|").replace("\n", " ")
        if len(note) > 110:
            note = note[:107] + "..."
        lines.append(f"| {r['id']} | {r['type']} | {r['data']} | {'yes' if r['accepted'] else 'no'} | "
                     f"{r['rounds']} | {'yes' if r['correct'] else 'no'} | {r['parse_failures']} | "
                     f"{r['tokens']} | {r['seconds']:.1f} | {note} |")
    lines += ["", f"**Totals:** {tot['intents']} intents; accepted {tot['accepted']} "
              f"({tot['accepted_pct']}%); accepted and correct {tot['accepted_and_correct']} "
              f"({tot['accepted_and_correct_pct']}%); answers that failed to parse "
              f"{tot['parse_failures']} of {tot['rounds']} rounds; median {tot['median_seconds']} s "
              f"per intent (max {tot['max_seconds']} s); {tot['tokens']} tokens; "
              f"{tot['completion_tokens_per_s']} completion tokens/s.", ""]
    return "\n".join(lines)


def write_results(out: Path, rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> tuple[str, str]:
    rows = sorted(rows, key=lambda r: r["id"])  # the table's order, whatever order the intents ran in
    tot = totals(rows)
    title = (f"{meta['provider']} / {meta['model']}, grammar {meta['grammar']}"
             + (", one signal per request" if meta.get("per_signal") else ""))
    md = markdown(rows, tot, title)
    js = json.dumps({"format": RESULTS_FORMAT, **meta, "totals": tot, "intents": rows},
                    indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(md, encoding="utf-8")
    (out / "results.json").write_text(js, encoding="utf-8")
    return md, js


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _checkpoint(folder: Path, rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> None:
    run_file = folder / "run.json"
    run = json.loads(run_file.read_text(encoding="utf-8"))
    run["completed"] = [r["id"] for r in rows]
    run_file.write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    write_results(folder, rows, meta)


def _options(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise SystemExit(f"codegen_eval: --option takes key=value, got {p!r}")
        k, v = p.split("=", 1)
        out[k] = v
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--provider", default="local", help="provider name (local, openai, transformers)")
    ap.add_argument("--model", help="model option of the provider (e.g. 0.5b, 1.5b)")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="further provider option (repeatable), e.g. path=/models/x")
    ap.add_argument("--grammar", choices=("on", "off"), help="grammar-constrained decoding")
    ap.add_argument("--per-signal", action="store_true",
                    help="ask for the four role signals one per request")
    ap.add_argument("--intents", help="comma-separated intent ids (default: all)")
    ap.add_argument("--intents-dir", type=Path, default=INTENTS_DIR)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--record", type=Path, metavar="DIR", help="record every exchange under DIR/<intent>/")
    g.add_argument("--replay", type=Path, metavar="DIR", help="answer from the recordings in DIR")
    ap.add_argument("--out", type=Path, help="where results.md/.json go (default: the record/replay DIR)")
    args = ap.parse_args(argv)

    ids = args.intents.split(",") if args.intents else None
    run: dict[str, Any] = {}
    if args.replay:
        try:
            run = json.loads((args.replay / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"codegen_eval: {args.replay} is not a recorded run (run.json: {err})", file=sys.stderr)
            return 2
        ids = ids or run.get("completed") or run.get("intents")
    try:
        intents = load_intents(args.intents_dir, ids)
    except IntentError as err:
        print(f"codegen_eval: {err}", file=sys.stderr)
        return 2
    folder = args.record or args.replay
    meta: dict[str, Any]
    if args.replay:
        meta = {k: run[k] for k in ("provider", "model", "grammar")}
        if run.get("per_signal"):
            meta["per_signal"] = True
    else:
        opts = _options(args.option)
        if args.model:
            opts["model"] = args.model
        provider = get_provider(args.provider, **opts)
        meta = {"provider": provider.identity, "model": provider.model or "",
                "grammar": args.grammar or "default"}
        if args.per_signal:
            meta["per_signal"] = True
        if args.record:
            busy = [i.id for i in intents if (args.record / i.id).is_dir() and any((args.record / i.id).iterdir())]
            if busy:
                print(f"codegen_eval: {args.record} already holds recordings for {', '.join(busy)}; "
                      f"record into an empty folder", file=sys.stderr)
                return 2
            args.record.mkdir(parents=True, exist_ok=True)
            (args.record / "run.json").write_text(json.dumps(
                {**meta, "intents": [i.id for i in intents], "machine": machine()},
                indent=2, sort_keys=True) + "\n")
    rows = []
    if not args.replay:  # intents of one data kind and type in a row share the prompt's prefix:
        intents = sorted(intents, key=lambda i: (i.data, i.type, i.id))  # the model's KV cache keeps it
    for intent in intents:
        if args.replay:
            provider = get_provider("replay", path=str(args.replay / intent.id))
        recorder = Recorder(folder / intent.id if folder and args.record else None)
        t0 = time.perf_counter()
        row = evaluate(intent, provider, recorder, None if meta["grammar"] == "default" else meta["grammar"],
                       bool(meta.get("per_signal")))
        rows.append(row)
        if args.record:  # a run stopped early is still a consistent, replayable run
            _checkpoint(args.record, rows, meta)
        print(f"{intent.id}: accepted={row['accepted']} rounds={row['rounds']} correct={row['correct']} "
              f"{row['seconds']:.1f}s (wall {time.perf_counter() - t0:.1f}s)", file=sys.stderr, flush=True)
    if args.record:
        run_file = args.record / "run.json"
        run = json.loads(run_file.read_text(encoding="utf-8"))
        run["machine_at_end"] = machine()
        run_file.write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    out = args.out or folder
    if out is None:
        print(markdown(rows, totals(rows), f"{meta['provider']} / {meta['model']}, grammar {meta['grammar']}"))
        return 0
    md, _ = write_results(out, rows, meta)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
