"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint through the openai SDK.

Works with OpenAI, vLLM, Ollama, a llama.cpp server (``stratforge model serve``) and anything
else speaking ``POST /v1/chat/completions``. The SDK's own retries are off; this provider retries
rate limits (429), server errors (5xx), timeouts and connection failures with exponential
backoff (honouring a short ``Retry-After``) and raises RetryableError after the last try. Other
HTTP errors (400, 401, 404...) are ProviderErrors at once.
"""

from __future__ import annotations

import ipaddress
import os
import time
from typing import Any, Callable
from urllib.parse import urlparse

from stratforge.core.errors import ProviderError, RetryableError, UserInputError

from .base import LLMRequest, LLMResponse, Option, Provider, register_provider
import openai

__all__ = ["OpenAIProvider"]

NO_KEY = "not-needed"


def _is_loopback(url: str | None) -> bool:
    if not url:
        return False
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register_provider
class OpenAIProvider(Provider):
    name = "openai"
    description = "Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."
    options = (
        Option("model", str, None, "Model name sent to the endpoint (e.g. gpt-4o-mini, or the "
               "served model's alias)."),
        Option("base_url", str, None, "Endpoint base URL, e.g. http://127.0.0.1:8080/v1; default: "
               "$OPENAI_BASE_URL or OpenAI's."),
        Option("api_key_env", str, "OPENAI_API_KEY", "Environment variable holding the API key. "
               "Its value may be 'not-needed' for local servers; for a loopback base_url it may "
               "be unset."),
        Option("timeout", float, 120.0, "Seconds to wait for one HTTP response."),
        Option("max_retries", int, 4, "Retries after the first try on 429, 5xx, timeouts and "
               "connection errors."),
        Option("backoff_s", float, 1.0, "First backoff delay in seconds; doubles on every retry."),
        Option("backoff_max_s", float, 30.0, "Longest single backoff delay (also caps Retry-After)."),
        Option("response_format", str, "json_schema", "How a request's JSON schema is sent: "
               "json_schema (OpenAI, vLLM, llama.cpp), json_object (schema-less JSON mode) or "
               "none.", choices=("json_schema", "json_object", "none")),
        Option("grammar", str, "off", "How a request's decoding grammar (signal expressions) is "
               "sent: gbnf (llama.cpp server: the `grammar` field), vllm (vLLM: "
               "`guided_grammar`, read by its xgrammar backend), json_schema (a JSON Schema whose "
               "strings carry a regex `pattern`, for servers with only that) or off (unknown "
               "servers: not sent).", choices=("off", "gbnf", "vllm", "json_schema")),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.config["max_retries"] < 0 or self.config["timeout"] <= 0:
            raise UserInputError("provider 'openai': max_retries must be >= 0 and timeout > 0")
        self._client: Any = None
        self.sleep: Callable[[float], None] = time.sleep  # replaced in tests

    @property
    def grammar_default(self) -> bool:
        return self.config["grammar"] != "off"

    @property
    def grammar_form(self) -> str | None:
        return {"off": None, "json_schema": "json_schema"}.get(self.config["grammar"], "gbnf")

    # -- client ------------------------------------------------------------------------------

    def _base_url(self) -> str | None:
        return self.config["base_url"] or os.environ.get("OPENAI_BASE_URL") or None

    def _api_key(self) -> str:
        env = self.config["api_key_env"]
        key = os.environ.get(env, "")
        if key:
            return key
        if _is_loopback(self._base_url()):
            return NO_KEY
        raise UserInputError(f"provider 'openai' needs an API key in ${env} (use the value "
                             f"'{NO_KEY}' for a local server, or set the api_key_env option)")

    def client(self) -> Any:
        if self._client is None:
            self._client = openai.OpenAI(api_key=self._api_key(), base_url=self._base_url(),
                                         timeout=self.config["timeout"], max_retries=0)
        return self._client

    # -- the call ----------------------------------------------------------------------------

    def _kwargs(self, request: LLMRequest) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": request.model, "messages": request.message_dicts(),
                              "temperature": request.temperature, "max_tokens": request.max_tokens}
        if request.seed is not None:
            kw["seed"] = request.seed
        if request.stop:
            kw["stop"] = list(request.stop)
        grammar = self.config["grammar"]
        if request.grammar is not None and grammar in ("gbnf", "vllm"):
            # the grammar fixes the JSON shape; llama.cpp refuses a schema and a grammar together
            kw["extra_body"] = {"grammar" if grammar == "gbnf" else "guided_grammar": request.grammar}
            return kw
        mode = getattr(self, "_format_fallback", None) or self.config["response_format"]
        if request.grammar is not None and grammar == "json_schema":
            mode = "json_schema"
        if request.response_format is not None and mode != "none":
            schema = dict(request.response_format)
            if mode == "json_schema":
                kw["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "answer", "schema": schema, "strict": False}}
            else:
                kw["response_format"] = {"type": "json_object"}
        return kw

    @staticmethod
    def _schema_refused(kwargs: dict[str, Any], err: Any) -> bool:
        """The endpoint rejected ``response_format: json_schema`` (not the request as a whole)."""
        fmt = kwargs.get("response_format") or {}
        text = str(getattr(err, "message", "")) + str(getattr(err, "body", ""))
        return fmt.get("type") == "json_schema" and "response_format" in text and "json_schema" in text

    def complete(self, request: LLMRequest) -> LLMResponse:
        client = self.client()
        kwargs = self._kwargs(request)
        tries = self.config["max_retries"] + 1
        where = self._base_url() or "the OpenAI API"
        last = ""
        attempt = 0
        while attempt < tries:
            attempt += 1
            t0 = time.perf_counter()
            try:
                completion = client.chat.completions.create(**kwargs)
            except openai.APIStatusError as err:  # 4xx/5xx answers, incl. 429 and 500
                if self._schema_refused(kwargs, err):
                    # e.g. llama.cpp's server takes only "text"/"json_object": fall back once,
                    # for this and every later request of this provider instance
                    self._format_fallback = "json_object"
                    kwargs = self._kwargs(request)
                    attempt -= 1  # the fallback is not a retry
                    continue
                if not (isinstance(err, openai.RateLimitError) or err.status_code >= 500):
                    raise ProviderError(f"openai provider at {where}: {self._describe(err)}") from None
                last = self._describe(err)
                if attempt == tries:
                    break
                self.sleep(self._delay(attempt, err))
            except openai.APIConnectionError as err:  # also timeouts
                last = self._describe(err)
                if attempt == tries:
                    break
                self.sleep(self._delay(attempt, err))
            except openai.OpenAIError as err:
                raise ProviderError(f"openai provider at {where}: {type(err).__name__}: {err}") from None
            else:
                return self._response(request, completion, time.perf_counter() - t0)
        raise RetryableError(f"openai provider at {where}: {last} after {tries} "
                             f"{'try' if tries == 1 else 'tries'}; try again later")

    @staticmethod
    def _describe(err: Exception) -> str:
        if isinstance(err, openai.APITimeoutError):
            return "timed out"
        if isinstance(err, openai.APIConnectionError):
            return f"connection failed ({err})"
        status = getattr(err, "status_code", None)
        body = getattr(err, "message", None) or str(err)
        body = " ".join(str(body).split())[:200]
        return f"HTTP {status}: {body}" if status else body

    def _delay(self, attempt: int, err: Exception) -> float:
        delay = self.config["backoff_s"] * (2 ** (attempt - 1))
        response = getattr(err, "response", None)
        retry_after = None
        if response is not None:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except (TypeError, ValueError):
                retry_after = None
        if retry_after is not None and retry_after >= 0:
            delay = max(delay, retry_after)
        return min(delay, self.config["backoff_max_s"])

    @staticmethod
    def _response(request: LLMRequest, completion: Any, latency: float) -> LLMResponse:
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise ProviderError("openai provider: the endpoint returned no choices")
        choice = choices[0]
        text = getattr(choice.message, "content", None) or ""
        usage = getattr(completion, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
        comp = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
        try:
            raw = completion.model_dump(mode="json", exclude_none=True)
        except Exception:  # noqa: BLE001 - raw is informational
            raw = {}
        raw.pop("created", None)  # wall clock of the server; not part of the answer
        raw.pop("id", None)
        raw.pop("system_fingerprint", None)
        return LLMResponse(text=text, model=getattr(completion, "model", None) or request.model,
                           finish_reason=getattr(choice, "finish_reason", None) or "stop",
                           prompt_tokens=prompt, completion_tokens=comp,
                           latency_s=round(latency, 6), raw=raw)
