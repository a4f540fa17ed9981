"""The JSON Schema of the spec, generated from the models.

``specs/schema/strategy.schema.json`` is this function's output, checked in so that editors can
validate specs as they are typed; a test fails when the file is stale. Cross-field rules and
expression checks are not expressible in JSON Schema: ``stratforge validate`` is the authority.
"""

from __future__ import annotations

import json
from typing import Any

from stratforge.core.spec.models import API_VERSION, StrategySpec

SCHEMA_ID = "https://stratforge.dev/schema/strategy.schema.json"


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a strategy spec document."""
    schema = StrategySpec.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"stratforge strategy spec ({API_VERSION})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def spec_json_schema_text() -> str:
    """The schema as the exact text of the checked-in file."""
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
