"""Helpers of the backtest tests: example specs and spec edits."""

from __future__ import annotations

from pathlib import Path

from stratforge.core.spec import load_spec

REPO = Path(__file__).resolve().parents[3]


def example(name: str):
    return load_spec(REPO / "specs" / f"{name}.yaml").spec


def with_changes(spec, **sections):
    """``spec`` with some fields replaced: ``with_changes(spec, backtest={"period": {...}})``."""
    data = spec.model_dump(mode="python")

    def merge(dst, src):
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = v
    merge(data, sections)
    return type(spec).model_validate(data)


def with_data(spec, data: dict):
    """``spec`` with its ``backtest.data`` section replaced as a whole."""
    dumped = spec.model_dump(mode="python")
    dumped["backtest"]["data"] = data
    return type(spec).model_validate(dumped)
