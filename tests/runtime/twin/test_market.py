"""The parity market's bars are the format-level generator's (runtime/data/synth.py) as bar
callbacks, on the instrument's own tick and lot."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from stratforge.runtime.data.synth import BarParams, bar_chunks
from stratforge.runtime.twin.market import PARITY_BAR_VOL, bars, market_for
from stratforge.runtime.twin.params import Params


def test_parity_bars_are_the_format_level_generator_as_callbacks():
    got = bars(21, 400, 5_000_000, 100_000_000)  # tick 0.005, lot 0.1
    assert [r["t"] for r in got] == [(i + 1) * 10**9 for i in range(400)]
    k = _k()
    params = BarParams(symbol="X", tick_size=Decimal("0.005"), lot_size=Decimal("0.1"), start_price=100.0,
                       interval_ns=10**9, start_ns=0, mean_regime_bars=60.0,
                       regimes=tuple((mu * k, v * k) for mu, v in BarParams().regimes))
    ev = np.concatenate(list(bar_chunks(400, 21, params)))
    assert [r["bar"]["close"] for r in got] == ev["v"][:, 3].tolist()
    assert all(r["bar"]["low"] <= min(r["bar"]["open"], r["bar"]["close"]) for r in got)
    assert all(r["cb"] == "bar" and r["bar"]["instrument"] == 0 for r in got)


def _k() -> float:
    base = BarParams()
    rms = math.sqrt(sum(v * v for _, v in base.regimes) / len(base.regimes))
    return PARITY_BAR_VOL * math.sqrt(365.25 * 86_400) / rms


def test_parity_bars_move_about_half_a_percent_a_bar_whatever_the_tick():
    for tick_e9 in (10_000_000, 1_000, 250_000_000):
        closes = np.array([r["bar"]["close"] for r in bars(3, 3000, tick_e9, 10**9)], dtype=float)
        assert 80.0 < closes[0] * tick_e9 * 1e-9 < 120.0  # about 100 quote units
        vol = np.std(np.diff(np.log(closes)))
        assert 0.5 * PARITY_BAR_VOL < vol < 2.0 * PARITY_BAR_VOL, (tick_e9, vol)


def test_market_for_bars_uses_them():
    p = Params.parse("order_qty_lots=1")
    assert market_for("bars", 9, 50, [10_000_000], [10**9], p) == bars(9, 50, 10_000_000, 10**9)
