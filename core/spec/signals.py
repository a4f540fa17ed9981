"""Type-checking of a spec's named signal expressions (see docs/expressions.md)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from stratforge.core.expr import ExpressionError, Type, compile_expression
from stratforge.core.spec.violation import Violation

if TYPE_CHECKING:
    from stratforge.core.spec.models import StrategySpec

#: Signals with these names drive entries and exits and must be boolean.
ROLE_SIGNALS = ("entry_long", "exit_long", "entry_short", "exit_short")


def spec_params(spec: "StrategySpec") -> dict[str, int | float | bool]:
    """The scalar parameters of a spec, as the constants its expressions may name."""
    params = spec.strategy.params
    raw = params if isinstance(params, dict) else dict(params)
    out: dict[str, int | float | bool] = {}
    for name, value in raw.items():
        if isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, Decimal):
            out[name] = float(value)
    return out


def check_signals(spec: "StrategySpec") -> Iterator[Violation]:
    """Compile every signal in order; report syntax, name, type and window errors with columns."""
    if not spec.strategy.signals:
        return
    params = spec_params(spec)
    known: dict[str, Type] = {}
    for name, text in spec.strategy.signals.items():
        path = ("strategy", "signals", name)
        if name in params:
            yield Violation(path, f"signal name '{name}' is already a parameter name", name)
            continue
        try:
            typed = compile_expression(text, params, signals=known)
        except ExpressionError as err:
            yield Violation(path, str(err), text, column=err.column)
            continue
        if name in ROLE_SIGNALS and typed.type is not Type.BOOL:
            yield Violation(path, f"'{name}' must be a condition (bool), this expression is a "
                            f"{typed.type.name.lower()}", text, column=1)
        known[name] = typed.type
