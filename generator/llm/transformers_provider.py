"""The ``transformers`` provider: a local model directory (or GGUF file) run with 🤗 transformers.

Never downloads: the hub is switched off (``HF_HUB_OFFLINE=1``, ``local_files_only=True``), so the
path must hold the weights and tokenizer already. transformers and torch are optional and imported
lazily; greedy decoding at temperature 0, seeded sampling otherwise.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from stratforge.core.errors import ProviderError, UserInputError

from .base import LLMRequest, LLMResponse, Option, Provider, register_provider

__all__ = ["TransformersProvider"]


@register_provider
class TransformersProvider(Provider):
    name = "transformers"
    description = "A local model directory or GGUF file through transformers (no hub downloads)."
    options = (
        Option("path", str, None, "Model directory (config, weights, tokenizer) or a .gguf file."),
        Option("model", str, None, "Model name written into requests and recordings; default: "
               "the directory or file name."),
        Option("device", str, "cpu", "torch device, e.g. cpu or cuda:0."),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.config["path"]:
            raise UserInputError("provider 'transformers' needs the 'path' option (a local model "
                                 "directory or GGUF file)")
        self.path = Path(self.config["path"]).expanduser()
        self._loaded: tuple[Any, Any, Any] | None = None

    @property
    def model(self) -> str | None:
        return self.config["model"] or self.path.name

    def _load(self) -> tuple[Any, Any, Any]:
        if self._loaded is not None:
            return self._loaded
        if not self.path.exists():
            raise UserInputError(f"provider 'transformers': {self.path} does not exist")
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import torch
            import transformers
        except ImportError:
            raise ProviderError("provider 'transformers' needs transformers and torch: "
                                "pip install 'stratforge[transformers]'") from None
        kw: dict[str, Any] = {"local_files_only": True}
        where = self.path
        if self.path.is_file():
            kw["gguf_file"] = self.path.name
            where = self.path.parent
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(where), **kw)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(where), **kw)
            model.to(self.config["device"])
            model.eval()
        except Exception as err:  # noqa: BLE001
            raise ProviderError(f"provider 'transformers' could not load {self.path}: {err}") from None
        self._loaded = (torch, tok, model)
        return self._loaded

    def complete(self, request: LLMRequest) -> LLMResponse:
        torch, tok, model = self._load()
        t0 = time.perf_counter()
        if request.seed is not None:
            torch.manual_seed(request.seed)
        # return_dict: transformers 5 returns a BatchEncoding whatever is asked; 4.x a bare tensor
        # unless asked for the dict. Asking for it works on both.
        enc = tok.apply_chat_template(request.message_dicts(), add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
        inputs = enc["input_ids"].to(self.config["device"])
        gen: dict[str, Any] = {"max_new_tokens": request.max_tokens,
                               "attention_mask": enc["attention_mask"].to(self.config["device"])}
        if request.temperature > 0:
            gen.update(do_sample=True, temperature=request.temperature)
        else:
            gen.update(do_sample=False)
        with torch.no_grad():
            out = model.generate(inputs, **gen)
        new = out[0][inputs.shape[-1]:]
        text = tok.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= request.max_tokens else "stop"
        for s in request.stop:
            if s and s in text:
                text, finish = text[: text.index(s)], "stop"
        return LLMResponse(text=text, model=request.model, finish_reason=finish,
                           prompt_tokens=int(inputs.shape[-1]), completion_tokens=int(len(new)),
                           latency_s=round(time.perf_counter() - t0, 6), raw={})
