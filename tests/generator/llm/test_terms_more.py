"""Hints for dropped conditions: a named parameter no condition uses, standard deviations, times and
basis points the answer never expresses; and the units check's wrong scales."""

from __future__ import annotations

import pytest

from stratforge.generator.llm.terms import term_hints
from stratforge.generator.llm.units import units_problems

SIG = {"entry_long": "false", "exit_long": "false", "entry_short": "false", "exit_short": "false"}


def test_a_parameter_the_description_names_and_no_condition_uses_is_a_hint() -> None:
    words = "Buy when the close is above its span-bar average and the volume is above floor_qty."
    params = {"span": 9, "floor_qty": 300.0, "order_qty": 4}
    dropped = term_hints(words, {**SIG, "entry_long": "close > sma(close, span)"}, params)
    assert dropped == ["the description names floor_qty, which no condition of your answer uses: keep every "
                       "condition of the description"]
    kept = term_hints(words, {**SIG, "entry_long": "close > sma(close, span) and volume > floor_qty"}, params)
    assert kept == []  # order_qty is not in the words: never asked for


@pytest.mark.parametrize("words, answer, needle", [
    ("Buy when the close is 2 standard deviations below its mean.", "close < sma(close, 20) - 2", "zscore"),
    ("Exit after 90 minutes in the position.", "bars_in_position >= 90", "time_in_position"),
    ("Exit when the mid is 5 basis points above the entry price.", "mid > entry_price * 1.05", "10000"),
])
def test_words_without_their_expression_are_hints(words, answer, needle) -> None:
    hints = term_hints(words, {**SIG, "exit_long": answer})
    assert len(hints) == 1 and needle in hints[0], hints


@pytest.mark.parametrize("words", ["Minute bars. Buy when the close is above its 10-bar mean.",
                                   "Buy when the 5-minute return is positive."])
def test_minute_bars_and_minute_returns_are_not_a_time_exit(words) -> None:
    assert term_hints(words, {**SIG, "entry_long": "close > sma(close, 10)"}) == []


@pytest.mark.parametrize("text, needle", [("close < entry_price * (1 - stop_bps / 100)", "divide by 10000"),
                                          ("close < entry_price * (1 - drop_pct / 10000)", "divide by 100")])
def test_the_other_units_scale_is_an_error(text, needle) -> None:
    problems = units_problems(text, {"stop_bps": 40.0, "drop_pct": 1.5})
    assert len(problems) == 1 and needle in problems[0]


@pytest.mark.parametrize("text", ["close < entry_price * (1 - stop_bps / 10000)",
                                  "close < entry_price * (1 - drop_pct / 100)"])
def test_the_right_scale_passes(text) -> None:
    assert units_problems(text, {"stop_bps": 40.0, "drop_pct": 1.5}) == []
