"""The language's vocabulary in one place: types, series, functions and limits.

Code generation reads these tables (series -> host field and data kind, function -> state layout
and warm-up), so adding a function means adding one row here, one state class in
``evaluator.py`` and one C++ template -- nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_LITERAL",
    "MAX_LENGTH",
    "MAX_NESTING",
    "MAX_WINDOW",
    "MAX_QUANTILE_WINDOW",
    "MAX_LEVELS",
    "KEYWORDS",
    "depth_series",
    "DataKind",
    "Type",
    "SeriesInfo",
    "SERIES",
    "ArgKind",
    "FunctionInfo",
    "FUNCTIONS",
]

#: Largest window any stateful function accepts; windows size fixed C++ ring buffers.
MAX_WINDOW = 100_000
#: Largest window of rolling_median / rolling_quantile: their update moves up to n doubles (a
#: sorted buffer), so the bound keeps one update's worst case to ~80 KB of memmove.
MAX_QUANTILE_WINDOW = 10_000
#: Deepest book level a depth series or ``imbalance(levels)`` reads (levels 1..MAX_LEVELS per side).
MAX_LEVELS = 10
#: Longest expression text accepted, in characters.
MAX_LENGTH = 2_000
#: Deepest syntax tree accepted (each operator and call is one level); keeps every recursive walk
#: over the tree far below Python's recursion limit.
MAX_DEPTH = 64
#: Deepest textual nesting the parser follows (parentheses count too). Larger than MAX_DEPTH so the
#: canonical source of every accepted tree parses again (``-(-x)`` nests twice per tree level).
MAX_NESTING = 3 * MAX_DEPTH
#: Integer literals must be exactly representable as a double.
MAX_INT_LITERAL = 2**53

KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


class Type(enum.Enum):
    """The two value types of the language."""

    NUMBER = "number"
    BOOL = "bool"

    def __str__(self) -> str:
        return self.value


class DataKind(enum.Enum):
    """The data a series needs; a bar strategy cannot read the book.

    ``POSITION`` series are the strategy's own position state (kept by the strategy templates
    from its fills), available whatever the market data is.
    """

    BOOK = "book"
    TRADE = "trade"
    BAR = "bar"
    POSITION = "position"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SeriesInfo:
    name: str
    kind: DataKind
    description: str


def _series(*rows: tuple[str, DataKind, str]) -> Mapping[str, SeriesInfo]:
    return MappingProxyType({name: SeriesInfo(name, kind, desc) for name, kind, desc in rows})


B, T, R, P = DataKind.BOOK, DataKind.TRADE, DataKind.BAR, DataKind.POSITION


def depth_series(side: str, levels: int) -> str:
    """The series holding the total size of the best ``levels`` levels of ``side`` ("bid"/"ask")."""
    if side not in ("bid", "ask") or not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"Condition failed: depth_series({side!r}, {levels!r})")
    return f"{side}_size" if levels == 1 else f"{side}_depth{levels}"


#: Read-only numeric series supplied by the host on every update.
SERIES: Mapping[str, SeriesInfo] = _series(
    ("mid", B, "mid price, (bid + ask) / 2"),
    ("spread", B, "ask - bid"),
    ("bid", B, "best bid price"),
    ("ask", B, "best ask price"),
    ("bid_size", B, "quantity at the best bid"),
    ("ask_size", B, "quantity at the best ask"),
    ("microprice", B, "size-weighted mid, (bid * ask_size + ask * bid_size) / (bid_size + ask_size)"),
    ("last", T, "price of the most recent trade"),
    ("last_size", T, "size of the trade carried by this update; 0 when the update is not a trade"),
    ("open", R, "bar open"),
    ("high", R, "bar high"),
    ("low", R, "bar low"),
    ("close", R, "bar close"),
    ("volume", R, "bar volume"),
    *((f"{side}_depth{k}", B, f"total size of the best {k} {side} levels (fewer when the book has fewer)")
      for side in ("bid", "ask") for k in range(2, MAX_LEVELS + 1)),
    ("position", P, "the strategy's signed position in base units at this update (0 when flat)"),
    ("entry_price", P, "average fill price of the open position; NaN when flat"),
    ("time_in_position", P, "seconds since the fill that opened the position; 0 when flat"),
    ("bars_in_position", P, "updates (bars, or book/trade events) seen while the position is open, "
                            "this one included; 0 when flat"),
)


class ArgKind(enum.Enum):
    NUMBER = "number"
    WINDOW = "window"  # integer literal or int parameter, 1 <= n <= the function's max_window
    LEVELS = "levels"  # integer literal or int parameter, 1 <= n <= MAX_LEVELS
    FRACTION = "fraction"  # number literal or number parameter, 0 <= q <= 1 (a compile-time constant)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class FunctionInfo:
    """One function of the language.

    ``warmup(n)`` is the number of updates (with defined inputs) the function's own state needs
    before its value is defined; ``ring(n)`` the capacity of its ring buffer(s) in elements.
    ``implicit_series`` are series the function reads without taking them as arguments.
    ``defaults`` are the values of trailing arguments that may be left out (``imbalance()`` is
    ``imbalance(1)``). A ``LEVELS`` argument becomes the two depth series it selects (bid, ask)
    as value arguments; ``FRACTION`` arguments are constants of the state (``StatefulNode.consts``).
    """

    name: str
    args: tuple[tuple[str, ArgKind], ...]
    result: Type
    stateful: bool
    description: str
    warmup: Callable[[int | None], int] = lambda n: 0
    ring: Callable[[int | None], int] = lambda n: 0
    implicit_series: tuple[str, ...] = ()
    defaults: tuple[int | float, ...] = ()
    max_window: int = MAX_WINDOW

    @property
    def signature(self) -> str:
        names = [a for a, _ in self.args]
        k = len(self.defaults)
        if k:
            names[-k:] = [f"[{a}]" for a in names[-k:]]
        return f"{self.name}({', '.join(names)})"

    @property
    def min_args(self) -> int:
        return len(self.args) - len(self.defaults)

    @property
    def window_index(self) -> int | None:
        for i, (_, kind) in enumerate(self.args):
            if kind is ArgKind.WINDOW:
                return i
        return None


N, W, L, F = ArgKind.NUMBER, ArgKind.WINDOW, ArgKind.LEVELS, ArgKind.FRACTION
_n = lambda n: int(n)  # noqa: E731
_n1 = lambda n: int(n) + 1  # noqa: E731


def _fns(*infos: FunctionInfo) -> Mapping[str, FunctionInfo]:
    return MappingProxyType({f.name: f for f in infos})


FUNCTIONS: Mapping[str, FunctionInfo] = _fns(
    # pure
    FunctionInfo("abs", (("x", N),), Type.NUMBER, False, "absolute value"),
    FunctionInfo("min", (("a", N), ("b", N)), Type.NUMBER, False, "smaller of a and b; NaN if either is NaN"),
    FunctionInfo("max", (("a", N), ("b", N)), Type.NUMBER, False, "larger of a and b; NaN if either is NaN"),
    FunctionInfo("clip", (("x", N), ("lo", N), ("hi", N)), Type.NUMBER, False, "min(max(x, lo), hi)"),
    FunctionInfo("sign", (("x", N),), Type.NUMBER, False, "-1, 0 or 1; NaN for NaN"),
    FunctionInfo(
        "imbalance", (("levels", L),), Type.NUMBER, False,
        "book imbalance (B - A) / (B + A) of the total sizes B, A of the best `levels` levels per "
        "side, 1 <= levels <= " + str(MAX_LEVELS) + " (default 1: bid_size, ask_size); NaN if both are 0",
        defaults=(1,),
    ),
    # stateful, O(1) per update
    FunctionInfo("ema", (("x", N), ("n", W)), Type.NUMBER, True,
                 "exponential moving average, alpha = 2 / (n + 1), seeded with the first value",
                 warmup=_n),
    FunctionInfo("sma", (("x", N), ("n", W)), Type.NUMBER, True, "mean of the last n values",
                 warmup=_n, ring=_n),
    FunctionInfo("std", (("x", N), ("n", W)), Type.NUMBER, True,
                 "population standard deviation of the last n values", warmup=_n, ring=_n),
    FunctionInfo("zscore", (("x", N), ("n", W)), Type.NUMBER, True,
                 "(x - mean) / std over the last n values (x included); 0 when std is 0",
                 warmup=_n, ring=_n),
    FunctionInfo("rolling_min", (("x", N), ("n", W)), Type.NUMBER, True,
                 "minimum of the last n values (monotonic deque, amortised O(1))", warmup=_n, ring=_n),
    FunctionInfo("rolling_max", (("x", N), ("n", W)), Type.NUMBER, True,
                 "maximum of the last n values (monotonic deque, amortised O(1))", warmup=_n, ring=_n),
    FunctionInfo("rolling_median", (("x", N), ("n", W)), Type.NUMBER, True,
                 "median of the last n values (rolling_quantile(x, n, 0.5)); n <= " + str(MAX_QUANTILE_WINDOW), warmup=_n, ring=_n,
                 max_window=MAX_QUANTILE_WINDOW),
    FunctionInfo("rolling_quantile", (("x", N), ("n", W), ("q", F)), Type.NUMBER, True,
                 "q-quantile of the last n values, linear between order statistics (numpy's default); "
                 "q a number literal or parameter in [0, 1]; n <= " + str(MAX_QUANTILE_WINDOW),
                 warmup=_n, ring=_n, max_window=MAX_QUANTILE_WINDOW),
    FunctionInfo("lag", (("x", N), ("n", W)), Type.NUMBER, True, "the value of x n updates ago",
                 warmup=_n1, ring=_n),
    FunctionInfo("change", (("x", N), ("n", W)), Type.NUMBER, True, "x - lag(x, n)",
                 warmup=_n1, ring=_n),
    FunctionInfo("vwap", (("n", W),), Type.NUMBER, True,
                 "volume-weighted average price of the last n trades", warmup=_n, ring=_n,
                 implicit_series=("last", "last_size")),
    FunctionInfo("cross_above", (("a", N), ("b", N)), Type.BOOL, True,
                 "a > b on this update and a <= b on the previous one", warmup=lambda n: 2),
    FunctionInfo("cross_below", (("a", N), ("b", N)), Type.BOOL, True,
                 "a < b on this update and a >= b on the previous one", warmup=lambda n: 2),
)
