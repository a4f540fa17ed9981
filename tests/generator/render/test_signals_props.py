"""Property: rendered C++ == rendered Python == the reference Evaluator, bit for bit.

Random well-typed signal sets (1-3 named signals, later ones may read earlier ones) and random
update streams (undefined, NaN, inf, ties, zero sizes) go through (1) core/expr's Evaluator,
(2) the rendered Python class and (3) the rendered C++ struct. Hypothesis drives (1) vs (2)
example by example (so failures shrink); every drawn case is then compiled into ONE C++
translation unit (one compile per test run) and (3) must reproduce the same outputs exactly.
"""

from __future__ import annotations

import math
import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratforge.core.expr import Evaluator, Type
from stratforge.generator.render.signal_codegen import (SERIES_ORDER, build_signal_set, compile_signals,
                                                        cpp_runtime, python_runtime, render_cpp, render_python)

from .cxx import compile_cpp, encode_value, needs_cxx

PARAMS = {"w": 3, "k": 1.5, "flag": True, "qp": 0.3, "lv": 4}
WINDOWS = ["1", "2", "3", "4", "w", "5"]
SERIES_PICK = ["mid", "spread", "bid_size", "ask_size", "last", "last_size", "close", "volume", "bid_depth3",
               "ask_depth10", "position", "entry_price", "time_in_position", "bars_in_position"]
STATEFUL1 = ["ema", "sma", "std", "zscore", "rolling_min", "rolling_max", "lag", "change", "rolling_median"]
QUANTILES = ["0", "1", "0.5", "0.25", "0.9", "qp", "1e-05", "0.999"]
LEVELS = ["", "1", "2", "5", "10", "lv"]
MAX_CPP_CASES = 120


def _num(draw, depth: int, sig_nums: list[str]) -> str:
    leaves = ["series", "int", "dec", "param"] + (["sig"] if sig_nums else [])
    kinds = leaves if depth <= 0 else leaves + ["arith", "arith", "neg", "pure", "stateful", "stateful", "vwap",
                                                "quantile"]
    kind = draw(st.sampled_from(kinds))
    if kind == "series":
        return draw(st.sampled_from(SERIES_PICK))
    if kind == "int":
        return str(draw(st.integers(0, 4)))
    if kind == "dec":
        return draw(st.sampled_from(["0.5", "2.0", "0.1", "1e-05", "3.25"]))
    if kind == "param":
        return draw(st.sampled_from(["k", "w"]))
    if kind == "sig":
        return draw(st.sampled_from(sig_nums))
    if kind == "arith":
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({_num(draw, depth - 1, sig_nums)} {op} {_num(draw, depth - 1, sig_nums)})"
    if kind == "neg":
        return f"-({_num(draw, depth - 1, sig_nums)})"
    if kind == "pure":
        fn = draw(st.sampled_from(["abs", "sign", "min", "max", "clip", "imbalance"]))
        if fn == "imbalance":
            return f"imbalance({draw(st.sampled_from(LEVELS))})"
        arity = {"abs": 1, "sign": 1, "min": 2, "max": 2, "clip": 3}[fn]
        return f"{fn}({', '.join(_num(draw, depth - 1, sig_nums) for _ in range(arity))})"
    if kind == "quantile":
        x = _num(draw, depth - 1, sig_nums)
        return f"rolling_quantile({x}, {draw(st.sampled_from(WINDOWS))}, {draw(st.sampled_from(QUANTILES))})"
    if kind == "stateful":
        fn = draw(st.sampled_from(STATEFUL1))
        return f"{fn}({_num(draw, depth - 1, sig_nums)}, {draw(st.sampled_from(WINDOWS))})"
    return f"vwap({draw(st.sampled_from(WINDOWS))})"


def _bool(draw, depth: int, sig_nums: list[str], sig_bools: list[str]) -> str:
    leaves = ["cmp", "lit"] + (["sig"] if sig_bools else [])
    kinds = leaves if depth <= 0 else leaves + ["cmp", "cross", "andor", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind == "lit":
        return draw(st.sampled_from(["true", "false", "flag"]))
    if kind == "sig":
        return draw(st.sampled_from(sig_bools))
    if kind == "cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"({_num(draw, depth - 1, sig_nums)} {op} {_num(draw, depth - 1, sig_nums)})"
    if kind == "cross":
        fn = draw(st.sampled_from(["cross_above", "cross_below"]))
        return f"{fn}({_num(draw, depth - 1, sig_nums)}, {_num(draw, depth - 1, sig_nums)})"
    if kind == "andor":
        op = draw(st.sampled_from(["and", "or"]))
        return f"({_bool(draw, depth - 1, sig_nums, sig_bools)} {op} {_bool(draw, depth - 1, sig_nums, sig_bools)})"
    return f"(not {_bool(draw, depth - 1, sig_nums, sig_bools)})"


@st.composite
def signal_sets(draw) -> dict[str, str]:
    texts: dict[str, str] = {}
    nums: list[str] = []
    bools: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        name = f"s{i}"
        depth = draw(st.integers(1, 4))
        if draw(st.booleans()):
            texts[name] = _bool(draw, depth, nums, bools)
            bools.append(name)
        else:
            texts[name] = _num(draw, depth, nums)
            nums.append(name)
    return texts


_VALUES = st.one_of(
    st.none(), st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.0, 3.0, 100.25, 1e308, -1e308]),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e300]),
    st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 5).map(float),
)


@st.composite
def streams(draw) -> list[dict[str, float | None]]:
    n = draw(st.integers(1, 30))
    out = []
    sticky = {s: draw(_VALUES) for s in SERIES_ORDER}
    for _ in range(n):
        row = {}
        for s in SERIES_ORDER:
            if draw(st.integers(0, 3)) == 0:
                sticky[s] = draw(_VALUES)
            row[s] = sticky[s]
        if draw(st.booleans()):
            row["last_size"] = 0.0
        out.append(row)
    return out


def reference_outputs(typed: dict, stream: list[dict]) -> list[list]:
    evals = {name: Evaluator(t) for name, t in typed.items()}
    rows = []
    for inputs in stream:
        values: dict = {}
        for name, ev in evals.items():
            values[name] = ev.update({**inputs, **values})
        rows.append([values[n] for n in typed])
    return rows


def python_outputs(typed: dict, stream: list[dict]) -> list[list]:
    sigset = build_signal_set(typed)
    ns: dict = {}
    exec("import math\n" + python_runtime() + "\n" + render_python(sigset), ns)  # noqa: S102 - our own render
    obj = ns["Signals"]()
    rows = []
    for inputs in stream:
        obj.update(inputs)
        rows.append([getattr(obj, f"sig_{n}") for n in typed])
    return rows


def _enc(rows: list[list]) -> list[str]:
    return [" ".join(encode_value(v) for v in row) for row in rows]


def _cpp_batch(cases: list[tuple[dict, list[dict], list[str]]], tmp_path) -> str:
    parts = ["#include <algorithm>", "#include <array>", "#include <cmath>", "#include <cstdint>", "#include <cstdio>", "#include <cstring>",
             "#include <limits>", "#include <memory>", "#include <string>", "#include <iostream>", "",
             cpp_runtime(), ""]
    for i, (typed, _, _) in enumerate(cases):
        parts.append(f"namespace case{i} {{")
        parts.append(render_cpp(build_signal_set(typed)))
        parts.append("}")
    parts.append(r"""
static sfsig::V read_value(const std::string& tok) {
  if (tok == "u") return sfsig::V{};
  std::uint64_t bits = std::stoull(tok, nullptr, 16);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return sfsig::V{d, true};
}
static void print_value(sfsig::V v) {
  if (!v.ok) { std::printf(" u"); return; }
  if (std::isnan(v.v)) { std::printf(" nan"); return; }
  std::uint64_t bits;
  std::memcpy(&bits, &v.v, sizeof bits);
  std::printf(" %016llx", static_cast<unsigned long long>(bits));
}
static void print_value(sfsig::B b) { std::printf(b.ok ? (b.v ? " T" : " F") : " u"); }
static bool read_inputs(sfsig::Inputs& in) {
  sfsig::V* f[] = {@FIELDS@};
  for (auto* p : f) {
    std::string tok;
    if (!(std::cin >> tok)) return false;
    *p = read_value(tok);
  }
  return true;
}
int main() {
  int c = 0, n = 0;
  while (std::cin >> c >> n) {
    std::printf("case %d\n", c);
    switch (c) {
""")
    parts[-1] = parts[-1].replace("@FIELDS@", ", ".join(f"&in.{name}" for name in SERIES_ORDER))
    for i, (typed, _, _) in enumerate(cases):
        prints = " ".join(f"print_value(s->sig_{name}());" for name in typed)
        parts.append(f"      case {i}: {{ auto s = std::make_unique<case{i}::Signals>(); for (int k = 0; k < n; ++k) {{"
                     f" sfsig::Inputs in; if (!read_inputs(in)) return 2; s->update(in); {prints} std::printf(\"\\n\"); }} break; }}")
    parts.append("      default: return 3;\n    }\n  }\n  return 0;\n}\n")
    src = tmp_path / "signals_batch.cpp"
    src.write_text("\n".join(parts))
    exe = tmp_path / "signals_batch"
    compile_cpp([src], exe, extra=["-Wno-unused-function"])
    feed = []
    for i, (_, stream, _) in enumerate(cases):
        feed.append(f"{i} {len(stream)}")
        for row in stream:
            feed.append(" ".join(encode_value(row[s]) if row[s] is None or not math.isnan(row[s]) else "7ff8000000000000"
                                 for s in SERIES_ORDER))
    res = subprocess.run([str(exe)], input="\n".join(feed) + "\n", capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


@needs_cxx
def test_rendered_cpp_and_python_match_reference(tmp_path):
    cases: list[tuple[dict, list[dict], list[str]]] = []
    seen: set[tuple] = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(texts=signal_sets(), stream=streams())
    def python_matches_reference(texts, stream):
        typed = compile_signals(texts, PARAMS)
        ref = _enc(reference_outputs(typed, stream))
        assert _enc(python_outputs(typed, stream)) == ref, texts
        key = tuple(texts.items())
        if key not in seen and len(cases) < MAX_CPP_CASES:
            seen.add(key)
            cases.append((typed, stream, ref))

    python_matches_reference()
    assert len(cases) >= 20
    out = _cpp_batch(cases, tmp_path).splitlines()
    pos = 0
    for i, (typed, stream, ref) in enumerate(cases):
        assert out[pos] == f"case {i}"
        got = [line.strip() for line in out[pos + 1: pos + 1 + len(stream)]]
        pos += 1 + len(stream)
        assert got == ref, f"C++ differs from the reference for {dict((n, t.to_source()) for n, t in typed.items())}"
