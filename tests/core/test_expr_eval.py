"""Reference evaluator: the exact incremental semantics the generated C++ and Python implement."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from stratforge.core.expr import Evaluator, Type, compile_expression

NAN = float("nan")


def run(text: str, stream, params=None, key="mid", **kw):
    ev = Evaluator(compile_expression(text, params or {}, **kw))
    out = []
    for item in stream:
        inputs = item if isinstance(item, dict) else {key: item}
        out.append(ev.update(inputs))
    return out


def close(a, b, tol=1e-12):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def assert_stream(got, want, tol=1e-12):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert close(g, w, tol), f"update {i + 1}: got {g}, want {w}"


def test_sma():
    assert run("sma(mid, 3)", [1, 2, 3, 4, 5]) == [None, None, 2.0, 3.0, 4.0]


def test_ema_seeded_with_first_value_and_warm_after_n():
    # alpha = 2 / (3 + 1) = 0.5
    assert run("ema(mid, 3)", [1, 2, 3, 4]) == [None, None, 2.25, 3.125]
    assert run("ema(mid, 1)", [5, 7]) == [5.0, 7.0]


def test_std_population():
    assert_stream(run("std(mid, 3)", [1, 2, 3, 4, 4, 4, 4]),
                  [None, None, math.sqrt(2 / 3), math.sqrt(2 / 3), math.sqrt(2 / 9), 0.0, 0.0])


def test_zscore_includes_current_value_and_zero_std_gives_zero():
    z = math.sqrt(1.5)  # (3 - 2) / sqrt(2/3)
    assert_stream(run("zscore(mid, 3)", [1, 2, 3, 5, 5, 5]),
                  [None, None, z, (5 - 10 / 3) / statistics.pstdev([2, 3, 5]), (5 - 13 / 3) / statistics.pstdev([3, 5, 5]), 0.0])
    assert run("zscore(mid, 2)", [7, 7, 7]) == [None, 0.0, 0.0]


def test_rolling_min_max():
    stream = [5, 3, 4, 1, 2, 6, 7]
    assert run("rolling_min(mid, 3)", stream) == [None, None, 3, 1, 1, 1, 2]
    assert run("rolling_max(mid, 3)", stream) == [None, None, 5, 4, 4, 6, 7]
    assert run("rolling_max(mid, 1)", stream) == stream


def test_lag_and_change():
    assert run("lag(mid, 2)", [1, 2, 3, 4]) == [None, None, 1, 2]
    assert run("change(mid, 2)", [1, 2, 4, 8]) == [None, None, 3, 6]
    assert run("lag(mid, 1)", [1, 2, 3]) == [None, 1, 2]


def test_vwap_counts_trades_not_updates():
    stream = [
        {"last": 10, "last_size": 1},
        {"last": 10, "last_size": 0},  # quote update: no trade
        {"last": 12, "last_size": 3},
        {"last": 12, "last_size": 0},
        {"last": 13, "last_size": 1},
    ]
    assert run("vwap(2)", stream) == [None, None, 11.5, 11.5, 12.25]


def test_cross_above_and_below():
    a = [1, 2, 3, 2, 1, 2, 2]
    stream = [{"mid": x, "last": 2} for x in a]
    # equal is not crossed: a must be strictly beyond b now and not beyond it before
    assert run("cross_above(mid, last)", stream) == [None, False, True, False, False, False, False]
    assert run("cross_below(mid, last)", stream) == [None, False, False, False, True, False, False]
    stream = [{"mid": x, "last": 2} for x in [1, 3, 1, 3]]
    assert run("cross_above(mid, last)", stream) == [None, True, False, True]
    assert run("cross_below(mid, last)", stream) == [None, False, True, False]


def test_imbalance():
    rows = [{"bid_size": 3, "ask_size": 1}, {"bid_size": 1, "ask_size": 3}, {"bid_size": 0, "ask_size": 0}]
    assert_stream(run("imbalance()", rows), [0.5, -0.5, NAN])


@pytest.mark.parametrize(
    "text, value",
    [
        ("abs(-mid)", 2.0), ("sign(-mid)", -1.0), ("sign(mid - 2)", 0.0), ("min(mid, 1)", 1.0),
        ("max(mid, 1)", 2.0), ("clip(mid, 0, 1)", 1.0), ("clip(mid, 3, 4)", 3.0), ("clip(mid, 5, 4)", 4.0),
        ("mid / 0", NAN), ("mid % 0", NAN), ("-7 % 3", -1.0), ("7 % -3", 1.0), ("7.5 % 2", 1.5),
        ("mid / 4", 0.5), ("1 - 2 - 3", -4.0), ("2 * 3 + 1", 7.0), ("mid > 1 and not (mid > 3)", True),
        ("mid < 1 or false", False), ("sign(mid / 0)", NAN), ("min(mid / 0, 1)", NAN), ("max(1, mid / 0)", NAN),
        ("abs(mid / 0)", NAN), ("0 / 0", NAN), ("1e308 * 10", math.inf), ("-1e308 * 10 % 2", NAN),
    ],
)
def test_pure_arithmetic(text, value):
    assert_stream(run(text, [2]), [value])


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_with_nan_are_false(op):
    assert run(f"mid / 0 {op} 1", [1]) == [False]
    assert run(f"1 {op} mid / 0", [1]) == [False]
    assert run(f"not (mid / 0 {op} 1)", [1]) == [True]


def test_nan_input_to_stateful_node_skips_its_update():
    # NaN neither enters the window nor counts towards warm-up; the node is undefined that update
    assert run("sma(mid, 2)", [1, NAN, 3, math.inf, 5]) == [None, None, 2.0, None, 4.0]
    # pure expressions see NaN directly
    assert_stream(run("mid + 1", [NAN]), [NAN])


def test_undefined_propagates_without_short_circuit():
    ev = Evaluator(compile_expression("flag and cross_above(mid, 1)", {}, signals={"flag": Type.BOOL}))
    ref = Evaluator(compile_expression("cross_above(mid, 1)", {}))
    stream = [(False, 0), (None, 2), (False, 0), (True, 2)]
    got = []
    for flag, mid in stream:
        got.append(ev.update({"flag": flag, "mid": mid}))
        ref.update({"mid": mid})
    # state advances on every update, even when 'flag' is false or undefined
    assert got == [None, None, False, True]


def test_signal_values_are_inputs():
    sig = compile_expression("sma(mid, 2)", {})
    t = compile_expression("sig > 1.5", {}, signals={"sig": sig})
    ev_sig, ev = Evaluator(sig), Evaluator(t)
    out = []
    for x in [1, 2, 3]:
        s = ev_sig.update({"mid": x})
        out.append(ev.update({"sig": s}))
    assert out == [None, False, True]


def test_missing_input_is_a_key_error():
    ev = Evaluator(compile_expression("mid > vwap(3)", {}))
    with pytest.raises(KeyError, match="'last', 'last_size'"):
        ev.update({"mid": 1})


def test_reset_and_update_count():
    ev = Evaluator(compile_expression("sma(mid, 2)", {}))
    assert [ev.update({"mid": x}) for x in (1, 3)] == [None, 2.0]
    assert ev.updates == 2
    ev.reset()
    assert ev.updates == 0
    assert ev.update({"mid": 5}) is None


def test_warmup_matches_first_defined_update():
    texts = ["ema(sma(mid, 10), 5)", "lag(lag(mid, 2), 3)", "cross_above(sma(mid, 5), sma(mid, 10))",
             "zscore(change(mid, 3), 4) > 0", "rolling_max(std(mid, 3), 4) + lag(mid, 9)"]
    rng = random.Random(7)
    stream = [rng.uniform(1, 2) for _ in range(40)]
    for text in texts:
        t = compile_expression(text, {})
        out = run(text, stream)
        first = next(i for i, v in enumerate(out, start=1) if v is not None)
        assert first == t.warmup, text
        assert all(v is not None for v in out[first - 1:]), text


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_windows_match_brute_force(n):
    rng = random.Random(n)
    xs = [round(rng.uniform(-50, 50), rng.choice([0, 2, 6])) for _ in range(300)]
    for i in range(40, 80):  # plateaus and monotone runs exercise the deque
        xs[i] = 3.0 if i < 60 else float(i)
    results = {fn: run(f"{fn}(mid, {n})", xs) for fn in
               ("sma", "std", "zscore", "rolling_min", "rolling_max", "lag", "change")}
    for t in range(len(xs)):
        win = xs[max(0, t - n + 1): t + 1]
        if t + 1 < n:
            assert all(results[fn][t] is None for fn in ("sma", "std", "zscore", "rolling_min", "rolling_max"))
            continue
        mean = sum(win) / n
        sd = statistics.pstdev(win)
        assert close(results["sma"][t], mean, 1e-9)
        assert close(results["std"][t], sd, 1e-7)
        assert results["rolling_min"][t] == min(win)
        assert results["rolling_max"][t] == max(win)
        if sd > 1e-6:
            assert close(results["zscore"][t], (xs[t] - mean) / sd, 1e-6)
        if t >= n:
            assert results["lag"][t] == xs[t - n]
            assert results["change"][t] == xs[t] - xs[t - n]


def test_ema_matches_recurrence():
    xs = [float(i % 7) for i in range(50)]
    out = run("ema(mid, 4)", xs)
    e, alpha = xs[0], 2.0 / 5.0
    for t, x in enumerate(xs):
        if t:
            e = alpha * x + (1.0 - alpha) * e
        assert out[t] == (e if t >= 3 else None)


def test_evaluator_rejects_untyped_input():
    with pytest.raises(TypeError):
        Evaluator("mid")  # type: ignore[arg-type]
