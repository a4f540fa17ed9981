"""The quant functions of issue 10 item 6 in the language itself: rolling_median, rolling_quantile,
imbalance(levels) and the depth series, the position series, and the data-kind errors.

Values are checked against independent computations (numpy's quantile, a sort of the window
per update, sums written out here), errors against the exact message and column.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from stratforge.core.expr import (FUNCTIONS, MAX_LEVELS, MAX_QUANTILE_WINDOW, SERIES, DataKind, Evaluator,
                                       ExpressionError, Type, compile_expression, depth_series)
from stratforge.core.errors import SpecError
from stratforge.generator.render import render_context
from stratforge.generator.render.signal_codegen import SERIES_ORDER, build_signal_set, compile_signals, cpp_runtime
from stratforge.core.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
PARAMS = {"w": 7, "q": 0.3, "big": MAX_QUANTILE_WINDOW + 1, "qbad": 1.25, "flag": True, "lv": 4, "lv0": 0}
NAN = float("nan")


def err(text: str, params=PARAMS, **kw) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, params, **kw)
    return info.value


def run(text: str, rows: list[dict], params=PARAMS) -> list:
    ev = Evaluator(compile_expression(text, params))
    return [ev.update(r) for r in rows]


# ------------------------------------------------------------------------ rolling quantiles
@pytest.mark.parametrize("n", [1, 2, 5, 8, 33])
@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_rolling_quantile_matches_numpy_and_a_sort_of_the_window(n, q):
    rng = random.Random(n * 1000 + int(q * 100))
    # prices with many ties (a tick grid) and some large moves
    xs = [round(rng.gauss(50.0, 3.0) * 4) / 4 + (1000.0 if rng.random() < 0.02 else 0.0) for _ in range(400)]
    got = run(f"rolling_quantile(close, {n}, {q!r})", [{"close": x} for x in xs])
    assert got[: n - 1] == [None] * (n - 1)
    for t in range(n - 1, len(xs)):
        window = sorted(xs[t - n + 1: t + 1])
        h = (n - 1) * q
        lo = math.floor(h)
        exact = window[lo] if h == lo else window[lo] + (h - lo) * (window[lo + 1] - window[lo])
        assert got[t] == exact, (t, got[t], exact)
        assert got[t] == pytest.approx(float(np.quantile(window, q)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [1, 3, 4, 10, 11])
def test_rolling_median_is_the_middle_or_the_mean_of_the_two_middles(n):
    rng = random.Random(n)
    xs = [float(rng.randint(-20, 20)) for _ in range(200)]
    got = run(f"rolling_median(volume, {n})", [{"volume": x} for x in xs])
    for t in range(n - 1, len(xs)):
        assert got[t] == float(np.median(xs[t - n + 1: t + 1]))
    same = run(f"rolling_quantile(volume, {n}, 0.5)", [{"volume": x} for x in xs])
    assert got == same


def test_quantile_skips_undefined_and_non_finite_inputs_and_warms_on_defined_ones():
    rows = [{"close": v} for v in (3.0, None, NAN, 1.0, math.inf, 2.0, 10.0, -math.inf, 0.5)]
    got = run("rolling_median(close, 3)", rows)
    # defined finite values: 3, 1, 2 -> median 2 at update 6; then 1, 2, 10 -> 2; then 2, 10, 0.5 -> 2
    assert got == [None, None, None, None, None, 2.0, 2.0, None, 2.0]


def test_quantile_warmup_and_state_constant():
    t = compile_expression("rolling_quantile(ema(close, 3), w, q) > 1", PARAMS)
    assert t.warmup == 3 + 7 - 1
    node = t.stateful_nodes[-1]
    assert (node.function, node.window, node.consts, node.window_param) == ("rolling_quantile", 7, (0.3,), "w")
    assert t.params_used == {"q": 0.3, "w": 7}
    assert compile_expression("rolling_median(close, 4)", {}).stateful_nodes[0].consts == (0.5,)


def test_quantiles_with_different_q_do_not_share_a_slot_and_equal_ones_do():
    typed = compile_signals({"a": "rolling_quantile(mid, 5, 0.2)", "b": "rolling_quantile(mid, 5, 0.8)",
                             "c": "rolling_quantile(mid, 5, 0.2) + 1"}, {})
    sigset = build_signal_set(typed)
    assert [(s.function, s.consts) for s in sigset.slots] == [("rolling_quantile", (0.2,)),
                                                               ("rolling_quantile", (0.8,))]


@pytest.mark.parametrize("text, message, span", [
    ("rolling_quantile(mid, 5)", "rolling_quantile takes 3 arguments rolling_quantile(x, n, q), found 2",
     "rolling_quantile(mid, 5)"),
    ("rolling_median(mid)", "rolling_median takes 2 arguments rolling_median(x, n), found 1", "rolling_median(mid)"),
    ("rolling_median(mid, 0)", "window n (argument 2) of rolling_median must be between 1 and 10000, was 0", "0"),
    ("rolling_median(mid, 10001)", "window n (argument 2) of rolling_median must be between 1 and 10000, "
     "was 10001", "10001"),
    ("rolling_quantile(mid, big, 0.5)", "window n (argument 2) of rolling_quantile must be between 1 and "
     "10000, parameter 'big' is 10001", "big"),
    ("rolling_quantile(mid, 5, 1.5)", "q (argument 3) of rolling_quantile must be between 0 and 1, was 1.5", "1.5"),
    ("rolling_quantile(mid, 5, -0.1)", "q (argument 3) of rolling_quantile must be between 0 and 1, was -0.1",
     "-0.1"),
    ("rolling_quantile(mid, 5, 2)", "q (argument 3) of rolling_quantile must be between 0 and 1, was 2", "2"),
    ("rolling_quantile(mid, 5, qbad)", "q (argument 3) of rolling_quantile must be between 0 and 1, parameter "
     "'qbad' is 1.25", "qbad"),
    ("rolling_quantile(mid, 5, flag)", "q (argument 3) of rolling_quantile must be a number literal or number "
     "parameter between 0 and 1, found bool parameter 'flag' = true", "flag"),
    ("rolling_quantile(mid, 5, mid)", "found 'mid' (it is a constant of the function's state, so it cannot vary)",
     "mid"),
    ("rolling_quantile(mid, 5, 1 - q)", "found '1 - q'", "1 - q"),
    ("rolling_quantile(mid, 5, qq)", "unknown name 'qq'; did you mean 'q'?", "qq"),
    ("rolling_quantile(mid > 1, 5, q)", "argument 1 (x) of rolling_quantile must be a number, found bool",
     "mid > 1"),
])
def test_quantile_errors_name_the_argument_and_point_at_it(text, message, span):
    e = err(text)
    assert message in e.message, e.message
    assert text[e.column - 1: e.end_column - 1] == span


# ------------------------------------------------------------------ imbalance over levels
def test_imbalance_levels_reads_the_depth_series():
    assert compile_expression("imbalance()", {}).series_used == {"bid_size", "ask_size"}
    assert compile_expression("imbalance(1)", {}).series_used == {"bid_size", "ask_size"}
    assert compile_expression("imbalance(lv)", PARAMS).series_used == {"bid_depth4", "ask_depth4"}
    assert compile_expression("imbalance(10)", {}).series_used == {"bid_depth10", "ask_depth10"}
    for k in range(2, MAX_LEVELS + 1):
        assert SERIES[depth_series("bid", k)].kind is DataKind.BOOK
    rows = [{"bid_depth3": 30.0, "ask_depth3": 10.0}, {"bid_depth3": 0.0, "ask_depth3": 0.0},
            {"bid_depth3": None, "ask_depth3": 5.0}, {"bid_depth3": 1.0, "ask_depth3": 4.0}]
    got = run("imbalance(3)", rows)
    assert got[0] == 0.5 and math.isnan(got[1]) and got[2] is None and got[3] == -0.6


def test_imbalance_one_level_is_the_top_of_book_imbalance():
    rows = [{"bid_size": b, "ask_size": a} for b, a in ((3.0, 1.0), (0.25, 7.5), (2.0, 2.0))]
    assert run("imbalance()", rows) == run("imbalance(1)", rows) == [0.5, (0.25 - 7.5) / 7.75, 0.0]


@pytest.mark.parametrize("text, message, span", [
    ("imbalance(0)", "levels (argument 1) of imbalance must be between 1 and 10, was 0", "0"),
    ("imbalance(11)", "levels (argument 1) of imbalance must be between 1 and 10, was 11", "11"),
    ("imbalance(lv0)", "levels (argument 1) of imbalance must be between 1 and 10, parameter 'lv0' is 0", "lv0"),
    ("imbalance(2.0)", "must be an integer literal or int parameter between 1 and 10, found decimal 2.0", "2.0"),
    ("imbalance(q)", "found float parameter 'q' = 0.3", "q"),
    ("imbalance(mid)", "found series 'mid' (the levels read are fixed, so they cannot vary)", "mid"),
    ("imbalance(3, 4)", "imbalance takes 0 or 1 arguments imbalance([levels]), found 2", "imbalance(3, 4)"),
])
def test_imbalance_level_errors(text, message, span):
    e = err(text)
    assert message in e.message, e.message
    assert text[e.column - 1: e.end_column - 1] == span


# --------------------------------------------------------------------------- data kinds
BAR = {DataKind.BAR, DataKind.POSITION}
BOOK = {DataKind.BOOK, DataKind.TRADE, DataKind.POSITION}


@pytest.mark.parametrize("text, data, message, span", [
    ("imbalance(3) > 0", BAR, "imbalance(3) needs book data (it reads series 'bid_depth3'), but this strategy's "
     "data is bar", "imbalance(3)"),
    ("imbalance() > 0", BAR, "imbalance() needs book data (it reads series 'bid_size')", "imbalance()"),
    ("close > vwap(5)", BAR, "vwap(5) needs trade data (it reads series 'last')", "vwap(5)"),
    ("rolling_median(bid_depth2, 3)", BAR, "series 'bid_depth2' needs book data, but this strategy's data is bar",
     "bid_depth2"),
    ("rolling_median(close, 3) > mid", BOOK, "series 'close' needs bar data, but this strategy's data is book, trade",
     "close"),
    ("entry_price > 1", {DataKind.BAR}, "series 'entry_price' needs position data", "entry_price"),
])
def test_a_series_of_another_data_kind_is_an_error_at_its_column(text, data, message, span):
    e = err(text, data=data)
    assert message in e.message, e.message
    assert text[e.column - 1: e.end_column - 1] == span


def test_position_series_are_allowed_with_any_market_data():
    for data in (BAR, BOOK):
        t = compile_expression("position > 0 and entry_price > 0 and time_in_position < 5 and bars_in_position > 1",
                               {}, data=data)
        assert t.data_kinds == {DataKind.POSITION} and t.type is Type.BOOL


def test_compile_signals_names_the_signal_in_the_error():
    with pytest.raises(ExpressionError) as info:
        compile_signals({"ok": "close > 1", "bad": "imbalance(2) > 0"}, {}, data=BAR)
    assert info.value.message.startswith("signal 'bad' (imbalance(2) > 0): imbalance(2) needs book data")
    assert info.value.column == 1


# ------------------------------------------------------ the host's view of the series list
def test_cpp_inputs_and_python_series_list_every_series_in_order():
    body = re.search(r"struct Inputs \{(.*?)\};", cpp_runtime(), re.S).group(1)
    fields = re.findall(r"\b([a-z_0-9]+)\b", re.sub(r"//[^\n]*", "", body.replace("V ", " ")))
    assert tuple(fields) == SERIES_ORDER
    helpers = (REPO / "templates" / "python" / "sections" / "helpers.j2").read_text()
    listed = re.search(r"^SERIES = \((.*?)\)$", helpers, re.S | re.M).group(1)
    assert tuple(re.findall(r'"([a-z_0-9]+)"', listed)) == SERIES_ORDER


def test_catalog_rows_for_the_new_functions():
    assert FUNCTIONS["rolling_quantile"].max_window == FUNCTIONS["rolling_median"].max_window == MAX_QUANTILE_WINDOW
    assert FUNCTIONS["imbalance"].signature == "imbalance([levels])"
    assert FUNCTIONS["rolling_quantile"].signature == "rolling_quantile(x, n, q)"


# ------------------------------------------------------------------------------------ docs
DOC = (REPO / "docs" / "expressions.md").read_text()


def test_docs_list_every_function_and_series():
    for name in FUNCTIONS:
        assert f"`{name}(" in DOC, f"docs/expressions.md does not document {name}"
    for name in SERIES:
        if re.fullmatch(r"(bid|ask)_depth\d+", name):
            continue  # documented as a range: bid_depth2 ... bid_depth10
        assert f"`{name}`" in DOC, f"docs/expressions.md does not document the series {name}"
    assert "`bid_depth2` … `bid_depth10`" in DOC and "`ask_depth2` … `ask_depth10`" in DOC
    assert "not offered yet" not in DOC


@pytest.mark.parametrize("text, data", [
    ("rolling_quantile(mid, 5, 1.5)", None), ("rolling_median(mid, 20000)", None), ("imbalance(11)", None),
    ("imbalance(3) > 0", BAR),
])
def test_documented_error_examples_are_the_real_messages(text, data):
    e = err(text, {}, data=data)
    assert f"{str(e)}" in DOC, str(e)


def test_requote_interval_is_a_validated_market_making_parameter(tmp_path):
    spec = (REPO / "tests" / "generator" / "render" / "specs" / "exprfn-mm-timed.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.replace("requote_interval_ns: 1700000000", "requote_interval_ns: 0"))
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "requote_interval_ns: 0" in t)
    assert f"bad.yaml:{line}:" in str(info.value) and "requote_interval_ns" in str(info.value)
    (tmp_path / "off").mkdir()
    off = tmp_path / "off" / "exprfn-mm-timed.yaml"  # a spec's name must match its file name
    off.write_text(spec.replace("    requote_interval_ns: 1700000000\n", ""))
    params = {p.name: p.value for p in render_context(load_spec(off), build_id="x").params}
    assert params["requote_interval_ns"] == 0
