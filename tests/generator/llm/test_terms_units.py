"""The meaning checks after the grammar: units a parameter's name states (hard errors) and words of
the description the answer ignores (hints: one more round, never a rejection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratforge.core.spec import load_spec
from stratforge.generator.llm import get_provider, logic_to_signals
from stratforge.generator.llm.terms import term_hints
from stratforge.generator.llm.units import units_problems

BARS_SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "bars-dip-logic.yaml"
PARAMS = {"hold_mins": 12, "wait_ns": 9, "cap_hours": 2, "edge_ticks": 3, "vol_min": 800.0, "hold_s": 7,
          "span": 5}


@pytest.mark.parametrize("text, unit", [
    ("time_in_position >= hold_mins", "minutes"),
    ("-hold_mins < time_in_position", "minutes"),
    ("time_in_position > wait_ns", "nanoseconds"),
    ("time_in_position >= cap_hours", "hours"),
    ("spread <= edge_ticks", "ticks"),
    ("abs(close - entry_price) > edge_ticks", "ticks"),
])
def test_a_unit_the_name_states_needs_a_conversion(text, unit) -> None:
    problems = units_problems(text, PARAMS)
    assert len(problems) == 1 and f"which is in {unit}" in problems[0], problems


@pytest.mark.parametrize("text", [
    "time_in_position >= hold_mins * 60",
    "time_in_position > wait_ns / 1000000000",
    "time_in_position >= cap_hours * 3600",
    "spread <= edge_ticks * 0.01",
    "time_in_position >= hold_s",          # seconds meet seconds
    "bars_in_position >= span",            # a count is not a time
    "volume > vol_min",                    # _min is a minimum, not minutes
    "close > vol_min",
])
def test_converted_or_unit_free_comparisons_pass(text) -> None:
    assert units_problems(text, PARAMS) == []


SIG = {"entry_long": "false", "exit_long": "false", "entry_short": "false", "exit_short": "false"}


@pytest.mark.parametrize("words, answer, rule", [
    ("Buy when the close is above its 20-bar simple moving average.", {"entry_long": "close > ema(close, 20)"}, "sma(x, n)"),
    ("Buy when the fast EMA is above the slow one.", {"entry_long": "sma(close, 3) > sma(close, 9)"}, "ema(x, n)"),
    ("Go long when the close crosses above its mean.", {"entry_long": "close > sma(close, 9)"}, "cross_above"),
    ("Buy dips. Long only.", {"entry_long": "close < open", "entry_short": "close > open"}, "long only"),
    ("Sell rips; never go long.", {"entry_short": "close > open", "exit_long": "close < open"}, "short only"),
])
def test_a_word_the_answer_ignores_is_a_hint(words, answer, rule) -> None:
    hints = term_hints(words, {**SIG, **answer})
    assert len(hints) == 1 and rule in hints[0], hints


@pytest.mark.parametrize("words, answer", [
    ("Buy when the close is above its 20-bar simple moving average.", {"entry_long": "close > sma(close, 20)"}),
    ("Go long when the close crosses above its mean.", {"entry_long": "cross_above(close, sma(close, 9))"}),
    ("Buy dips. Long only.", {"entry_long": "close < open"}),
    ("Buy when the close is above the average.", {"entry_long": "close > ema(close, 5)"}),  # no rule's phrase
])
def test_an_answer_that_says_what_the_words_say_has_no_hint(words, answer) -> None:
    assert term_hints(words, {**SIG, **answer}) == []


def _answer(**roles: str) -> str:
    return json.dumps({"signals": {**SIG, **roles}})


ENTRY = ("change(close, ret_bars) / lag(close, ret_bars) * 100 < -entry_ret_pct "
         "and volume > vol_mult * sma(volume, vol_window)")
EXIT = "bars_in_position >= max_bars or close >= entry_price * (1 + take_pct / 100)"


def test_hints_get_one_more_round_and_a_fixed_answer_is_taken() -> None:
    spec = load_spec(BARS_SPEC).spec  # "... Never sell short."
    shorting = _answer(entry_long=ENTRY, exit_long=EXIT, entry_short="close > open")
    fixed = _answer(entry_long=ENTRY, exit_long=EXIT)
    provider = get_provider("scripted", responses=[shorting, fixed])
    result = logic_to_signals(spec, provider)
    assert result.accepted and result.signals["entry_short"] == "false"
    assert [bool(r.hints) for r in result.rounds] == [True, False]
    assert "long only" in provider.requests[1].messages[-1].content  # the hint went back
    assert "hint: the description trades long only" in result.report()


def test_hints_never_reject_a_valid_answer() -> None:
    spec = load_spec(BARS_SPEC).spec
    shorting = _answer(entry_long=ENTRY, exit_long=EXIT, entry_short="close > open")
    provider = get_provider("scripted", responses=[shorting, shorting, shorting])
    result = logic_to_signals(spec, provider)
    assert result.accepted and len(result.rounds) == 2  # one hint round, then taken as it is
    assert result.signals["entry_short"] == "close > open"
    assert result.manifest()["hints"] == [result.rounds[-1].hints[0]]


def test_an_error_after_a_hint_round_is_still_repaired() -> None:
    spec = load_spec(BARS_SPEC).spec
    shorting = _answer(entry_long=ENTRY, exit_long=EXIT, entry_short="close > open")
    broken = _answer(entry_long="last < open")  # trade data on bars: an error
    fixed = _answer(entry_long=ENTRY, exit_long=EXIT)
    provider = get_provider("scripted", responses=[shorting, broken, fixed])
    result = logic_to_signals(spec, provider)
    assert result.accepted and len(result.rounds) == 3 and result.rounds[1].errors


def test_a_hint_round_asks_afresh_with_the_hints_as_notes() -> None:
    """Shown its own answer, a small model repeats it; the hint round sends the first request's
    messages again with the hints listed under the description, and no earlier answer."""
    spec = load_spec(BARS_SPEC).spec
    dropped = _answer(entry_long="volume > vol_mult * sma(volume, vol_window)", exit_long=EXIT)
    provider = get_provider("scripted", responses=[dropped, _answer(entry_long=ENTRY, exit_long=EXIT)])
    result = logic_to_signals(spec, provider, grammar=False)
    assert result.accepted and len(result.rounds) == 2
    first, second = (r.messages for r in provider.requests)
    assert len(second) == len(first) == 2 and second[0] == first[0]  # no assistant turn
    assert not any(m.role == "assistant" for m in second)
    notes = second[1].content.split("An earlier answer to this task had these problems", 1)[1]
    assert "entry_ret_pct" in notes and "Answer {" in notes  # the notes, then the answer line
    assert second[1].content.split("An earlier answer")[0] == first[1].content.split("Answer {")[0]
    # an error after it is repaired in a conversation on the re-asked messages (notes kept)
    broken = _answer(entry_long="last < open")
    provider = get_provider("scripted", responses=[dropped, broken, _answer(entry_long=ENTRY, exit_long=EXIT)])
    result = logic_to_signals(spec, provider, grammar=False)
    assert result.accepted and len(result.rounds) == 3
    third = provider.requests[2].messages
    assert third[1].content == provider.requests[1].messages[1].content and third[2].role == "assistant"
