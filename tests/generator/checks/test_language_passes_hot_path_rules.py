"""Every function of the expression language renders to C++ the hot-path rules accept.

Found by a user spec: ``rolling_max``/``rolling_min`` rendered a ``while`` loop (the monotonic
deque's pops), so any spec using them stopped at static-checks with SF-CPP-LOOP. The generated code
is ours, so a finding there is the pipeline's defect, never the strategy's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stratforge.core.expr import FUNCTIONS
from stratforge.core.spec.loader import load_spec_bytes
from stratforge.core.tools import find_sdk_include
from stratforge.generator.checks import check_cpp
from stratforge.generator.render import render_sources

SPECS = Path(__file__).resolve().parents[1] / "render" / "specs"

# one signal per function, on each data kind (the spec files are this suite's own user specs)
BARS = {
    "a": "ema(close, 5)", "b": "sma(close, 6)", "c": "std(close, 7)", "d": "zscore(close, 8)",
    "e": "rolling_min(low, 9)", "f": "rolling_max(high, 10)", "g": "rolling_median(close, 11)",
    "h": "rolling_quantile(close, 12, 0.3)", "i": "lag(close, 3)", "j": "change(close, 4)",
    "k": "abs(j) + min(a, b) + max(c, d) + clip(close, e, f) + sign(j)",
    "entry_long": "cross_above(a, b) and close > h and k > 0",
    "exit_long": "cross_below(a, b) or close > g or close < i",
    "entry_short": "false", "exit_short": "false",
}
BOOK = {
    "a": "ema(mid, 5)", "b": "sma(mid, 6)", "c": "std(mid, 7)", "d": "zscore(microprice, 8)",
    "e": "rolling_min(bid, 9)", "f": "rolling_max(ask, 10)", "g": "rolling_median(mid, 11)",
    "h": "rolling_quantile(mid, 12, 0.7)", "i": "lag(mid, 3)", "j": "change(last, 4)",
    "k": "abs(j) + min(a, b) + max(c, d) + clip(mid, e, f) + sign(j) + imbalance(3) + imbalance()",
    "v": "vwap(15)",
    "entry_long": "cross_above(a, b) and mid > h and k > 0 and mid < v",
    "exit_long": "cross_below(a, b) or mid > g or mid < i",
    "entry_short": "false", "exit_short": "false",
}


def test_the_signal_sets_use_every_function() -> None:
    used = " ".join(BARS.values()) + " " + " ".join(BOOK.values())
    assert {f for f in FUNCTIONS if f"{f}(" in used} == set(FUNCTIONS)


@pytest.mark.parametrize("spec_file, signals", [("exprfn-bars-quantile.yaml", BARS),
                                                ("exprfn-book-depth.yaml", BOOK)], ids=["bars", "book"])
def test_every_function_renders_to_code_the_hot_path_rules_accept(spec_file, signals, tmp_path) -> None:
    doc = yaml.safe_load((SPECS / spec_file).read_text())
    doc["strategy"]["signals"] = dict(signals)
    loaded = load_spec_bytes(yaml.safe_dump(doc, sort_keys=False).encode(), spec_file)
    for rel, text in render_sources(loaded, build_id="t").items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    findings = check_cpp(tmp_path / "cpp" / "strategy.cpp", include_dirs=[find_sdk_include()],
                         filename="cpp/strategy.cpp", expected_name=loaded.spec.metadata.name)
    errors = [str(f) for f in findings if f.severity == "error"]
    assert errors == []
