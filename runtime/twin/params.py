"""``sf::sdk::Params`` in Python: the same ``name=value`` lines, the same errors.

One parameter per line; blank lines and lines starting with ``#`` are ignored; whitespace (space,
tab, CR) around name and value is trimmed; names are ``[A-Za-z_][A-Za-z0-9_.]*``; a repeated name
is an error. Integers and doubles are parsed like ``std::from_chars`` (no leading ``+``, no
surrounding text, no hex); doubles must be finite.
"""

from __future__ import annotations

import re

__all__ = ["Params", "ParamError"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_INT = re.compile(r"-?[0-9]+\Z")
_DOUBLE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class ParamError(ValueError):
    """A malformed blob, a missing required value or a bad value (``sf::sdk::ParamError``)."""


def _trim(s: str) -> str:
    return s.strip(" \t\r")


class Params:
    def __init__(self) -> None:
        self._entries: dict[str, str] = {}
        self._used: set[str] = set()

    @classmethod
    def parse(cls, blob: str) -> "Params":
        p = cls()
        for line_no, raw in enumerate(blob.split("\n"), start=1):
            line = _trim(raw)
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise ParamError(f"params line {line_no}: expected name=value, got '{line}'")
            name, value = line.split("=", 1)
            name, value = _trim(name), _trim(value)
            if not _NAME.match(name):
                raise ParamError(f"params line {line_no}: invalid parameter name '{name}'")
            if name in p._entries:
                raise ParamError(f"params line {line_no}: parameter '{name}' given twice")
            p._entries[name] = value
        return p

    def has(self, name: str) -> bool:
        return name in self._entries

    def _use(self, name: str) -> str | None:
        if name in self._entries:
            self._used.add(name)
            return self._entries[name]
        return None

    def _need(self, name: str) -> str:
        v = self._use(name)
        if v is None:
            raise ParamError(f"required parameter '{name}' is missing")
        return v

    @staticmethod
    def _to_int(name: str, value: str) -> int:
        if _INT.match(value):
            v = int(value)
            if _INT64_MIN <= v <= _INT64_MAX:
                return v
        raise ParamError(f"parameter '{name}' must be an integer, was '{value}'")

    @staticmethod
    def _to_double(name: str, value: str) -> float:
        if _DOUBLE.match(value):
            v = float(value)
            if v == v and v not in (float("inf"), float("-inf")):
                return v
        raise ParamError(f"parameter '{name}' must be a finite number, was '{value}'")

    def get_int(self, name: str, default: int) -> int:
        v = self._use(name)
        return default if v is None else self._to_int(name, v)

    def require_int(self, name: str) -> int:
        return self._to_int(name, self._need(name))

    def get_double(self, name: str, default: float) -> float:
        v = self._use(name)
        return default if v is None else self._to_double(name, v)

    def require_double(self, name: str) -> float:
        return self._to_double(name, self._need(name))

    def get_bool(self, name: str, default: bool) -> bool:
        v = self._use(name)
        if v is None:
            return default
        if v in ("true", "1", "yes"):
            return True
        if v in ("false", "0", "no"):
            return False
        raise ParamError(f"parameter '{name}' must be true/false, was '{v}'")

    def get_string(self, name: str, default: str) -> str:
        v = self._use(name)
        return default if v is None else v

    def expect_all_used(self) -> None:
        unknown = [n for n in self._entries if n not in self._used]
        if unknown:
            raise ParamError("unknown parameter(s): " + ", ".join(unknown))
