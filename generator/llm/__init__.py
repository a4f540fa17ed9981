"""LLM providers, recording and replay, defensive output extraction and versioned prompts.

    >>> from stratforge.generator.llm import get_provider, Recorder, logic_to_signals
    >>> provider = get_provider("replay", path="strategies/spy-vwap-reversion/llm")  # doctest: +SKIP
    >>> result = logic_to_signals(spec, provider, Recorder("out/llm"))               # doctest: +SKIP

See docs/llm.md.
"""

from __future__ import annotations

from .base import (ENTRY_POINT_GROUP, LLMRequest, LLMResponse, Message, Option, Provider, canonical_json,
                   get_provider, provider_class, provider_names, register_provider, registered_providers)
from .extract import ExtractionError, Extracted, extract_code, extract_json
from .prompts import (CodeRegion, LogicTranslation, SignalRound, SignalsRejected, check_signals_answer,
                      code_region_messages, code_repair_messages, logic_to_signals, prompt_manifest,
                      quote_untrusted, signals_messages, signals_repair_messages)
from .record import Exchange, Recorder, call, read_exchanges

__all__ = [
    "ENTRY_POINT_GROUP", "LLMRequest", "LLMResponse", "Message", "Option", "Provider", "canonical_json",
    "get_provider", "provider_class", "provider_names", "register_provider", "registered_providers",
    "ExtractionError", "Extracted", "extract_code", "extract_json",
    "CodeRegion", "LogicTranslation", "SignalRound", "SignalsRejected", "check_signals_answer",
    "code_region_messages", "code_repair_messages", "logic_to_signals", "prompt_manifest",
    "quote_untrusted", "signals_messages", "signals_repair_messages",
    "Exchange", "Recorder", "call", "read_exchanges",
]
