"""Name resolution, types, windows, warm-up and the typed tree of the expression language."""

from __future__ import annotations

import pytest

from stratforge.core.expr import (FUNCTIONS, MAX_WINDOW, SERIES, DataKind, ExpressionError, ParamRef, SlotRef,
                                       Type, check, compile_expression, parse, to_source, warmup)

PARAMS = {"n": 20, "fast": 5, "k": 2.5, "flag": True, "zero": 0, "neg": -3, "huge": MAX_WINDOW + 1, "wf": 20.0}


def err(text: str, params=PARAMS, **kw) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, params, **kw)
    return info.value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mid", Type.NUMBER), ("1", Type.NUMBER), ("0.5", Type.NUMBER), ("true", Type.BOOL),
        ("k", Type.NUMBER), ("flag", Type.BOOL), ("mid > 1", Type.BOOL), ("not flag", Type.BOOL),
        ("mid + 1 > 2 and flag or false", Type.BOOL), ("-mid % 2", Type.NUMBER),
        ("cross_above(mid, ema(mid, n))", Type.BOOL), ("abs(mid - sma(mid, n))", Type.NUMBER),
        ("imbalance()", Type.NUMBER), ("vwap(n)", Type.NUMBER), ("clip(mid, 1, 2)", Type.NUMBER),
    ],
)
def test_result_types(text, expected):
    assert compile_expression(text, PARAMS).type is expected


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("mid > 1 and ema(mid, 20)", 13, "'and' needs bool operands, right side is number (ema(mid, 20))"),
        ("mid or flag", 1, "'or' needs bool operands, left side is number (mid)"),
        ("not mid", 5, "'not' needs a bool operand, found number (mid)"),
        ("-flag", 2, "unary '-' needs a number operand, found bool (flag)"),
        ("flag + 1", 1, "'+' needs number operands, left side is bool (flag)"),
        ("1 * (mid > 2)", 6, "'*' needs number operands, right side is bool (mid > 2)"),
        ("(mid > 1) < 2", 2, "'<' needs number operands, left side is bool (mid > 1)"),
        ("flag == true", 1, "'==' needs number operands, left side is bool (flag)"),
        ("ema(mid > 1, 3)", 5, "argument 1 (x) of ema must be a number, found bool (mid > 1)"),
        ("abs(true)", 5, "argument 1 (x) of abs must be a number, found bool (true)"),
        ("clip(mid, 1, flag)", 14, "argument 3 (hi) of clip must be a number, found bool (flag)"),
        ("cross_above(mid, flag)", 18, "argument 2 (b) of cross_above must be a number, found bool (flag)"),
    ],
)
def test_type_errors(text, column, message):
    e = err(text)
    assert e.message.startswith(message), e.message
    assert e.column == column
    assert e.expected in ("number", "bool")


def test_expect_result_type():
    assert compile_expression("mid > 1", {}, expect=Type.BOOL).type is Type.BOOL
    e = err("ema(mid, 3)", expect=Type.BOOL)
    assert e.message == "expression must be bool, found number (ema(mid, 3))"


@pytest.mark.parametrize(
    "text, column, suggestion",
    [
        ("emma(mid, 3) > 1", 1, "ema"),
        ("sma(mdi, 3)", 5, "mid"),
        ("Mid > 1", 1, "mid"),
        ("spred < 1", 1, "spread"),
        ("bidsize > 1", 1, "bid_size"),
        ("True", 1, "true"),
        ("zscor(mid, 3)", 1, "zscore"),
        ("rolling_mn(mid, 3)", 1, "rolling_min"),
        ("mid > fsat", 7, "fast"),
        ("sma(mid, fsat)", 10, "fast"),
        ("crossabove(mid, 1)", 1, "cross_above"),
    ],
)
def test_unknown_names_suggest_the_closest(text, column, suggestion):
    e = err(text)
    assert e.message.endswith(f"did you mean '{suggestion}'?"), e.message
    assert e.message.startswith("unknown name")
    assert e.suggestion == suggestion
    assert e.column == column


def test_unknown_name_message_exact():
    assert str(err("emma(mid, 3)")) == "column 1: unknown name 'emma'; did you mean 'ema'?"


def test_unknown_name_without_a_close_match():
    e = err("qqqqqq > 1")
    assert e.suggestion is None
    assert "unknown name 'qqqqqq'" in e.message
    e = err("xyzzy(1)")
    assert "functions are:" in e.message


def test_signals_are_suggested_and_resolved():
    e = err("entry_sgnal and flag", signals={"entry_signal": Type.BOOL})
    assert e.suggestion == "entry_signal"
    t = compile_expression("entry_signal and mid > 1", PARAMS, signals={"entry_signal": Type.BOOL})
    assert t.signals_used == {"entry_signal"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("mid()", "'mid' is a series, not a function"),
        ("k(1)", "'k' is a parameter, not a function"),
        ("ema + 1", "'ema' is a function; call it as ema(x, n)"),
        ("ema(mid)", "ema takes 2 arguments ema(x, n), found 1"),
        ("abs(mid, 1)", "abs takes 1 argument abs(x), found 2"),
        ("imbalance(5, 2)", "imbalance takes 0 or 1 arguments imbalance([levels]), found 2"),
        ("rolling_quantile(mid, 5)", "rolling_quantile takes 3 arguments rolling_quantile(x, n, q), found 2"),
        ("rolling_median(mid)", "rolling_median takes 2 arguments rolling_median(x, n), found 1"),
        ("rolling_median(mid, 5, 0.5)", "rolling_median takes 2 arguments rolling_median(x, n), found 3"),
        ("vwap()", "vwap takes 1 argument vwap(n), found 0"),
    ],
)
def test_misused_names_and_arity(text, fragment):
    assert fragment in err(text).message


# ----------------------------------------------------------------------------------- windows
WINDOWED = [name for name, f in FUNCTIONS.items() if f.window_index is not None]


def _call(fn: str, window: str) -> str:
    if fn == "rolling_quantile":
        return f"{fn}(mid, {window}, 0.5)"
    return f"{fn}({window})" if fn == "vwap" else f"{fn}(mid, {window})"


def _limit(fragment: str, fn: str) -> str:
    """The bound in an expected message is the function's own (quantiles stop at 10000)."""
    top = FUNCTIONS[fn].max_window
    return fragment.replace(str(MAX_WINDOW + 1), str(top + 1)).replace(str(MAX_WINDOW), str(top))


@pytest.mark.parametrize("fn", WINDOWED)
@pytest.mark.parametrize(
    "window, fragment",
    [
        ("0", "must be between 1 and 100000, was 0"),
        ("-5", "must be between 1 and 100000, was -5"),
        (str(MAX_WINDOW + 1), f"must be between 1 and 100000, was {MAX_WINDOW + 1}"),
        ("20.0", "found decimal 20.0"),
        ("1e3", "found decimal 1000.0"),
        ("-2.5", "found decimal -2.5"),
        ("true", "found bool true"),
        ("k", "found float parameter 'k' = 2.5"),
        ("wf", "found float parameter 'wf' = 20.0"),
        ("flag", "found bool parameter 'flag' = true"),
        ("zero", "must be between 1 and 100000, parameter 'zero' is 0"),
        ("neg", "must be between 1 and 100000, parameter 'neg' is -3"),
        ("huge", f"parameter 'huge' is {MAX_WINDOW + 1}"),
        ("mid", "found series 'mid'"),
        ("n * 2", "found expression 'n * 2'"),
        ("(n)", None),
    ],
)
def test_window_errors_name_function_argument_and_bound(fn, window, fragment):
    if FUNCTIONS[fn].max_window != MAX_WINDOW and window in (str(MAX_WINDOW + 1), "huge"):
        window = str(FUNCTIONS[fn].max_window + 1)
        fragment = f"must be between 1 and {FUNCTIONS[fn].max_window}, was {window}"
    text = _call(fn, window)
    if fragment is not None:
        fragment = _limit(fragment, fn)
    if fragment is None:
        compile_expression(text, PARAMS)
        return
    e = err(text)
    assert e.message.startswith(f"window n (argument {2 if fn != 'vwap' else 1}) of {fn} must be"), e.message
    assert fragment in e.message
    assert text[e.column - 1: e.end_column - 1] == window.strip("()")


@pytest.mark.parametrize("fn", WINDOWED)
def test_window_bounds_inclusive(fn):
    for w in ("1", str(FUNCTIONS[fn].max_window), "n"):
        node = compile_expression(_call(fn, w), PARAMS).stateful_nodes[0]
        assert node.window == (20 if w == "n" else int(w))
        assert node.window_param == ("n" if w == "n" else None)


def test_window_parameter_counts_as_used():
    t = compile_expression("sma(mid, n) > k", PARAMS)
    assert t.params_used == {"n": 20, "k": 2.5}


# ------------------------------------------------------------------------- params and signals
@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"mid": 1}, "clashes with the series 'mid'"),
        ({"ema": 1}, "clashes with the function 'ema'"),
        ({"and": 1}, "clashes with the keyword 'and'"),
        ({"x": "1"}, "must be int, float or bool"),
        ({"x": None}, "must be int, float or bool"),
        ({"x": float("nan")}, "must be finite"),
        ({"1x": 1}, "not an identifier"),
    ],
)
def test_bad_params_are_caller_errors(params, fragment):
    with pytest.raises(ValueError, match=fragment):
        compile_expression("mid > 1", params)


def test_bad_signals_are_caller_errors():
    with pytest.raises(ValueError, match="clashes with the param 'k'"):
        compile_expression("mid > 1", {"k": 1}, signals={"k": Type.BOOL})
    with pytest.raises(ValueError, match="must map to a Type or TypedExpr"):
        compile_expression("mid > 1", {}, signals={"s": "bool"})


def test_param_values_are_constants_in_the_tree():
    t = compile_expression("mid > k and flag", PARAMS)
    assert t.root.left.right == ParamRef("k", 2.5, Type.NUMBER)
    assert t.root.right == ParamRef("flag", True, Type.BOOL)


# --------------------------------------------------------------------------- typed tree facts
def test_series_and_data_kinds():
    t = compile_expression("mid > vwap(5) and imbalance() > 0.2", {})
    assert t.series_used == {"mid", "last", "last_size", "bid_size", "ask_size"}
    assert t.data_kinds == {DataKind.BOOK, DataKind.TRADE}
    t = compile_expression("close > sma(close, 3)", {})
    assert t.data_kinds == {DataKind.BAR}
    assert DataKind.BOOK not in compile_expression("high - low > 1", {}).data_kinds


def test_series_table_is_complete():
    for name in ("mid", "spread", "bid", "ask", "bid_size", "ask_size", "last", "last_size", "open", "high",
                 "low", "close", "volume", "microprice"):
        assert SERIES[name].description
    assert SERIES["bid"].kind is DataKind.BOOK and SERIES["close"].kind is DataKind.BAR


def test_stateful_slots_are_post_order_shared_and_stable():
    t = compile_expression("ema(sma(mid, 3), 5) > sma(mid, 3) and cross_above(mid, ema(sma(mid, 3), 5))", {})
    fns = [(n.slot, n.function, n.window) for n in t.stateful_nodes]
    assert fns == [(0, "sma", 3), (1, "ema", 5), (2, "cross_above", None)]
    ema = t.stateful_nodes[1]
    assert ema.args == (SlotRef(0, Type.NUMBER),)
    assert ema.series == {"mid"}
    assert ema.source == "ema(sma(mid, 3), 5)"
    assert t.root.left.left == SlotRef(1, Type.NUMBER)
    again = compile_expression(to_source(t), {})
    assert again.stateful_nodes == t.stateful_nodes


def test_ring_capacity_and_own_warmup():
    t = compile_expression(
        "ema(mid, 4) + sma(mid, 4) + std(mid, 4) + zscore(mid, 4) + rolling_min(mid, 4) + rolling_max(mid, 4)"
        " + lag(mid, 4) + change(mid, 4) + vwap(4) > 0 and cross_below(mid, 1)", {})
    got = {n.function: (n.ring_capacity, n.own_warmup) for n in t.stateful_nodes}
    assert got == {"ema": (0, 4), "sma": (4, 4), "std": (4, 4), "zscore": (4, 4), "rolling_min": (4, 4),
                   "rolling_max": (4, 4), "lag": (4, 5), "change": (4, 5), "vwap": (4, 4), "cross_below": (0, 2)}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2", 0), ("k > 1", 0), ("mid", 1), ("imbalance()", 1), ("sma(mid, 20)", 20), ("ema(mid, 5)", 5),
        ("lag(mid, 3)", 4), ("change(mid, 3)", 4), ("cross_above(mid, 1)", 2), ("sma(1, 3)", 3),
        ("ema(sma(mid, 10), 5)", 14), ("lag(lag(mid, 2), 3)", 6), ("sma(mid, 20) > ema(mid, 50)", 50),
        ("cross_above(sma(mid, 5), sma(mid, 10))", 11), ("zscore(mid, n) > 1", 20), ("vwap(7)", 7),
    ],
)
def test_warmup_composes(text, expected):
    t = compile_expression(text, PARAMS)
    assert warmup(t) == t.warmup == expected


def test_signal_warmup_comes_from_its_typed_expr():
    slow = compile_expression("sma(mid, 30)", {})
    t = compile_expression("ema(slow, 10)", {}, signals={"slow": slow})
    assert t.warmup == 39
    assert compile_expression("ema(slow, 10)", {}, signals={"slow": Type.NUMBER}).warmup == 10


def test_check_takes_a_parsed_tree():
    node = parse("mid > sma(mid, n)")
    t = check(node, PARAMS)
    assert t.node is node
    assert t.to_source() == "mid > sma(mid, n)"
    with pytest.raises(TypeError):
        check("mid", {})  # type: ignore[arg-type]
