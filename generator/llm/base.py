"""The provider interface: requests, responses, declared options and the provider registry.

Every LLM backend is a :class:`Provider` subclass that declares its options (name, type, default,
description -- like simonw/llm's model options) and answers one :class:`LLMRequest` with one
:class:`LLMResponse`. Providers register through one hook, :func:`register_provider`; the built-in
ones use it too, and third-party packages expose theirs through the entry-point group
``stratforge.providers`` (the entry point names a Provider subclass or a module whose import
registers one).

A request's identity is :meth:`LLMRequest.request_hash`: the SHA-256 of its canonical JSON,
including the provider it is addressed to and the model. Recording and replay key on it.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, Sequence, TypeVar

from stratforge.core.errors import InvariantError, ProviderError, UserInputError
from importlib.metadata import entry_points

__all__ = [
    "ENTRY_POINT_GROUP",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "Option",
    "Provider",
    "canonical_json",
    "get_provider",
    "provider_class",
    "provider_names",
    "register_provider",
]

#: Entry-point group third-party providers register under.
ENTRY_POINT_GROUP = "stratforge.providers"
#: Bump when the request's canonical form changes (it changes every request hash).
REQUEST_FORMAT = "stratforge-llm-request/1"
ROLES = ("system", "user", "assistant")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 text: the form every hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


# --------------------------------------------------------------------------------------------
# requests and responses


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Condition failed: message role must be one of {ROLES}, was {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"Condition failed: message content must be str, was {type(self.content).__name__}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def _freeze_json(value: Any, what: str) -> Any:
    """A deep copy through JSON, proving the value is plain JSON data."""
    try:
        return json.loads(canonical_json(value))
    except (TypeError, ValueError) as err:
        raise ValueError(f"Condition failed: {what} must be plain JSON data: {err}") from None


@dataclass(frozen=True)
class LLMRequest:
    """One chat-completion request. ``messages`` accepts ``{"role", "content"}`` dicts.

    ``provider`` is the provider the request is addressed to (:attr:`Provider.identity`); it is part
    of the request's identity so that recordings of different providers never collide.
    ``response_format`` is an optional JSON Schema the answer must satisfy. ``grammar`` is an
    optional GBNF grammar the answer must be derivable from (``generator/llm/grammar.py``); it is
    part of the canonical form only when set, so requests without one hash as they always did.
    """

    messages: tuple[Message, ...]
    model: str
    provider: str = ""
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = 0
    response_format: Mapping[str, Any] | None = None
    stop: tuple[str, ...] = ()
    grammar: str | None = None

    def __post_init__(self) -> None:
        msgs = tuple(m if isinstance(m, Message) else Message(**m) for m in self.messages)
        if not msgs:
            raise ValueError("Condition failed: a request needs at least one message")
        object.__setattr__(self, "messages", msgs)
        if not isinstance(self.model, str) or not self.model:
            raise ValueError("Condition failed: request model must be a non-empty string")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        temp = float(self.temperature)
        if not 0.0 <= temp <= 2.0:
            raise ValueError(f"Condition failed: temperature must be in [0, 2], was {temp}")
        object.__setattr__(self, "temperature", temp)
        if int(self.max_tokens) < 1:
            raise ValueError(f"Condition failed: max_tokens must be >= 1, was {self.max_tokens}")
        object.__setattr__(self, "max_tokens", int(self.max_tokens))
        if self.response_format is not None:
            frozen = _freeze_json(dict(self.response_format), "response_format")
            object.__setattr__(self, "response_format", MappingProxyType(frozen))
        if self.grammar is not None and (not isinstance(self.grammar, str) or not self.grammar.strip()):
            raise ValueError("Condition failed: request grammar must be non-empty GBNF text or None")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; the canonical form of the request."""
        out = {
            "format": REQUEST_FORMAT,
            "provider": self.provider,
            "model": self.model,
            "messages": [m.to_dict() for m in self.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "response_format": (_freeze_json(dict(self.response_format), "response_format")
                                if self.response_format is not None else None),
            "stop": list(self.stop),
        }
        if self.grammar is not None:
            out["grammar"] = self.grammar
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LLMRequest":
        if data.get("format") != REQUEST_FORMAT:
            raise ValueError(f"unsupported request format {data.get('format')!r}, "
                             f"expected {REQUEST_FORMAT!r}")
        return cls(messages=tuple(Message(**m) for m in data["messages"]), model=data["model"],
                   provider=data.get("provider", ""), temperature=data["temperature"],
                   max_tokens=data["max_tokens"], seed=data["seed"],
                   response_format=data.get("response_format"), stop=tuple(data.get("stop", ())),
                   grammar=data.get("grammar"))

    def canonical(self) -> str:
        return canonical_json(self.to_dict())

    def request_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON: stable across runs, processes and machines."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    def message_dicts(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.messages]

    def first_user_excerpt(self, limit: int = 80) -> str:
        for m in self.messages:
            if m.role == "user":
                text = " ".join(m.content.split())
                return text if len(text) <= limit else text[: limit - 1] + "…"
        return ""

    def parameters(self) -> dict[str, Any]:
        d = self.to_dict()
        return {k: d[k] for k in ("temperature", "max_tokens", "seed", "stop", "response_format", "grammar")
                if k in d}


@dataclass(frozen=True)
class LLMResponse:
    """One answer. ``raw`` is the provider's own JSON-able payload (kept in recordings).

    ``recorded_timing`` is set only by providers that replay a recording: the recorder then writes
    the recording's wall-clock timing instead of measuring, so a replayed rebuild is byte-identical.
    """

    text: str
    model: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    raw: Mapping[str, Any] = field(default_factory=dict)
    recorded_timing: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ProviderError(f"provider returned a non-text answer ({type(self.text).__name__})")
        object.__setattr__(self, "raw", MappingProxyType(_freeze_json(dict(self.raw), "raw")))

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


# --------------------------------------------------------------------------------------------
# options


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One declared provider option. ``type`` is ``str``, ``int``, ``float``, ``bool`` or ``object``
    (anything, for Python-only options such as a scripted provider's answers)."""

    name: str
    type: type
    default: Any
    description: str
    choices: tuple[Any, ...] | None = None

    def coerce(self, provider: str, value: Any) -> Any:
        if value is None or self.type is object:
            return value
        bad = f"provider '{provider}' option '{self.name}' must be {self.type.__name__}, was {value!r}"
        try:
            if self.type is bool:
                if isinstance(value, bool):
                    out: Any = value
                elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                    out = value.strip().lower() in _TRUE
                else:
                    raise UserInputError(bad)
            elif self.type is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise UserInputError(bad)
                out = int(value)
            elif self.type is float:
                if isinstance(value, bool):
                    raise UserInputError(bad)
                out = float(value)
            elif self.type is str:
                if not isinstance(value, str):
                    raise UserInputError(bad)
                out = value
            else:
                out = value if isinstance(value, self.type) else self.type(value)
        except (TypeError, ValueError):
            raise UserInputError(bad) from None
        if self.choices is not None and out not in self.choices:
            raise UserInputError(f"provider '{provider}' option '{self.name}' must be one of "
                                 f"{', '.join(map(str, self.choices))}; was {value!r}")
        return out


def _closest(name: str, known: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


# --------------------------------------------------------------------------------------------
# the provider interface


class Provider(ABC):
    """Base class of every provider.

    Subclasses set ``name``, ``description`` and ``options`` and implement :meth:`complete`. They are
    constructed with keyword options only (validated and coerced against ``options``; unknown
    options are an error). Every built-in provider declares a ``model`` option.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, **options: Any) -> None:
        declared = {o.name: o for o in self.options}
        unknown = sorted(set(options) - set(declared))
        if unknown:
            bad = unknown[0]
            raise UserInputError(
                f"provider '{self.name}' has no option '{bad}'{_closest(bad, list(declared))} "
                f"(options: {', '.join(declared) or 'none'})")
        values = {n: o.coerce(self.name, options.get(n, o.default)) for n, o in declared.items()}
        self.config: Mapping[str, Any] = MappingProxyType(values)

    @property
    def grammar_default(self) -> bool:
        """Whether :func:`~.prompts.logic_to_signals` constrains answers with a grammar when the
        caller does not say (providers that enforce one turn it on)."""
        return False

    @property
    def grammar_form(self) -> str | None:
        """How this provider enforces a request's grammar: ``"gbnf"`` (the request's ``grammar``
        text), ``"json_schema"`` (a patterned ``response_format``) or ``None`` (it cannot; the
        grammar is still part of the request, so recordings say what was asked)."""
        return None

    @property
    def identity(self) -> str:
        """The provider name written into requests and recordings (replay answers as the
        provider it replays)."""
        return self.name

    @property
    def model(self) -> str | None:
        """The default model of this provider instance (the ``model`` option), if any."""
        value = self.config.get("model")
        return str(value) if value else None

    def request(self, messages: Sequence[Mapping[str, str] | Message], *, model: str | None = None,
                **params: Any) -> LLMRequest:
        """A request addressed to this provider, its model defaulting to the ``model`` option."""
        chosen = model or self.model
        if not chosen:
            raise UserInputError(f"provider '{self.name}' needs a model: set its 'model' option "
                                 f"or codegen.model in the spec")
        return LLMRequest(messages=tuple(messages), model=chosen, provider=self.identity,  # type: ignore[arg-type]
                          **params)

    @abstractmethod
    def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer one request. Raise :class:`ProviderError` (misconfigured, bad answer) or
        :class:`RetryableError` (transient, after the provider's own retries)."""

    @classmethod
    def describe_options(cls) -> list[dict[str, Any]]:
        return [{"name": o.name, "type": o.type.__name__, "default": o.default,
                 "description": o.description, "choices": list(o.choices) if o.choices else None}
                for o in cls.options]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} model={self.model!r}>"


# --------------------------------------------------------------------------------------------
# registry

P = TypeVar("P", bound=type[Provider])

_REGISTRY: dict[str, type[Provider]] = {}
#: Modules of the built-in providers; importing each registers it through register_provider.
_BUILTIN_MODULES = (
    "stratforge.generator.llm.openai_compat",
    "stratforge.generator.llm.local",
    "stratforge.generator.llm.transformers_provider",
    "stratforge.generator.llm.replay",
    "stratforge.generator.llm.scripted",
)
_loaded = False
_plugin_errors: list[str] = []


def register_provider(cls: P | None = None, *, replace: bool = False) -> Any:
    """Class decorator (the one registration hook): ``@register_provider class X(Provider): ...``.

    A second registration of the same name by a different class is an error unless ``replace``.
    """

    def apply(klass: P) -> P:
        if not (isinstance(klass, type) and issubclass(klass, Provider)):
            raise InvariantError(f"Invariant: register_provider needs a Provider subclass, got {klass!r}")
        name = klass.name
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ProviderError(f"provider class {klass.__qualname__} has an invalid name {name!r} "
                                f"(lower case letters, digits, '-', '_')")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not klass and not replace \
                and (existing.__module__, existing.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ProviderError(f"provider '{name}' is already registered by "
                                f"{existing.__module__}.{existing.__qualname__}")
        _REGISTRY[name] = klass
        return klass

    return apply(cls) if cls is not None else apply


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Provider):
                register_provider(obj)
        except Exception as err:  # noqa: BLE001 - a broken plugin must not break the built-ins
            _plugin_errors.append(f"entry point '{ep.name}' ({ep.value}): {type(err).__name__}: {err}")


def provider_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def provider_class(name: str) -> type[Provider]:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(_REGISTRY)
        hint = _closest(name, known)
        extra = ("; broken provider plugins: " + "; ".join(_plugin_errors)) if _plugin_errors else ""
        raise UserInputError(f"unknown LLM provider '{name}'{hint} (known: {', '.join(known)}){extra}") from None


def get_provider(name: str, **options: Any) -> Provider:
    """An instance of the provider registered as ``name``, configured with ``options``."""
    return provider_class(name)(**options)


def registered_providers() -> Mapping[str, type[Provider]]:
    _load()
    return MappingProxyType(dict(_REGISTRY))

