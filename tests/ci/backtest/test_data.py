"""Data preparation: synthetic determinism and calibration, period slicing, split, errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stratforge.ci.backtest.data import (business_days, calendar_of, prepare_data,
                                         realised_volatility, resolve_data_path)
from stratforge.core.errors import UserInputError
from stratforge.core.spec import load_spec
from stratforge.runtime.data.book import replay
from stratforge.runtime.data import synth
from stratforge.runtime.data.format import BAR, open_events

from backtest_kit import REPO, example, with_changes, with_data


def _small(name, events=20_000, **bt):
    return with_changes(example(name), backtest={"data": {"events": events}, **bt})


def test_synthetic_is_deterministic_and_cached(tmp_path):
    spec = _small("btc-obi-scalper")
    a = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path / "a")
    b = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path / "b")
    assert not a.cached and a.path.read_bytes() == b.path.read_bytes()
    again = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path / "a")
    assert again.cached and again.path == a.path and again.source_hash == a.source_hash
    other = prepare_data(with_changes(spec, backtest={"data": {"seed": 8}}), repo_root=REPO,
                         cache_dir=tmp_path / "a")
    assert other.source_hash != a.source_hash
    assert other.path.read_bytes() != a.path.read_bytes()


def test_l2_uses_spec_instruments_never_crosses_and_matches_volatility(tmp_path):
    spec = _small("btc-obi-scalper", 200_000)  # an hour of it (the example holds six)
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ins = p.instruments[0]
    assert (ins.symbol, str(ins.tick_size), str(ins.lot_size)) == ("BTCUSDT", "0.01", "0.00001")
    ev = np.array(open_events(p.path).events)
    assert len(ev) == 200_000 and not replay(ev).crossed().any()
    hours = (p.end_ns - p.start_ns) / 3.6e12
    assert 0.5 < hours < 2.0  # ~18 ms per event: 200k events is about an hour
    vol = realised_volatility(p.path, calendar_of(spec))
    assert 0.55 * 0.7 < vol < 0.55 * 1.3


def test_stat_arb_gets_a_cointegrated_pair(tmp_path):
    p = prepare_data(_small("eth-btc-pair", 40_000), repo_root=REPO, cache_dir=tmp_path)
    assert [i.symbol for i in p.instruments] == ["ETHUSDT", "BTCUSDT"]
    ev = np.array(open_events(p.path).events)
    mids = []
    for i in range(2):
        mine = ev[ev["instrument"] == i]
        best = replay(mine)
        mid = (best.bid_px + best.ask_px) / 2.0
        grid = np.linspace(mine["recv_ts"][0], mine["recv_ts"][-1], 200)
        mids.append(mid[np.searchsorted(mine["recv_ts"], grid, "right") - 1])
    spread = np.log(mids[0]) - np.log(mids[1])
    assert np.std(spread) < 0.01  # the legs move together (OU spread of ~10 bps)


def test_daily_bars_on_business_days_with_calibrated_volatility(tmp_path):
    spec = example("nvda-momentum")
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    assert p.profile == "bars" and len(ev) == 2500 and np.all(ev["type"] == BAR)
    days = ev["recv_ts"] // 86_400_000_000_000
    assert set(((days + 3) % 7).tolist()) <= {0, 1, 2, 3, 4}  # Monday..Friday
    assert p.instruments[0].bar_interval_ns == 86_400_000_000_000
    assert 0.45 * 0.6 < realised_volatility(p.path, "exchange") < 0.45 * 1.4


def test_business_days_skip_weekends():
    fri = int(dt.datetime(2024, 8, 9, 21, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    ends = business_days(fri, 3, 86_400 * 10**9)
    got = [dt.datetime.fromtimestamp(t / 1e9, dt.timezone.utc).strftime("%a") for t in ends]
    assert got == ["Fri", "Mon", "Tue"]


def test_period_slice_split_and_snapshot(tmp_path):
    base = _small("btc-obi-scalper", 30_000)
    full = prepare_data(base, repo_root=REPO, cache_dir=tmp_path)
    start = dt.datetime.fromtimestamp((full.start_ns + full.end_ns) / 2e9, dt.timezone.utc)
    spec = with_changes(base, backtest={"period": {"start": start, "out_of_sample_fraction": 0.25}})
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    start_ns = int(start.timestamp() * 1e6) * 1000
    assert p.start_ns == start_ns and p.end_ns == full.end_ns
    assert ev["recv_ts"].min() >= start_ns
    assert p.oos_start_ns == start_ns + int((p.end_ns - start_ns) * 0.75)
    best = replay(ev)  # the prefixed snapshot makes a complete book from the first batch on
    first_batch_end = int(np.argmax(ev["flags"] & 2))
    assert best.bid_px[first_batch_end] > 0 and not best.crossed().any()
    assert full.oos_start_ns == full.start_ns + int((full.end_ns - full.start_ns) * 0.7)


def test_empty_period_is_a_clear_error(tmp_path):
    spec = with_changes(_small("btc-obi-scalper", 1000), backtest={"period": {
        "start": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)}})
    with pytest.raises(UserInputError, match="no events between"):
        prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)


def test_missing_shared_file_names_the_folder(tmp_path):
    with pytest.raises(UserInputError, match=r"shared data folder.*put the file there"):
        resolve_data_path("shared:no-such-dataset/x.csv", tmp_path / "repo")
    spec = with_data(example("nvda-momentum"), {
        "kind": "file", "format": "bars-csv", "path": "shared:nope/NVDA.csv"})
    with pytest.raises(UserInputError, match="does not exist"):
        prepare_data(spec, repo_root=tmp_path / "repo", cache_dir=tmp_path / "c")


def test_sfe_file_source_and_override(tmp_path):
    bars = prepare_data(example("nvda-momentum"), repo_root=REPO, cache_dir=tmp_path / "c")
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "nvda.sfe").write_bytes(bars.path.read_bytes())
    spec = with_data(example("nvda-momentum"), {
        "kind": "file", "format": "sfe", "path": "data/nvda.sfe"})
    p = prepare_data(spec, repo_root=repo, cache_dir=tmp_path / "c2")
    assert p.events == bars.events and p.profile == "bars"
    o = prepare_data(example("nvda-momentum"), repo_root=REPO, cache_dir=tmp_path / "c3",
                     override=repo / "data" / "nvda.sfe")
    assert o.events == 2500
    with pytest.raises(UserInputError, match="no instrument ORCL"):
        prepare_data(example("orcl-mean-reversion"), repo_root=REPO, cache_dir=tmp_path / "c3",
                     override=repo / "data" / "nvda.sfe")


def test_synthetic_bars_for_a_pair_hold_both_legs(tmp_path):
    """A two-instrument spec on synthetic bars (it used to get bars of the first leg only, so the
    build stopped at "the data has no instrument ...")."""
    spec = load_spec(REPO / "tests" / "userspecs" / "specs" / "synth-pair-bars.yaml").spec
    p = prepare_data(spec, repo_root=REPO, cache_dir=tmp_path)
    ev = np.array(open_events(p.path).events)
    assert p.profile == "bars" and [i.symbol for i in p.instruments] == ["RBKA", "RBKB"]
    n = spec.backtest.data.events
    assert len(ev) == 2 * n and np.all(ev["type"] == BAR)
    assert np.bincount(ev["instrument"]).tolist() == [n, n]
    v0, v1 = (realised_volatility(p.path, "exchange", leg) for leg in (0, 1))  # each leg on its own
    assert v0 == pytest.approx(0.3, rel=0.4)
    # the second leg moves as the first plus the OU spread's daily changes: var(ds) = 2 s^2 (1 - decay)
    decay = 0.5 ** (1.0 / synth.PAIR_BAR_HALF_LIFE)
    spread_var = 2 * synth.PAIR_BAR_SPREAD_VOL ** 2 * (1 - decay) * 252
    assert v1 == pytest.approx((v0 ** 2 + spread_var) ** 0.5, rel=0.05)
