"""Versioned prompt templates, untrusted-text quoting, and the logic → signal-expressions loop.

Templates are package data (``templates/prompts/*.j2``, the package ``stratforge.templates``, beside
the code templates) rendered with Jinja2's ``StrictUndefined``;
each has an id, a version and the SHA-256 of its text (:func:`prompt_manifest`) for the bundle
manifest. A template's text never changes without its version being bumped (a test pins the
hashes).

A spec's free text is untrusted. :func:`quote_untrusted` places it between two marker lines that
carry a tag derived from the text's hash, after neutralising anything inside it that could pass for
a marker (``<<<``/``>>>`` runs and the tag itself) and stripping control and bidi characters. The
system prompt says the block is data, not instructions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import jinja2
import yaml

from stratforge.core.errors import GeneratedCodeError, UserInputError

from stratforge.core.expr import (FUNCTIONS, KEYWORDS, MAX_WINDOW, SERIES, ArgKind, DataKind,
                                  ExpressionError, Type, compile_expression)
from stratforge.core.spec.datakind import declared_data_kind
from stratforge.core.spec.signals import spec_params

from .base import LLMRequest, Provider
from .extract import ExtractionError, extract_json
from .grammar import Grammar, data_kinds_for, signals_grammar
from .record import Recorder, call
from .terms import declared_side, term_hints
from .units import units_problems

if TYPE_CHECKING:
    from stratforge.core.spec.models import StrategySpec

__all__ = [
    "PROMPTS",
    "ROLE_SIGNALS",
    "SIGNALS_SCHEMA",
    "EXAMPLES",
    "CodeRegion",
    "LogicTranslation",
    "SignalRound",
    "SignalsRejected",
    "check_signals_answer",
    "code_region_messages",
    "code_repair_messages",
    "examples_for",
    "logic_to_signals",
    "prompt_manifest",
    "quote_untrusted",
    "render",
    "signals_messages",
    "signals_repair_messages",
    "WorkedExample",
]

ROLE_SIGNALS = ("entry_long", "exit_long", "entry_short", "exit_short")
MAX_SIGNALS = 32
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: prompt id -> (template file, version). Bump the version whenever a template's text changes.
PROMPTS: dict[str, tuple[str, int]] = {
    "signals.system": ("signals_system.j2", 2),
    "signals.user": ("signals_user.j2", 4),
    "signals.repair": ("signals_repair.j2", 2),
    "signals.vocabulary": ("signals_vocabulary.yaml", 1),
    "code.system": ("code_system.j2", 1),
    "code.user": ("code_user.j2", 2),
    "code.repair": ("code_repair.j2", 1),
}

#: JSON Schema of a signals answer (sent as the request's response_format).
SIGNALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"signals": {"type": "object", "additionalProperties": {"type": "string"}}},
    "required": ["signals"],
    "additionalProperties": False,
}

@dataclass(frozen=True)
class WorkedExample:
    """A short worked example for the signals prompt: params, description, answer (no helper
    signals, so it is valid with the grammar on and off)."""

    key: str
    data: str  # "bars" or "book"
    params: Mapping[str, int | float | bool]
    logic: str
    signals: Mapping[str, str]

    def answer(self, roles: Sequence[str] = ROLE_SIGNALS) -> str:
        return json.dumps({"signals": {r: self.signals[r] for r in roles}})

    def render_vars(self, roles: Sequence[str] = ROLE_SIGNALS) -> dict[str, str]:
        return {"params": ", ".join(f"{k} = {_fmt(v)}" for k, v in self.params.items()),
                "logic": self.logic, "answer": self.answer(roles)}


@lru_cache(maxsize=None)
def _vocabulary_doc() -> dict[str, Any]:
    """The signals prompt's vocabulary: gloss, phrase book, worked examples (a versioned template)."""
    return yaml.safe_load(_template_text("signals.vocabulary"))


def _load_examples() -> tuple[WorkedExample, ...]:
    return tuple(WorkedExample(e["key"], e["data"], dict(e["params"]), e["logic"], dict(e["signals"]))
                 for e in _vocabulary_doc()["examples"])


def examples_for(data: str | None, strategy_type: str | None = None) -> list[WorkedExample]:
    """The two worked examples for a strategy on ``data`` (``bars``/``book``; ``None``: book),
    the one closest to ``strategy_type`` first."""
    kind = data or "book"
    pool = [e for e in EXAMPLES if e.data == kind]
    first = _vocabulary_doc()["first_example"].get(strategy_type or "", ())
    pool.sort(key=lambda e: 0 if e.key in first else 1)
    return pool[:2]


# --------------------------------------------------------------------------------------------
# templates


@lru_cache(maxsize=None)
def _template_text(prompt_id: str) -> str:
    try:
        filename, _ = PROMPTS[prompt_id]
    except KeyError:
        raise UserInputError(f"unknown prompt id '{prompt_id}' (known: {', '.join(PROMPTS)})") from None
    return (resources.files(_TEMPLATES) / "prompts" / filename).read_text(encoding="utf-8")


_TEMPLATES = "stratforge.templates"
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=False, trim_blocks=False)


def render(prompt_id: str, **variables: Any) -> str:
    """Render one prompt; a missing variable is an error (StrictUndefined)."""
    return _ENV.from_string(_template_text(prompt_id)).render(**variables).strip() + "\n"


def prompt_manifest() -> dict[str, dict[str, Any]]:
    """``{prompt id: {"version", "sha256"}}`` for the bundle manifest."""
    return {pid: {"version": ver, "sha256": hashlib.sha256(_template_text(pid).encode()).hexdigest()}
            for pid, (_, ver) in sorted(PROMPTS.items())}


#: The worked examples (templates/prompts/signals_vocabulary.yaml); two per prompt (:func:`examples_for`).
EXAMPLES: tuple[WorkedExample, ...] = _load_examples()


# --------------------------------------------------------------------------------------------
# untrusted text


@dataclass(frozen=True)
class DataBlock:
    tag: str
    begin: str
    end: str
    text: str  # the neutralised text as quoted
    block: str  # begin + text + end


def _neutralise(text: str, tag: str) -> str:
    out = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        cat = unicodedata.category(ch)
        if ch in "\n\t" or not (cat.startswith("C")):
            out.append(ch)
        elif cat == "Cf" or cat == "Cc":
            continue  # control and format (bidi, zero-width) characters are dropped
        else:
            out.append(ch)
    cleaned = "".join(out)
    cleaned = re.sub(re.escape(tag), "[marker removed]", cleaned, flags=re.I)
    cleaned = re.sub(r"UNTRUSTED-[0-9A-Fa-f]{12}", "[marker removed]", cleaned)
    cleaned = re.sub(r"<{3,}", lambda m: "‹" * len(m.group(0)), cleaned)
    cleaned = re.sub(r">{3,}", lambda m: "›" * len(m.group(0)), cleaned)
    return cleaned.strip("\n")


def quote_untrusted(text: str, label: str = "STRATEGY DESCRIPTION") -> DataBlock:
    """Quote untrusted ``text`` as data between deterministic marker lines."""
    tag = "UNTRUSTED-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12].upper()
    begin = f"<<<{tag} BEGIN {label}>>>"
    end = f"<<<{tag} END {label}>>>"
    body = _neutralise(text, tag)
    return DataBlock(tag, begin, end, body, f"{begin}\n{body}\n{end}")


# --------------------------------------------------------------------------------------------
# (a) logic -> signal expressions


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


_DATA_LABEL = {"bars": "bar data (one update per bar)", "book": "order-book and trade data "
               "(one update per book change or trade)", None: "market data"}
_UPDATE_UNIT = {"bars": "bars", "book": "book/trade updates", None: "updates"}
_ABSENT = {"bars": ("order book or trade data", DataKind.BOOK, DataKind.TRADE),
           "book": ("bar data", DataKind.BAR)}


def _phrases(data: str | None) -> list[tuple[str, str]]:
    """The phrase book for ``data`` (``None``: both kinds'): (what a description says, what to write)."""
    book = _vocabulary_doc()["phrases"]
    rows = book["common"] + (book[data] if data else book["bars"] + book["book"])
    return [(said, write) for said, write in rows]


@dataclass(frozen=True)
class _PromptSeries:
    name: str
    description: str


def _prompt_series(series: Sequence[Any]) -> list[_PromptSeries]:
    """The series as the prompt lists them: numbered depth series (bid_depth2..10) as one line."""
    out: list[_PromptSeries] = []
    depth = sorted({int(m.group(1)) for s in series if (m := re.search(r"_depth(\d+)$", s.name))})
    for s in series:
        if not re.search(r"_depth\d+$", s.name):
            out.append(_PromptSeries(s.name, s.description))
    if depth:
        out.append(_PromptSeries(f"bid_depthK, ask_depthK (K = {depth[0]}..{depth[-1]})",
                                 "total size of the best K bid / ask levels"))
    return out


@dataclass(frozen=True)
class _PromptFunction:
    signature: str
    gloss: str


def _vocabulary(data: str | None = None) -> dict[str, Any]:
    """Series, functions and phrases a strategy on ``data`` can use (only its data kind's)."""
    kinds = data_kinds_for(data)
    series = [s for s in SERIES.values() if kinds is None or s.kind in kinds]
    names = {s.name for s in series}
    gloss = _vocabulary_doc()["gloss"]
    functions = [_PromptFunction(f.signature, gloss.get(f.name, f.description))
                 for f in FUNCTIONS.values()
                 if all(n in names for n in f.implicit_series)
                 and (kinds is None or DataKind.BOOK in kinds
                      or not any(k is ArgKind.LEVELS for _, k in f.args))]
    absent = _ABSENT.get(data or "")
    absent_names = ([n for n, s in SERIES.items() if s.kind in absent[1:] and not n[-1].isdigit()]
                    if absent else [])
    return {"series": _prompt_series(series), "functions": functions, "max_window": MAX_WINDOW,
            "data_label": _DATA_LABEL[data], "update_unit": _UPDATE_UNIT[data],
            "absent": absent[0] if absent else "", "absent_names": absent_names,
            "phrases": _phrases(data)}


def _param_kind(value: int | float | bool) -> str:
    return "bool" if isinstance(value, bool) else "integer" if isinstance(value, int) else "number"


#: what each role signal decides (the one-signal-per-request prompt names it)
ROLE_MEANING = {"entry_long": "true when the strategy should open a long position (buy)",
                "exit_long": "true when an open long position should be closed (sell it)",
                "entry_short": "true when the strategy should open a short position (sell short)",
                "exit_short": "true when an open short position should be closed (buy it back)"}


def signals_messages(logic: str, params: Mapping[str, int | float | bool], *, data: str | None = None,
                     grammar: bool = False, strategy_type: str | None = None,
                     roles: Sequence[str] = ROLE_SIGNALS, notes: Sequence[str] = ()) -> list[dict[str, str]]:
    """The system and user messages asking for signal expressions for ``logic`` on ``data``
    (``bars``/``book``; ``None``: every series), with the grammar's answer rules when ``grammar``;
    ``roles`` = one role asks for that signal alone; ``notes``: points of the description an
    earlier answer missed (:func:`~.terms.term_hints`), listed after it."""
    block = quote_untrusted(logic)
    roles = tuple(roles)
    system = render("signals.system", begin=block.begin, end=block.end)
    user = render("signals.user", **_vocabulary(data), roles=ROLE_SIGNALS, grammar=grammar,
                  ask_roles=roles, role_meaning=ROLE_MEANING.get(roles[0], "") if len(roles) == 1 else "",
                  params=[(k, _fmt(v), _param_kind(v)) for k, v in params.items()],
                  examples=[e.render_vars() for e in examples_for(data, strategy_type)],
                  data_block=block.block, notes=list(notes))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def signals_repair_messages(base: Sequence[Mapping[str, str]], answer: str,
                            errors: Sequence[str], roles: Sequence[str] = ROLE_SIGNALS
                            ) -> list[dict[str, str]]:
    """``base`` + the rejected answer + a message quoting the precise errors."""
    return [dict(m) for m in base] + [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": render("signals.repair", errors=list(errors), roles=list(roles))},
    ]


def _data_hint(data: str | None) -> str:
    kinds = data_kinds_for(data)
    if kinds is None:
        return ""
    names = [n for n, s in SERIES.items() if s.kind in kinds and not n[-1].isdigit()]
    return f" (this strategy's {data} data has: {', '.join(names)})"


def check_signals_answer(value: Any, params: Mapping[str, int | float | bool],
                         data: str | None = None, roles: Sequence[str] = ROLE_SIGNALS,
                         helpers: bool = True) -> tuple[dict[str, str], list[str]]:
    """Compile every expression of a ``{"signals": {...}}`` answer in order.

    Returns the signals in canonical form and the list of errors (empty when accepted). Each
    error names the signal, quotes the expression and gives the column. ``data`` (``bars``/
    ``book``) refuses a series the strategy's data does not carry, naming the series it has.
    ``roles`` are the condition signals the answer must define (one when the signals are asked
    one per request); ``helpers=False`` refuses any other key.
    """
    kinds = data_kinds_for(data)
    errors: list[str] = []
    if not isinstance(value, dict):
        return {}, ['the answer must be a JSON object {"signals": {...}}']
    extra = [k for k in value if k != "signals"]
    if extra:
        errors.append(f"top-level key(s) {', '.join(repr(k) for k in extra)} are not allowed: "
                      f"put every condition inside \"signals\"")
    signals = value.get("signals")
    if not isinstance(signals, dict):
        errors.append('missing "signals": answer {"signals": {"name": "expression", ...}}')
        return {}, errors
    if len(signals) > MAX_SIGNALS:
        errors.append(f"too many signals ({len(signals)}); at most {MAX_SIGNALS}")
    known: dict[str, Any] = {}
    out: dict[str, str] = {}
    for name, text in signals.items():
        where = f"signal '{name}'"
        if not isinstance(name, str) or not _IDENT.match(name):
            errors.append(f"{where}: a name must be letters, digits and _, starting with a letter")
            continue
        taken = ("a keyword" if name in KEYWORDS else "a series" if name in SERIES else
                 "a function" if name in FUNCTIONS else "a parameter" if name in params else None)
        if taken:
            errors.append(f"{where}: '{name}' is {taken}; choose another name")
            continue
        if not isinstance(text, str):
            errors.append(f"{where}: the expression must be a JSON string, was {json.dumps(text)}")
            continue
        if not helpers and name not in roles:
            errors.append(f"{where}: answer only {', '.join(roles)}; write the condition in full "
                          f"without helper signals")
            continue
        expect = Type.BOOL if name in ROLE_SIGNALS else None
        try:
            typed = compile_expression(text, params, signals=known, expect=expect, data=kinds)
        except ExpressionError as err:
            hint = _data_hint(data) if "data, but this strategy's data is" in str(err) else ""
            errors.append(f"{where} = {json.dumps(text)}: {err}{hint}")
            continue
        known[name] = typed
        out[name] = typed.to_source()
        errors.extend(f"{where} = {json.dumps(text)}: units: {p}" for p in units_problems(text, params))
    missing = [r for r in roles if r not in signals]
    if missing:
        errors.append(f"missing condition signal(s): {', '.join(missing)} (write \"false\" for a "
                      f"side that is never traded)")
    return out, errors


@dataclass(frozen=True)
class SignalRound:
    """One ask → extract → check round of :func:`logic_to_signals`."""

    round: int
    request_hash: str
    answer: str
    errors: tuple[str, ...]
    truncated: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    roles: tuple[str, ...] = ROLE_SIGNALS  # the signals this round asked for
    hints: tuple[str, ...] = ()  # words of the description the answer ignores (terms.py): never a rejection

    @property
    def accepted(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class LogicTranslation:
    """The outcome of :func:`logic_to_signals`: accepted signals (canonical source, in order)
    or none, every round, and why it stopped ("accepted", "max_rounds", "repeated_error")."""

    signals: dict[str, str]
    rounds: tuple[SignalRound, ...]
    stop_reason: str
    provider: str
    model: str
    prompts: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: str | None = None
    grammar_sha256: str | None = None  # the grammar the requests carried; None when off
    grammar_enforced: bool = False  # whether the provider decoded under it
    side: str | None = None  # "long"/"short": the description trades only that side (terms.declared_side)

    @property
    def accepted(self) -> bool:
        return self.stop_reason == "accepted"

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.rounds)

    @property
    def seconds(self) -> float:
        return round(sum(r.seconds for r in self.rounds), 6)

    @property
    def tokens_per_s(self) -> float | None:
        return round(self.completion_tokens / self.seconds, 2) if self.seconds > 0 else None

    def manifest(self) -> dict[str, Any]:
        """What the build manifest records about this translation."""
        return {"provider": self.provider, "model": self.model, "rounds": len(self.rounds),
                "stop_reason": self.stop_reason, "signals": self.signals, "prompts": self.prompts,
                "prompt_version": self.prompts.get("signals.user", {}).get("version"),
                "data": self.data,
                "grammar": {"on": self.grammar_sha256 is not None, "sha256": self.grammar_sha256,
                            "enforced": self.grammar_enforced},
                "side": self.side,
                "tokens": {"prompt": sum(r.prompt_tokens for r in self.rounds),
                           "completion": self.completion_tokens},
                "seconds": self.seconds, "tokens_per_s": self.tokens_per_s,
                "per_signal": any(r.roles != ROLE_SIGNALS for r in self.rounds),
                "hints": self.hints}

    @property
    def hints(self) -> list[str]:
        """The hints the accepted answer kept (the last round of each request's rounds)."""
        last = [r for i, r in enumerate(self.rounds)
                if i + 1 == len(self.rounds) or self.rounds[i + 1].roles != r.roles]
        return [h for r in last if not r.errors for h in r.hints] if self.accepted else []

    def report(self) -> str:
        lines = [f"logic → signals with {self.provider}/{self.model}: {self.stop_reason} after "
                 f"{len(self.rounds)} round(s)"]
        for r in self.rounds:
            status = (f"{len(r.errors)} error(s)" if r.errors else
                      f"valid, {len(r.hints)} hint(s)" if r.hints else "accepted")
            asked = "" if r.roles == ROLE_SIGNALS else f" ({', '.join(r.roles)})"
            lines.append(f"  round {r.round}{asked} [{r.request_hash[:12]}]: {status}")
            lines.extend(f"    - {e}" for e in r.errors)
            lines.extend(f"    - hint: {h}" for h in r.hints)
        return "\n".join(lines)


class SignalsRejected(GeneratedCodeError):
    """No acceptable signals within the round limit; ``translation`` holds every round."""

    def __init__(self, translation: LogicTranslation) -> None:
        self.translation = translation
        super().__init__(translation.report())


def logic_to_signals(spec: "StrategySpec", provider: Provider, recorder: Recorder | None = None,
                     max_rounds: int | None = None, *, max_tokens: int = 768,
                     raise_on_failure: bool = True, data: str | None = None,
                     grammar: bool | None = None, per_signal: bool = False) -> LogicTranslation:
    """Ask ``provider`` to express ``spec.strategy.logic`` as signal expressions.

    Each round: ask → extract JSON → compile every expression with the spec's params and data
    kind (role signals must be conditions; a series the data lacks is an error). On errors the
    next round quotes them back. Stops when accepted, after ``max_rounds`` model calls (default
    ``1 + spec.codegen.max_repair_rounds``), or early when a round repeats the previous round's
    errors exactly. Raises :class:`SignalsRejected` on failure unless ``raise_on_failure`` is
    false. Every call is recorded by ``recorder``.

    ``data`` is the strategy's data kind (``bars``/``book``) when the caller decided it (the build
    does); else the spec's declared kind, else any. ``grammar`` constrains decoding with
    :func:`~.grammar.signals_grammar` (default: the provider's ``grammar_default``; the local
    model has it on). ``per_signal`` asks for the four role signals one per request (each with
    its own rounds; a small model then has one condition to get right at a time).

    When the description restricts the strategy to one side in so many words ("Long only.",
    "never go long": :func:`~.terms.declared_side`), the grammar admits only ``"false"`` for the
    other side's two roles (a small model otherwise writes a short-only strategy's conditions in
    the long roles and keeps them there after a hint); without the grammar that is a hint.
    """
    logic = spec.strategy.logic
    if not logic or not logic.strip():
        raise UserInputError(f"spec '{spec.metadata.name}' has no strategy.logic to translate")
    rounds_allowed = 1 + spec.codegen.max_repair_rounds if max_rounds is None else int(max_rounds)
    if rounds_allowed < 1:
        raise UserInputError(f"max_rounds must be >= 1, was {rounds_allowed}")
    params = spec_params(spec)
    kind = data if data is not None else declared_data_kind(spec)
    use_grammar = provider.grammar_default if grammar is None else bool(grammar)
    model = spec.codegen.model or provider.model
    strategy_type = spec.strategy.type.value
    rounds: list[SignalRound] = []
    accepted: dict[str, str] = {}
    reason = "accepted"
    gram: Grammar | None = None
    side = declared_side(logic)
    off = tuple(r for r in ROLE_SIGNALS if side and use_grammar and not r.endswith("_" + side))
    for ask in ([(r,) for r in ROLE_SIGNALS] if per_signal else [tuple(ROLE_SIGNALS)]):
        if per_signal and ask[0] in off:  # a role the grammar admits only "false" for: nothing to ask
            accepted[ask[0]] = "false"
            continue
        gram = signals_grammar(params, kind, ask, off) if use_grammar else None
        request_params: dict[str, Any] = {"response_format": SIGNALS_SCHEMA}
        if gram is not None:
            request_params["grammar"] = gram.gbnf()
            if provider.grammar_form == "json_schema":
                request_params["response_format"] = gram.json_schema()
        base = functools.partial(signals_messages, logic, params, data=kind, grammar=gram is not None,
                                 strategy_type=strategy_type, roles=ask)
        got, reason = _signal_rounds(provider, recorder, logic, base, ask, rounds, rounds_allowed,
                                     model=model, seed=spec.codegen.seed, max_tokens=max_tokens,
                                     request_params=request_params, params=params, kind=kind,
                                     helpers=not per_signal)
        if reason != "accepted":
            accepted = {}
            break
        accepted.update(got)
    if per_signal and use_grammar:  # the manifest names one grammar: the four roles' one
        gram = signals_grammar(params, kind, ROLE_SIGNALS, off)
    if per_signal and accepted:  # in role order, whichever were asked
        accepted = {r: accepted[r] for r in ROLE_SIGNALS}
    result = LogicTranslation(accepted, tuple(rounds), reason, provider.identity, model or "",
                              prompt_manifest(), kind, gram.sha256 if gram is not None else None,
                              gram is not None and provider.grammar_form is not None, side)
    if not result.accepted and raise_on_failure:
        raise SignalsRejected(result)
    return result


def _signal_rounds(provider: Provider, recorder: Recorder | None, logic: str,
                   base: Callable[..., list[dict[str, str]]],
                   roles: tuple[str, ...], rounds: list[SignalRound], rounds_allowed: int, *,
                   model: str | None, seed: int, max_tokens: int, request_params: dict[str, Any],
                   params: Mapping[str, int | float | bool], kind: str | None,
                   helpers: bool) -> tuple[dict[str, str], str]:
    """Ask → extract → check → repair for ``roles``, appending to ``rounds``; (signals, reason).

    ``base(notes=...)`` makes the request's messages. An answer with errors goes back to the
    model with them (a repair conversation). A valid answer that ignores words of the description
    (:func:`~.terms.term_hints`) buys one more round, asked afresh with the hints as notes under
    the description: shown its own answer, the 1.5B repeated it word for word whenever a hint
    asked to add a condition or move one to another role (the recorded runs of prompt v3); a
    valid answer is then accepted, hints or not. An answer repeating the previous round's errors
    is asked afresh once with the errors as notes; a second repeat stops ("repeated_error")."""
    asked = base()
    messages = asked
    mine: list[SignalRound] = []
    hinted = reasked = False
    for n in range(1, rounds_allowed + 1):
        request = provider.request(messages, model=model, temperature=0.0, seed=seed,
                                   max_tokens=max_tokens, **request_params)
        response = call(provider, request, recorder)
        truncated = response.truncated
        try:
            extracted = extract_json(response.text, expected='one JSON object {"signals": {...}}')
            truncated = truncated or extracted.truncated
            signals, errors = check_signals_answer(extracted.value, params, kind, roles, helpers)
        except ExtractionError as err:
            signals, errors = {}, [str(err)]
            truncated = truncated or err.truncated
        if truncated and errors:
            errors.append("your answer was cut off: answer with a shorter, complete JSON object")
        # the words are about the whole strategy: one role alone cannot be held to them
        hints = [] if errors or len(roles) == 1 else term_hints(logic, signals, params)
        mine.append(SignalRound(n, request.request_hash(), response.text, tuple(errors), truncated,
                                response.prompt_tokens, response.completion_tokens,
                                float(response.latency_s), roles, tuple(hints)))
        rounds.append(mine[-1])
        if not errors and (not hints or hinted or n == rounds_allowed):
            return signals, "accepted"
        if errors and len(mine) >= 2 and mine[-2].errors == tuple(errors):
            if reasked:
                return {}, "repeated_error"
            # the repair conversation did not move it: ask afresh, the errors as notes
            reasked = True
            asked = messages = base(notes=errors)
        elif errors:
            messages = signals_repair_messages(asked, response.text, errors, roles)
        else:
            hinted = True
            asked = messages = base(notes=hints)
    return {}, "max_rounds"


# --------------------------------------------------------------------------------------------
# (b) marked code regions


_LANG = {"cpp": ("C++20", "cpp"), "python": ("Python 3.11", "python")}

BASE_CONSTRAINTS = {
    "cpp": (
        "Write only the function body: no #include, no new functions, no globals, no static locals.",
        "No heap allocation (new, malloc, std::vector growth, std::string), no exceptions (throw, try), "
        "no locks, threads, atomics, syscalls, I/O or clocks.",
        "Every loop must have a fixed upper bound; no recursion.",
        "Read inputs only through the parameters shown; write state only through `state`.",
        "Prices and quantities are integer ticks and lots (int64_t); use double only for signals.",
    ),
    "python": (
        "Write only the function body: no imports, no new top-level definitions, no globals.",
        "No I/O, no clocks, no randomness, no eval/exec, no attribute access beginning with _.",
        "Mirror the C++ region exactly: same operations in the same order, so both agree.",
        "Read inputs only through the parameters shown; write state only through `state`.",
    ),
}


@dataclass(frozen=True)
class CodeRegion:
    """A marked region the model fills: exact signature, the types in scope, extra constraints and
    one worked example (a different task, with its answer)."""

    name: str
    language: str
    signature: str
    context: str
    example_task: str
    example_answer: str
    constraints: tuple[str, ...] = ()
    param_prefix: str = "params."  # how region code reads a parameter, e.g. "p_." or "self.p."

    def __post_init__(self) -> None:
        if self.language not in _LANG:
            raise ValueError(f"Condition failed: region language must be cpp or python, was {self.language!r}")


def code_region_messages(logic: str, region: CodeRegion,
                         params: Mapping[str, int | float | bool]) -> list[dict[str, str]]:
    """System and user messages asking for the body of ``region`` implementing ``logic``."""
    data = quote_untrusted(logic)
    language_name, tag = _LANG[region.language]
    system = render("code.system", language_name=language_name, fence_tag=tag, begin=data.begin,
                    end=data.end)
    user = render("code.user", region=region, language_name=language_name, fence_tag=tag,
                  constraints=[*BASE_CONSTRAINTS[region.language], *region.constraints],
                  params=[(region.param_prefix + k, _fmt(v)) for k, v in params.items()],
                  data_block=data.block)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def code_repair_messages(base: Sequence[Mapping[str, str]], answer: str, region: CodeRegion,
                         errors: Sequence[str]) -> list[dict[str, str]]:
    """``base`` + the rejected answer + the precise errors (compiler, static check, tests)."""
    language_name, tag = _LANG[region.language]
    return [dict(m) for m in base] + [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": render("code.repair", language_name=language_name,
                                           fence_tag=tag, region_name=region.name,
                                           errors=list(errors))},
    ]


def build_request(provider: Provider, messages: Sequence[Mapping[str, str]], *, model: str | None,
                  seed: int, max_tokens: int = 1024) -> LLMRequest:
    """A deterministic request (temperature 0, the spec's seed) for a code region."""
    return provider.request(messages, model=model, temperature=0.0, seed=seed, max_tokens=max_tokens)
