"""The example specs' synthetic sessions: each is the length docs/examples.md gives for its data
profile and calendar (runtime/data/synth.py ``SESSIONS``), and that length lets every slice of the
run clear the scorecard's sample policy, so the Sharpe gates can decide rather than say
SHORT_SAMPLE. One hour of L2 (the examples' old length) is shown not to."""

from __future__ import annotations

import math

import pytest

from stratforge.ci.backtest.data import calendar_of, prepare_data
from stratforge.ci.scorecard.metrics import MIN_RETURNS, MIN_SPAN_YEARS, periods_per_year
from stratforge.runtime.data import synth

from backtest_kit import REPO, example, with_changes

EXAMPLES = sorted(p.stem for p in (REPO / "specs").glob("*.yaml"))
MINUTE_NS = 60 * synth.NS


def slice_returns(profile: str, calendar: str, events: int, oos: float) -> tuple[int, int, float]:
    """(in-sample returns, out-of-sample returns, periods per year) of a session of ``events``."""
    if profile == "l2":
        minutes = events * synth.L2_EVENT_GAP_NS / MINUTE_NS
        n_year = periods_per_year(MINUTE_NS, calendar)
    else:
        minutes = events  # one return per bar
        n_year = periods_per_year(synth.DAY_NS if calendar == "exchange" else 3600 * synth.NS, calendar)
    n_oos = math.floor(minutes * oos)
    return math.floor(minutes - minutes * oos), n_oos, n_year


def enough(n: int, n_year: float) -> bool:
    return n >= MIN_RETURNS and n / n_year >= MIN_SPAN_YEARS


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_session_is_its_profile_and_clears_the_sample_policy(name):
    spec = example(name)
    d = spec.backtest.data
    if d.kind != "synthetic":
        pytest.skip(f"{name} replays a file")
    cal = calendar_of(spec)
    assert d.events == synth.session_events(d.profile, cal), (
        f"{name}: {d.events} events, the {d.profile}/{cal} session is "
        f"{synth.session_events(d.profile, cal)} (runtime/data/synth.py SESSIONS, docs/examples.md)")
    n_in, n_oos, n_year = slice_returns(d.profile, cal, d.events, spec.backtest.period.out_of_sample_fraction)
    assert enough(n_in, n_year) and enough(n_oos, n_year), (name, n_in, n_oos)


def test_one_hour_of_24_7_l2_is_too_short_for_the_holdout():
    n_in, n_oos, n_year = slice_returns("l2", "continuous", synth.l2_events_for(3600), 0.3)
    assert not enough(n_oos, n_year)  # the old examples' hour: 18 holdout minutes


def test_session_length_holds_on_the_generated_clock(tmp_path):
    # the estimate above uses the generator's calibrated mean gap; a generated 24/7 session of a
    # sixth of the examples' length spans a sixth of their six hours (within 25 %)
    spec = example("btc-perp-avellaneda")
    events = synth.session_events("l2", "continuous") // 6
    p = prepare_data(with_changes(spec, backtest={"data": {"events": events}}), repo_root=REPO,
                     cache_dir=tmp_path)
    hours = (p.end_ns - p.start_ns) / 3.6e12
    assert 0.75 < hours < 1.25
