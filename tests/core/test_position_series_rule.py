"""The strategy's own position series (position, entry_price, time_in_position,
bars_in_position) are readable on bar and on book data: the validation rule on the data kind and
the renderer agree (they once disagreed after both learnt new series)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratforge.core.errors import SpecError
from stratforge.generator.render import render_sources
from stratforge.core.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "tests" / "fixtures" / "specs" / "kc-gap-fade.yaml"


def _spec(tmp_path: Path, exit_long: str, profile: str = "l2"):
    text = BASE.read_text().replace("  logic: |", "  signals:\n"
                                    f"    entry_long: \"{'close' if profile == 'bars' else 'mid'} > 0\"\n"
                                    f"    exit_long: \"{exit_long}\"\n  logic: |")
    text = text.replace("profile: l2", f"profile: {profile}")
    if profile == "bars":
        text = text.replace("events: 40000", "events: 400")
    path = tmp_path / "kc-gap-fade.yaml"
    path.write_text(text)
    return load_spec(path)


@pytest.mark.parametrize("profile", ["l2", "bars"])
@pytest.mark.parametrize("exit_long", ["bars_in_position >= 3", "time_in_position > 60",
                                        "position > 0 and entry_price > 0"])
def test_position_series_validate_and_render_on_any_data(tmp_path, profile, exit_long):
    loaded = _spec(tmp_path, exit_long, profile)
    files = render_sources(loaded, build_id="t")
    assert "track" in files["python/strategy.py"].lower()


def test_a_series_of_the_other_kind_is_still_refused(tmp_path):
    with pytest.raises(SpecError, match="reads bar data but backtest.data is book data"):
        _spec(tmp_path, "close > 1")


@pytest.mark.parametrize("entry", ["imbalance(3) > 0.2", "bid_depth4 > ask_depth4"])
def test_depth_series_reach_the_scenario_of_a_custom_book_spec(tmp_path, entry):
    """The derived scenario feeds the depth series the signals read (it raised KeyError
    'evaluator inputs are missing ask_depth3' once the expression language learnt them)."""
    text = BASE.read_text().replace("  logic: |", "  signals:\n"
                                    f"    entry_long: \"{entry}\"\n"
                                    "    exit_long: \"time_in_position > 5\"\n  logic: |")
    path = tmp_path / "kc-gap-fade.yaml"
    path.write_text(text)
    files = render_sources(load_spec(path), build_id="t")
    assert "submit" in files["tests/test_strategy.py"]
