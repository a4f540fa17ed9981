"""The strategy spec: models, safe loading with positioned errors, canonical form and hash."""

from stratforge.core.spec.canonical import canonical_json, spec_hash
from stratforge.core.spec.loader import (LoadedSpec, SpecLike, as_loaded_spec, as_strategy_spec, load_spec,
                                         load_spec_bytes)
from stratforge.core.spec.models import API_VERSION, StrategySpec, StrategyType

__all__ = [
    "API_VERSION",
    "LoadedSpec",
    "SpecLike",
    "StrategySpec",
    "StrategyType",
    "as_loaded_spec",
    "as_strategy_spec",
    "canonical_json",
    "load_spec",
    "load_spec_bytes",
    "spec_hash",
]
