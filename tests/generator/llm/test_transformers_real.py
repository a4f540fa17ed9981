"""The ``transformers`` provider against a real (tiny, made here) model: load, chat template,
greedy generation, token counts. Skipped unless transformers and torch are installed.

A tiny Qwen2 model with random weights and a byte-level BPE tokenizer trained on a few words is saved into a temporary
folder, so the provider's real loading and generation code runs without any download. (The
measured run against the bundled 0.5B GGUF is in docs/llm.md, "The codegen evaluation".)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from resource_kit import missing

from stratforge.generator.llm import get_provider

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")


def _tiny_model(folder: Path) -> None:
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        missing("transformers", "torch or transformers is not installed")
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    # a byte-level BPE tokenizer trained here on a few words (what Qwen2's tokenizer class loads)
    special = ["<unk>", "<pad>", "<eos>"]
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(["buy when the close is above its average", "say ok", "signals {}"],
                           trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>",
                                               pad_token="<pad>", eos_token="<eos>")
    tok.chat_template = CHAT_TEMPLATE
    cfg = transformers.Qwen2Config(vocab_size=tk.get_vocab_size(), hidden_size=16, intermediate_size=32,
                                   num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                   max_position_embeddings=256, eos_token_id=2, pad_token_id=1)
    torch.manual_seed(0)
    transformers.Qwen2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)


def test_transformers_provider_generates_with_a_real_model(tmp_path: Path) -> None:
    _tiny_model(tmp_path / "tiny")
    provider = get_provider("transformers", path=str(tmp_path / "tiny"))
    assert provider.model == "tiny"
    req = provider.request([{"role": "system", "content": "say ok"},
                            {"role": "user", "content": "buy when the close is above its average"}],
                           max_tokens=5, temperature=0.0, seed=0)
    first = provider.complete(req)
    again = provider.complete(req)
    assert first.prompt_tokens >= 10  # the chat template's markers and the words, tokenized
    assert 1 <= first.completion_tokens <= 5
    assert first.finish_reason in ("stop", "length")
    assert (first.finish_reason == "length") == (first.completion_tokens == 5)
    assert first.text == again.text  # greedy at temperature 0 is deterministic
    assert first.latency_s > 0
