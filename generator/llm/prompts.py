"""Versioned prompt templates, untrusted-text quoting, and the logic → signal-expressions loop.

Templates are package data (``prompt_templates/*.j2``) rendered with Jinja2's ``StrictUndefined``;
each has an id, a version and the SHA-256 of its text (:func:`prompt_manifest`) for the bundle
manifest. A template's text never changes without its version being bumped (a test pins the
hashes).

A spec's free text is untrusted. :func:`quote_untrusted` places it between two marker lines that
carry a tag derived from the text's hash, after neutralising anything inside it that could pass for
a marker (``<<<``/``>>>`` runs and the tag itself) and stripping control and bidi characters. The
system prompt says the block is data, not instructions.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import jinja2

from stratforge.core.errors import GeneratedCodeError, UserInputError

from stratforge.core.expr import (FUNCTIONS, KEYWORDS, MAX_WINDOW, SERIES, ExpressionError, Type,
                                  compile_expression)
from stratforge.core.spec.signals import spec_params

from .base import LLMRequest, Provider
from .extract import ExtractionError, extract_json
from .record import Recorder, call

if TYPE_CHECKING:
    from stratforge.core.spec.models import StrategySpec

__all__ = [
    "PROMPTS",
    "ROLE_SIGNALS",
    "SIGNALS_SCHEMA",
    "CodeRegion",
    "LogicTranslation",
    "SignalRound",
    "SignalsRejected",
    "check_signals_answer",
    "code_region_messages",
    "code_repair_messages",
    "logic_to_signals",
    "prompt_manifest",
    "quote_untrusted",
    "render",
    "signals_messages",
    "signals_repair_messages",
]

ROLE_SIGNALS = ("entry_long", "exit_long", "entry_short", "exit_short")
MAX_SIGNALS = 32
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: prompt id -> (template file, version). Bump the version whenever a template's text changes.
PROMPTS: dict[str, tuple[str, int]] = {
    "signals.system": ("signals_system.j2", 1),
    "signals.user": ("signals_user.j2", 1),
    "signals.repair": ("signals_repair.j2", 1),
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

EXAMPLE_LOGIC = ("Buy when the fast EMA of the mid crosses above the slow EMA while the spread is at "
                 "most max_spread; close the long when the fast EMA crosses back below the slow "
                 "one. Never sell short.")
EXAMPLE_ANSWER = {"signals": {
    "fast_ema": "ema(mid, fast)",
    "slow_ema": "ema(mid, slow)",
    "entry_long": "cross_above(fast_ema, slow_ema) and spread <= max_spread",
    "exit_long": "cross_below(fast_ema, slow_ema)",
    "entry_short": "false",
    "exit_short": "false",
}}
EXAMPLE_PARAMS = {"fast": 10, "slow": 30, "max_spread": 0.02}


# --------------------------------------------------------------------------------------------
# templates


@lru_cache(maxsize=None)
def _template_text(prompt_id: str) -> str:
    try:
        filename, _ = PROMPTS[prompt_id]
    except KeyError:
        raise UserInputError(f"unknown prompt id '{prompt_id}' (known: {', '.join(PROMPTS)})") from None
    return (resources.files(__package__) / "prompt_templates" / filename).read_text(encoding="utf-8")


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=False, trim_blocks=False)


def render(prompt_id: str, **variables: Any) -> str:
    """Render one prompt; a missing variable is an error (StrictUndefined)."""
    return _ENV.from_string(_template_text(prompt_id)).render(**variables).strip() + "\n"


def prompt_manifest() -> dict[str, dict[str, Any]]:
    """``{prompt id: {"version", "sha256"}}`` for the bundle manifest."""
    return {pid: {"version": ver, "sha256": hashlib.sha256(_template_text(pid).encode()).hexdigest()}
            for pid, (_, ver) in sorted(PROMPTS.items())}


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


def _vocabulary() -> dict[str, Any]:
    return {"series": list(SERIES.values()), "functions": list(FUNCTIONS.values()),
            "max_window": MAX_WINDOW}


def signals_messages(logic: str, params: Mapping[str, int | float | bool]) -> list[dict[str, str]]:
    """The system and user messages asking for signal expressions for ``logic``."""
    data = quote_untrusted(logic)
    system = render("signals.system", begin=data.begin, end=data.end)
    user = render("signals.user", **_vocabulary(), roles=ROLE_SIGNALS,
                  params=[(k, _fmt(v)) for k, v in params.items()],
                  example_logic=EXAMPLE_LOGIC, example_answer=json.dumps(EXAMPLE_ANSWER, indent=2),
                  data_block=data.block)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def signals_repair_messages(base: Sequence[Mapping[str, str]], answer: str,
                            errors: Sequence[str]) -> list[dict[str, str]]:
    """``base`` + the rejected answer + a message quoting the precise errors."""
    return [dict(m) for m in base] + [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": render("signals.repair", errors=list(errors), roles=ROLE_SIGNALS)},
    ]


def check_signals_answer(value: Any, params: Mapping[str, int | float | bool]
                         ) -> tuple[dict[str, str], list[str]]:
    """Compile every expression of a ``{"signals": {...}}`` answer in order.

    Returns the signals in canonical form and the list of errors (empty when accepted). Each
    error names the signal, quotes the expression and gives the column.
    """
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
        expect = Type.BOOL if name in ROLE_SIGNALS else None
        try:
            typed = compile_expression(text, params, signals=known, expect=expect)
        except ExpressionError as err:
            errors.append(f"{where} = {json.dumps(text)}: {err}")
            continue
        known[name] = typed
        out[name] = typed.to_source()
    missing = [r for r in ROLE_SIGNALS if r not in signals]
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

    @property
    def accepted(self) -> bool:
        return self.stop_reason == "accepted"

    def report(self) -> str:
        lines = [f"logic → signals with {self.provider}/{self.model}: {self.stop_reason} after "
                 f"{len(self.rounds)} round(s)"]
        for r in self.rounds:
            status = "accepted" if r.accepted else f"{len(r.errors)} error(s)"
            lines.append(f"  round {r.round} [{r.request_hash[:12]}]: {status}")
            lines.extend(f"    - {e}" for e in r.errors)
        return "\n".join(lines)


class SignalsRejected(GeneratedCodeError):
    """No acceptable signals within the round limit; ``translation`` holds every round."""

    def __init__(self, translation: LogicTranslation) -> None:
        self.translation = translation
        super().__init__(translation.report())


def logic_to_signals(spec: "StrategySpec", provider: Provider, recorder: Recorder | None = None,
                     max_rounds: int | None = None, *, max_tokens: int = 768,
                     raise_on_failure: bool = True) -> LogicTranslation:
    """Ask ``provider`` to express ``spec.strategy.logic`` as signal expressions.

    Each round: ask → extract JSON → compile every expression with the spec's params (role signals
    must be conditions). On errors the next round quotes them back. Stops when accepted, after
    ``max_rounds`` model calls (default ``1 + spec.codegen.max_repair_rounds``), or early when a
    round repeats the previous round's errors exactly. Raises :class:`SignalsRejected` on failure
    unless ``raise_on_failure`` is false. Every call is recorded by ``recorder``.
    """
    logic = spec.strategy.logic
    if not logic or not logic.strip():
        raise UserInputError(f"spec '{spec.metadata.name}' has no strategy.logic to translate")
    rounds_allowed = 1 + spec.codegen.max_repair_rounds if max_rounds is None else int(max_rounds)
    if rounds_allowed < 1:
        raise UserInputError(f"max_rounds must be >= 1, was {rounds_allowed}")
    params = spec_params(spec)
    base = signals_messages(logic, params)
    model = spec.codegen.model or provider.model
    messages = base
    rounds: list[SignalRound] = []
    accepted: dict[str, str] = {}
    reason = "max_rounds"
    for n in range(1, rounds_allowed + 1):
        request = provider.request(messages, model=model, temperature=0.0, seed=spec.codegen.seed,
                                   max_tokens=max_tokens, response_format=SIGNALS_SCHEMA)
        response = call(provider, request, recorder)
        truncated = response.truncated
        try:
            extracted = extract_json(response.text, expected='one JSON object {"signals": {...}}')
            truncated = truncated or extracted.truncated
            signals, errors = check_signals_answer(extracted.value, params)
        except ExtractionError as err:
            signals, errors = {}, [str(err)]
            truncated = truncated or err.truncated
        if truncated and errors:
            errors.append("your answer was cut off: answer with a shorter, complete JSON object")
        rounds.append(SignalRound(n, request.request_hash(), response.text, tuple(errors), truncated))
        if not errors:
            accepted, reason = signals, "accepted"
            break
        if len(rounds) >= 2 and rounds[-2].errors == tuple(errors):
            reason = "repeated_error"
            break
        messages = signals_repair_messages(base, response.text, errors)
    result = LogicTranslation(accepted, tuple(rounds), reason, provider.identity, model or "",
                              prompt_manifest())
    if not result.accepted and raise_on_failure:
        raise SignalsRejected(result)
    return result


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
