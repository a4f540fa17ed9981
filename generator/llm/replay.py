"""The ``replay`` provider: answers from recorded exchanges keyed by request hash.

Point it at one or more recording folders (a bundle's ``llm/`` folder, a test fixture folder).
It answers as the provider it replays (``identity``) so requests hash exactly as they did when
recorded. A request recorded several times is answered with its recordings in order (the last
one repeats). A miss is a ProviderError naming the request and where it looked.
"""

from __future__ import annotations

import os
from collections import defaultdict, deque
from typing import Any

from stratforge.core.errors import ProviderError, UserInputError

from .base import LLMRequest, LLMResponse, Option, Provider, register_provider
from .record import Exchange, read_exchanges

__all__ = ["ReplayProvider"]


@register_provider
class ReplayProvider(Provider):
    name = "replay"
    description = "Answers from recorded exchanges (JSON files) keyed by request hash; no model."
    options = (
        Option("path", str, None, "Recording folder(s), separated by os.pathsep "
               "(e.g. strategies/<name>/llm)."),
        Option("provider", str, None, "Provider the recordings were made with; default: the one "
               "provider found in them."),
        Option("model", str, None, "Default model for requests; default: the one model found in "
               "the recordings."),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.config["path"]:
            raise UserInputError("provider 'replay' needs the 'path' option (a recording folder)")
        self.folders = [p for p in str(self.config["path"]).split(os.pathsep) if p]
        self._by_hash: dict[str, list[Exchange]] = defaultdict(list)
        count = 0
        for folder in self.folders:
            for ex in read_exchanges(folder):
                self._by_hash[ex.request_hash].append(ex)
                count += 1
        self._count = count
        self._queues = {h: deque(exs) for h, exs in self._by_hash.items()}
        self._last: dict[str, Exchange] = {}
        providers = {str(e.data["provider"]) for exs in self._by_hash.values() for e in exs}
        models = {str(e.data["model"]) for exs in self._by_hash.values() for e in exs}
        self._identity = self.config["provider"] or (providers.pop() if len(providers) == 1 else "replay")
        self._model = self.config["model"] or (models.pop() if len(models) == 1 else None)
        # recordings made with a grammar replay with one (the request hashes include it)
        self._grammar = any("grammar" in (e.data.get("request") or {})
                            for exs in self._by_hash.values() for e in exs)

    @property
    def grammar_default(self) -> bool:
        return self._grammar

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def model(self) -> str | None:
        return self._model

    def complete(self, request: LLMRequest) -> LLMResponse:
        h = request.request_hash()
        queue = self._queues.get(h)
        if queue is None:
            raise ProviderError(
                f"replay: no recorded response for request {h[:12]} (provider '{request.provider}', "
                f"model '{request.model}', first user message: \"{request.first_user_excerpt()}\"); "
                f"looked in {', '.join(self.folders)} ({self._count} recordings). The prompt, "
                f"model or parameters changed since recording: record again with a live provider.")
        ex = queue.popleft() if queue else self._last[h]
        self._last[h] = ex
        resp, tokens, timing = ex.data["response"], ex.data["tokens"], ex.data["timing"]
        return LLMResponse(text=resp["text"], model=resp["model"],
                           finish_reason=resp["finish_reason"],
                           prompt_tokens=int(tokens["prompt"]),
                           completion_tokens=int(tokens["completion"]),
                           latency_s=float(timing.get("latency_s", 0.0)), raw=resp.get("raw", {}),
                           recorded_timing=dict(timing))
