"""Bars of several instruments read from an .sfe file for the cross-check (no sandbox)."""

from __future__ import annotations

import numpy as np
import pytest

from stratforge.ci.crosscheck.bars import (CrosscheckDataError, bar_instruments, bar_times, load_bar_set,
                                           write_truncated)
from stratforge.runtime.data import synth
from stratforge.runtime.data.format import Instrument, write_events

DAY = 86_400 * 10**9


@pytest.fixture
def two_legs(tmp_path):
    legs = [Instrument("QQA", "0.01", "1"), Instrument("QQB", "0.1", "5")]
    ins, ev = synth.market_bars(legs, 30, 3, 1_400_000_000 * 10**9, 25.0, 0.2, continuous=False)
    path = tmp_path / "two.sfe"
    write_events(path, ins, ev, source="test")
    return path


def test_each_leg_in_the_strategys_order_with_the_files_ids_and_positions(two_legs):
    b, a = load_bar_set(two_legs, ["QQB", "QQA"])  # the strategy lists QQB first
    assert (a.instrument.id, a.instrument.symbol, b.instrument.id, b.instrument.symbol) == (0, "QQA", 1, "QQB")
    assert b.instrument.tick_size_e9 == 100_000_000 and b.instrument.lot_size_e9 == 5 * 10**9
    assert a.position.tolist() == list(range(0, 60, 2)) and b.position.tolist() == list(range(1, 60, 2))
    assert np.array_equal(a.columns["recv_ts"], b.columns["recv_ts"])
    assert bar_instruments(two_legs).tolist() == [0, 1] * 30 and len(bar_times(two_legs)) == 60


def test_a_symbol_the_file_does_not_hold_is_named(two_legs):
    with pytest.raises(CrosscheckDataError, match="no instrument 'QQC' \\(the file has QQA, QQB\\)"):
        load_bar_set(two_legs, ["QQA", "QQC"])


def test_truncation_counts_bars_over_all_instruments(two_legs, tmp_path):
    cut = tmp_path / "cut.sfe"
    assert write_truncated(two_legs, cut, 4) == 5  # day 1 and 2 of both legs, day 3 of QQA
    a, b = load_bar_set(cut)
    assert len(a.columns["close"]) == 3 and len(b.columns["close"]) == 2
    first = write_truncated(two_legs, cut, 0)  # before QQB's first bar: QQB has none
    assert first == 1 and len(load_bar_set(cut)[1].columns["close"]) == 0
