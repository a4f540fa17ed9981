"""Pure-Python reference evaluator: the executable definition of the language's semantics.

The generated C++ and the generated Python twin implement exactly these state machines, with
the same operation order, so that on the same inputs they produce bit-identical doubles (C++
must be compiled without ``-ffast-math`` and with ``-ffp-contract=off``). docs/expressions.md
states the same rules in prose.

Rules, per call of :meth:`Evaluator.update` ("an update"):

1. Stateful nodes are updated in slot order, every update, regardless of ``and``/``or`` (there is
   no short-circuit evaluation anywhere).
2. A stateful node whose arguments are not all defined and finite this update does not change
   its state and is undefined (``None``) this update.
3. Any undefined sub-expression makes the whole expression undefined.
4. ``a / 0`` and ``a % 0`` are NaN; ``%`` is C's ``fmod`` (sign of the dividend); every comparison
   involving NaN is false, ``!=`` included.
"""

from __future__ import annotations

import bisect
import math
from typing import Callable, Mapping

from .catalog import FUNCTIONS, Type
from .typed import (BinaryOp, Const, ParamRef, PureCall, SeriesRef, SignalRef, SlotRef, TExpr,
                    TypedExpr, UnaryOp)

__all__ = ["Evaluator", "STATE_CLASSES"]

NAN = float("nan")
Value = float | bool | None


class Ema:
    """alpha = 2/(n+1), beta = 1-alpha; first value seeds; defined once n values were seen."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.alpha = 2.0 / (n + 1.0)
        self.beta = 1.0 - self.alpha
        self.count = 0
        self.value = 0.0

    def update(self, x: float) -> float | None:
        if self.count == 0:
            self.value = x
        else:
            self.value = self.alpha * x + self.beta * self.value
        if self.count < self.n:
            self.count += 1
        return self.value if self.count >= self.n else None


class _Moments:
    """Ring buffer of n values with a sliding mean and M2 (sum of squared deviations).

    Sliding updates accumulate rounding, so a window of n identical values is detected with a
    run-length counter and then snaps exactly to ``mean = x, M2 = 0`` (std 0, zscore 0), which also
    discards any drift accumulated so far.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.ring = [0.0] * n
        self.head = 0
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.prev = 0.0
        self.run = 0

    def push(self, x: float) -> None:
        if self.run > 0 and x == self.prev:
            if self.run < self.n:
                self.run += 1
        else:
            self.run = 1
        self.prev = x
        if self.count < self.n:
            self.ring[self.head] = x
            self.count += 1
            delta = x - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (x - self.mean)
        else:
            old = self.ring[self.head]
            self.ring[self.head] = x
            new_mean = self.mean + (x - old) / self.n
            self.m2 += (x - old) * ((x - new_mean) + (old - self.mean))
            self.mean = new_mean
        if self.m2 < 0.0:
            self.m2 = 0.0
        if self.run == self.n:
            self.mean = x
            self.m2 = 0.0
        self.head += 1
        if self.head == self.n:
            self.head = 0

    def std(self) -> float:
        return math.sqrt(self.m2 / self.n)


class Sma(_Moments):
    def update(self, x: float) -> float | None:
        self.push(x)
        return self.mean if self.count == self.n else None


class Std(_Moments):
    def update(self, x: float) -> float | None:
        self.push(x)
        return self.std() if self.count == self.n else None


class Zscore(_Moments):
    def update(self, x: float) -> float | None:
        self.push(x)
        if self.count < self.n:
            return None
        s = self.std()
        return 0.0 if s == 0.0 else (x - self.mean) / s


class _RollingExtreme:
    """Monotonic deque of (update index, value) held in two ring buffers of capacity n.

    Each value is pushed once and popped at most once: amortised O(1), worst case O(n) for a
    single update (a long monotone run popped at once).
    """

    keep_min = True

    def __init__(self, n: int) -> None:
        self.n = n
        self.idx = [0] * n
        self.val = [0.0] * n
        self.front = 0
        self.size = 0
        self.t = 0

    def update(self, x: float) -> float | None:
        n = self.n
        self.t += 1
        # expire the front if it left the window (t - n, t]
        if self.size and self.idx[self.front] <= self.t - n:
            self.front = (self.front + 1) % n
            self.size -= 1
        # pop dominated values from the back
        while self.size:
            back = (self.front + self.size - 1) % n
            v = self.val[back]
            if (v >= x) if self.keep_min else (v <= x):
                self.size -= 1
            else:
                break
        back = (self.front + self.size) % n
        self.idx[back] = self.t
        self.val[back] = x
        self.size += 1
        return self.val[self.front] if self.t >= n else None


class RollingMin(_RollingExtreme):
    keep_min = True


class RollingMax(_RollingExtreme):
    keep_min = False


class RollingQuantile:
    """q-quantile of the last n values: a ring (arrival order) and the same values kept sorted.

    Per update the value leaving the window is removed at its lower-bound position and the new
    value inserted at its upper-bound position (binary search, then a shift of the elements in
    between): O(log n) comparisons and O(n) moves of doubles, no allocation after start-up.
    The value is linear interpolation between order statistics (numpy's default ``linear``):
    ``h = (n - 1) * q``, ``lo = floor(h)``, ``f = h - lo``; ``s[lo]`` when ``f == 0`` (or lo is
    the last index), else ``s[lo] + f * (s[lo + 1] - s[lo])``.
    """

    def __init__(self, n: int, q: float) -> None:
        self.n = n
        self.q = q
        self.ring = [0.0] * n
        self.sorted: list[float] = []
        self.head = 0

    def update(self, x: float) -> float | None:
        n = self.n
        if len(self.sorted) == n:
            del self.sorted[bisect.bisect_left(self.sorted, self.ring[self.head])]
        bisect.insort_right(self.sorted, x)
        self.ring[self.head] = x
        self.head += 1
        if self.head == n:
            self.head = 0
        if len(self.sorted) < n:
            return None
        h = float(n - 1) * self.q
        lo = math.floor(h)
        f = h - float(lo)
        s = self.sorted
        if f == 0.0 or lo + 1 >= n:
            return s[lo]
        return s[lo] + f * (s[lo + 1] - s[lo])


class Lag:
    def __init__(self, n: int) -> None:
        self.n = n
        self.ring = [0.0] * n
        self.head = 0
        self.count = 0

    def step(self, x: float) -> float | None:
        old = self.ring[self.head] if self.count == self.n else None
        self.ring[self.head] = x
        self.head += 1
        if self.head == self.n:
            self.head = 0
        if self.count < self.n:
            self.count += 1
        return old

    def update(self, x: float) -> float | None:
        return self.step(x)


class Change(Lag):
    def update(self, x: float) -> float | None:
        old = self.step(x)
        return None if old is None else x - old


class Vwap:
    """Last n trades; an update is a trade when last_size > 0, otherwise nothing is pushed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pv = [0.0] * n
        self.v = [0.0] * n
        self.head = 0
        self.count = 0
        self.sum_pv = 0.0
        self.sum_v = 0.0

    def update(self, price: float, size: float) -> float | None:
        if size > 0.0:
            if self.count == self.n:
                self.sum_pv -= self.pv[self.head]
                self.sum_v -= self.v[self.head]
            else:
                self.count += 1
            pv = price * size
            self.pv[self.head] = pv
            self.v[self.head] = size
            self.sum_pv += pv
            self.sum_v += size
            self.head += 1
            if self.head == self.n:
                self.head = 0
        if self.count < self.n:
            return None
        return NAN if self.sum_v <= 0.0 else self.sum_pv / self.sum_v


class _Cross:
    above = True

    def __init__(self, n: int | None) -> None:
        self.has_prev = False
        self.prev_a = 0.0
        self.prev_b = 0.0

    def update(self, a: float, b: float) -> bool | None:
        out: bool | None = None
        if self.has_prev:
            if self.above:
                out = a > b and self.prev_a <= self.prev_b
            else:
                out = a < b and self.prev_a >= self.prev_b
        self.prev_a, self.prev_b, self.has_prev = a, b, True
        return out


class CrossAbove(_Cross):
    above = True


class CrossBelow(_Cross):
    above = False


STATE_CLASSES: Mapping[str, Callable[..., object]] = {
    "ema": Ema, "sma": Sma, "std": Std, "zscore": Zscore, "rolling_min": RollingMin,
    "rolling_max": RollingMax, "rolling_median": RollingQuantile, "rolling_quantile": RollingQuantile, "lag": Lag, "change": Change, "vwap": Vwap,
    "cross_above": CrossAbove, "cross_below": CrossBelow,
}
assert set(STATE_CLASSES) == {f.name for f in FUNCTIONS.values() if f.stateful}, "Invariant: state table"


def _nan_min(a: float, b: float) -> float:
    return NAN if (a != a or b != b) else (b if b < a else a)


def _nan_max(a: float, b: float) -> float:
    return NAN if (a != a or b != b) else (b if b > a else a)


def _sign(x: float) -> float:
    if x != x:
        return NAN
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def _imbalance(bid_size: float, ask_size: float) -> float:
    total = bid_size + ask_size
    return NAN if total == 0.0 else (bid_size - ask_size) / total


def _div(a: float, b: float) -> float:
    return NAN if b == 0.0 else a / b


def _mod(a: float, b: float) -> float:
    if b == 0.0 or a != a or b != b or math.isinf(a):
        return NAN
    return math.fmod(a, b)


def _cmp(op: str, a: float, b: float) -> bool:
    if a != a or b != b:
        return False
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b


_PURE: Mapping[str, Callable[..., float]] = {
    "abs": abs, "min": _nan_min, "max": _nan_max,
    "clip": lambda x, lo, hi: _nan_min(_nan_max(x, lo), hi),
    "sign": _sign, "imbalance": _imbalance,
}
_ARITH: Mapping[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": _div, "%": _mod,
}


class Evaluator:
    """Evaluate a :class:`TypedExpr` update by update.

    ``update(inputs)`` takes this update's value of every series in ``series_used`` and every
    signal in ``signals_used`` (a signal may be ``None`` while it is not warm) and returns the
    expression's value, or ``None`` while it is undefined (not warm).
    """

    def __init__(self, typed: TypedExpr) -> None:
        if not isinstance(typed, TypedExpr):
            raise TypeError(f"Evaluator needs a TypedExpr from check()/compile_expression(), got {type(typed).__name__}")
        self.typed = typed
        self._required = sorted(typed.series_used | typed.signals_used)
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if freshly constructed."""
        self._states = [STATE_CLASSES[n.function](n.window, *n.consts) for n in self.typed.stateful_nodes]
        self._outputs: list[Value] = [None] * len(self._states)
        self.updates = 0

    def update(self, inputs: Mapping[str, float | bool | None]) -> Value:
        missing = [k for k in self._required if k not in inputs]
        if missing:
            raise KeyError(f"evaluator inputs are missing {', '.join(repr(m) for m in missing)} "
                           f"(needs {', '.join(self._required)})")
        self.updates += 1
        outputs = self._outputs
        for node, state in zip(self.typed.stateful_nodes, self._states):
            args = [self._eval(a, inputs) for a in node.args]
            args += [inputs[s] for s in FUNCTIONS[node.function].implicit_series]
            if all(a is not None and math.isfinite(a) for a in args):
                outputs[node.slot] = state.update(*(float(a) for a in args))
            else:
                outputs[node.slot] = None
        return self._eval(self.typed.root, inputs)

    def _eval(self, e: TExpr, inputs: Mapping[str, float | bool | None]) -> Value:
        if isinstance(e, Const | ParamRef):
            return e.value
        if isinstance(e, SeriesRef):
            v = inputs[e.name]
            return None if v is None else float(v)
        if isinstance(e, SignalRef):
            v = inputs[e.name]
            if v is None:
                return None
            return bool(v) if e.type is Type.BOOL else float(v)
        if isinstance(e, SlotRef):
            return self._outputs[e.slot]
        if isinstance(e, UnaryOp):
            v = self._eval(e.operand, inputs)
            if v is None:
                return None
            return (not v) if e.op == "not" else -v
        if isinstance(e, BinaryOp):
            a = self._eval(e.left, inputs)
            b = self._eval(e.right, inputs)  # always both: no short-circuit
            if a is None or b is None:
                return None
            if e.op == "and":
                return a and b
            if e.op == "or":
                return a or b
            fn = _ARITH.get(e.op)
            if fn is not None:
                return fn(a, b)
            return _cmp(e.op, a, b)
        if isinstance(e, PureCall):
            args = [self._eval(a, inputs) for a in e.args]
            args += [inputs[s] for s in FUNCTIONS[e.function].implicit_series]
            if any(a is None for a in args):
                return None
            return float(_PURE[e.function](*(float(a) for a in args)))
        raise TypeError(f"Invariant: unknown typed node {e!r}")
