"""The ``local`` provider: the bundled code model (or any GGUF file) run in-process by llama.cpp.

Needs the optional extra ``stratforge[local-llm]`` (llama-cpp-python, imported lazily). On CPUs
with AMX a default llama.cpp build crashes on the first decode; build it with the flags in
:data:`LLAMA_CMAKE_ARGS`. Answers are deterministic on one machine: temperature 0 and a seed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from stratforge.core.errors import ProviderError

from .base import LLMRequest, LLMResponse, Option, Provider, register_provider
from .bundled import BUNDLED_MODELS, resolve_model

__all__ = ["LLAMA_CMAKE_ARGS", "LocalProvider", "import_llama_cpp"]

#: Build flags for llama-cpp-python that avoid the AMX path (see docs/llm.md).
LLAMA_CMAKE_ARGS = ("-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON "
                    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF")
INSTALL_HINT = (f"install it with: CMAKE_ARGS=\"{LLAMA_CMAKE_ARGS}\" "
                f"pip install 'stratforge[local-llm]'")


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ProviderError(f"provider 'local' needs llama-cpp-python, which is not installed; "
                            f"{INSTALL_HINT}") from None
    return llama_cpp


@register_provider
class LocalProvider(Provider):
    name = "local"
    description = "The bundled Qwen2.5-Coder model (or a GGUF file) run in-process via llama-cpp-python."
    options = (
        Option("model", str, None, f"Bundled model ({', '.join(BUNDLED_MODELS)}) or a GGUF file "
               "path; default: the largest installed bundled model."),
        Option("n_ctx", int, 4096, "Context window in tokens."),
        Option("n_threads", int, 0, "CPU threads; 0 = all cores."),
        Option("grammar", bool, True, "Constrain signal expressions with the spec's grammar "
               "(GBNF, generator/llm/grammar.py) unless the caller says otherwise."),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._llama: Any = None
        self._path: Path | None = None
        self._grammars: dict[str, Any] = {}

    @property
    def grammar_default(self) -> bool:
        return bool(self.config["grammar"])

    @property
    def grammar_form(self) -> str | None:
        return "gbnf"

    def _grammar(self, llama_cpp: Any, text: str) -> Any:
        if text not in self._grammars:
            try:
                self._grammars[text] = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            except Exception as err:  # noqa: BLE001 - llama.cpp reports a bad grammar as ValueError
                raise ProviderError(f"provider 'local': llama.cpp refused the grammar: {err}") from None
        return self._grammars[text]

    @property
    def model(self) -> str | None:
        spec = self.config["model"]
        if spec:
            return str(spec)
        try:
            return resolve_model(None).stem
        except ProviderError:
            return None

    def _load(self, model: str) -> Any:
        path = resolve_model(model)
        if self._llama is not None and self._path == path:
            return self._llama
        llama_cpp = import_llama_cpp()
        threads = self.config["n_threads"] or (os.cpu_count() or 1)
        try:
            self._llama = llama_cpp.Llama(model_path=str(path), n_ctx=self.config["n_ctx"],
                                          n_threads=threads, seed=0, verbose=False)
        except Exception as err:  # noqa: BLE001 - llama.cpp reports load failures as ValueError etc.
            raise ProviderError(f"provider 'local' could not load {path}: {err}") from None
        self._path = path
        return self._llama

    def complete(self, request: LLMRequest) -> LLMResponse:
        llama = self._load(request.model)
        kwargs: dict[str, Any] = {"messages": request.message_dicts(),
                                  "temperature": request.temperature,
                                  "max_tokens": request.max_tokens}
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.grammar is not None:  # the grammar already fixes the JSON shape
            kwargs["grammar"] = self._grammar(import_llama_cpp(), request.grammar)
        elif request.response_format is not None:
            kwargs["response_format"] = {"type": "json_object",
                                         "schema": dict(request.response_format)}
        t0 = time.perf_counter()
        try:
            out = llama.create_chat_completion(**kwargs)
        except Exception as err:  # noqa: BLE001
            raise ProviderError(f"provider 'local' failed to generate: {type(err).__name__}: {err}") from None
        latency = time.perf_counter() - t0
        choice = (out.get("choices") or [{}])[0]
        usage = out.get("usage") or {}
        raw = {k: v for k, v in out.items() if k not in ("id", "created")}
        if isinstance(raw.get("model"), str):  # llama-cpp-python names the model by its path on this machine
            raw["model"] = Path(raw["model"]).name
        return LLMResponse(text=(choice.get("message") or {}).get("content") or "",
                           model=request.model, finish_reason=choice.get("finish_reason") or "stop",
                           prompt_tokens=int(usage.get("prompt_tokens", 0)),
                           completion_tokens=int(usage.get("completion_tokens", 0)),
                           latency_s=round(latency, 6), raw=raw)
