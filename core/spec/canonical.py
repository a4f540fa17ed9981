"""Canonical form and hash of a spec: its version identity.

The canonical form is the validated spec with every default filled in, decimals normalised
(``0.10`` and ``0.1`` are the same tick size), timestamps in UTC ISO-8601, keys sorted, no
insignificant white space. Two files that mean the same spec therefore hash the same, and any
change of meaning changes the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return value  # json keeps 1.0 as 1.0: floats stay floats, ints stay ints
    return value


def canonical_data(spec: BaseModel) -> dict[str, Any]:
    """The spec as plain JSON-able data in canonical form."""
    return _plain(spec)


def canonical_json(spec: BaseModel) -> str:
    """The canonical text: sorted keys, compact separators, UTF-8."""
    return json.dumps(canonical_data(spec), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)


def spec_hash(spec: BaseModel) -> str:
    """SHA-256 of the canonical text, hex: the spec's version identity."""
    return hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()
