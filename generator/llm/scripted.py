"""The ``scripted`` provider: canned answers in order, for tests and repair-loop demos.

``responses`` is a list of answers (strings or LLMResponse objects) served in order, or a
callable ``f(request) -> str | LLMResponse``. Every request it sees is kept in ``requests``;
recording happens in :func:`stratforge.generator.llm.record.call` as for any provider.
"""

from __future__ import annotations

from typing import Any

from stratforge.core.errors import ProviderError

from .base import LLMRequest, LLMResponse, Option, Provider, register_provider

__all__ = ["ScriptedProvider"]


def _count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


@register_provider
class ScriptedProvider(Provider):
    name = "scripted"
    description = "Returns scripted answers in order (or from a callable); for tests and demos."
    options = (
        Option("responses", object, (), "A list of answers (str or LLMResponse) served in order, "
               "or a callable taking the request."),
        Option("model", str, "scripted", "Model name reported in responses."),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        script = self.config["responses"]
        if not callable(script) and not isinstance(script, (list, tuple)):
            raise ProviderError("provider 'scripted' option 'responses' must be a list or a callable")
        self._script = script
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        n = len(self.requests)
        if callable(self._script):
            answer = self._script(request)
        else:
            if n > len(self._script):
                raise ProviderError(f"scripted provider ran out of answers: call {n}, "
                                    f"{len(self._script)} scripted")
            answer = self._script[n - 1]
        if isinstance(answer, LLMResponse):
            return answer
        if isinstance(answer, BaseException):
            raise answer
        text = str(answer)
        prompt = sum(_count_tokens(m.content) for m in request.messages)
        return LLMResponse(text=text, model=request.model, finish_reason="stop",
                           prompt_tokens=prompt, completion_tokens=_count_tokens(text),
                           latency_s=0.0, raw={"scripted_index": n})
