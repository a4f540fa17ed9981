"""Scenario tapes derived from each spec (issue 10 item 2, issue 11 "gates that cannot fail").

Every spec here is new (tests/generator/render/userspecs.py): a long-only and a short-only mean
reversion, book-driven momentum and mean reversion, a custom breakdown short, an imbalance scalper
with max_spread_ticks 1, pairs whose legs have different tick sizes (on books and on daily bars).
Each generated test must pass on the generated strategy and fail on a planted one that never trades.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import main
from stratforge.core.errors import SpecError
from stratforge.generator.generate import parity_market
from stratforge.core.engine_config import instruments_of
from stratforge.generator.render import RegionCode, environment, render_context, render_sources
from stratforge.generator.render.scenarios import ScenarioError, scenario
from stratforge.core.spec import load_spec
from stratforge.runtime.twin import Instrument, create, decode_tape_text, encode_tape_text, replay
from stratforge.runtime.twin import run as twin_run
from stratforge.runtime.twin.abi import SF_SIDE_BUY, SF_SIDE_SELL

from . import userspecs as u
from .cxx import CXX, CXXFLAGS, ENGINE_INCLUDE, REPO, needs_cxx

USER_SPECS = {
    "mr-long-only": u.long_only_mean_reversion,
    "mr-short-only": u.short_only_mean_reversion,
    "mr-reversing": u.reversing_mean_reversion,
    "book-momentum": u.book_momentum,
    "book-mr": u.book_mean_reversion,
    "custom-breakdown": u.custom_breakout,
    "obi-tight": u.obi_tight_spread,
    "obi-own-short": u.obi_with_signals,
    "pair-l2-ols": lambda: u.pair_mixed_ticks("l2", "rolling_ols"),
    "pair-bars-ols": lambda: u.pair_mixed_ticks("bars", "rolling_ols"),
    "pair-bars-fixed": lambda: u.pair_mixed_ticks("bars", "fixed"),
    "pair-own-long": u.pair_with_signals,
    "bars-dip-volume": u.bars_dip_on_volume,
}
EXAMPLES = sorted(p.stem for p in (REPO / "specs").glob("*.yaml"))

#: Region code that makes any strategy type do nothing (the planted defect).
DO_NOTHING = {
    "directional": RegionCode(cpp="r = Roles{};", python="r = Roles()"),
    "market_making": RegionCode(cpp="want_bid = false;\nwant_ask = false;",
                                python="want_bid = False\nwant_ask = False"),
}


def _loaded(tmp: Path, key: str):
    if key in USER_SPECS:
        return u.write_spec(tmp, USER_SPECS[key]())
    return load_spec(REPO / "specs" / f"{key}.yaml")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _planted(loaded) -> dict[str, str]:
    ctx = render_context(loaded, build_id="x")
    code = DO_NOTHING["market_making" if ctx.type == "market_making" else "directional"]
    return render_sources(loaded, build_id="test", regions={"custom_logic": code})


# ------------------------------------------------------------------------------------------------
# derived at render time


@pytest.mark.parametrize("key", [*USER_SPECS, *EXAMPLES])
def test_every_spec_gets_a_non_empty_scenario(tmp_path, key):
    tape, expect = scenario(render_context(_loaded(tmp_path, key), build_id="x"))
    assert tape and expect
    assert all(op in ("submit", "set_timer") for op, _, _ in expect)


def test_long_only_mean_reversion_is_expected_to_buy(tmp_path):
    """Old code: an empty expectation list (the generated test passed whatever the code did)."""
    _, expect = scenario(render_context(u.write_spec(tmp_path, u.long_only_mean_reversion()), build_id="x"))
    assert expect[0] == ("submit", 0, SF_SIDE_BUY)


def test_short_only_mean_reversion_is_expected_to_sell(tmp_path):
    _, expect = scenario(render_context(u.write_spec(tmp_path, u.short_only_mean_reversion()), build_id="x"))
    assert expect[0] == ("submit", 0, SF_SIDE_SELL)


@pytest.mark.parametrize("make", [u.book_momentum, u.book_mean_reversion])
def test_book_driven_momentum_and_mean_reversion_get_book_scenarios(tmp_path, make):
    """Old code: NotImplementedError (the user saw "internal error")."""
    tape, expect = scenario(render_context(u.write_spec(tmp_path, make()), build_id="x"))
    assert {r["cb"] for r in tape} <= {"book", "fill"} and expect


def test_custom_scenario_follows_the_spec_not_an_example(tmp_path):
    """Old code: the SPY example's tape (trades at 127.00, a bid-heavy book) and a BUY, whatever
    the custom spec said; this spec only shorts a breakdown of bar closes."""
    tape, expect = scenario(render_context(u.write_spec(tmp_path, u.custom_breakout()), build_id="x"))
    assert expect[0] == ("submit", 0, SF_SIDE_SELL)
    assert {r["cb"] for r in tape} <= {"bar", "fill"}
    assert all(r["bar"]["close"] != 12700 for r in tape if r["cb"] == "bar")


def test_an_entry_on_heavy_volume_gets_a_bar_tape_whose_volume_spikes(tmp_path):
    """Old code: every derived bar had volume 1000, so "volume > 1.8 * its average" never held and
    the build stopped at render with "no derived market makes this custom strategy enter"."""
    tape, expect = scenario(render_context(u.write_spec(tmp_path, u.bars_dip_on_volume()), build_id="x"))
    assert expect[0] == ("submit", 0, SF_SIDE_BUY)
    vols = [r["bar"]["volume"] for r in tape if r["cb"] == "bar"]
    assert max(vols) > 1.8 * min(vols)
    # a volume no bar can reach is still refused
    d = u.bars_dip_on_volume()
    d["strategy"]["params"]["vol_mult"] = 1000.0
    with pytest.raises(ScenarioError, match="never hold"):
        scenario(render_context(u.write_spec(tmp_path, d), build_id="x"))


def test_pair_on_daily_bars_gets_a_bar_tape(tmp_path):
    """Old code: a book tape for a pair on bars, so its generated test could never pass."""
    tape, expect = scenario(render_context(u.write_spec(tmp_path, u.pair_mixed_ticks("bars")), build_id="x"))
    assert {r["cb"] for r in tape} == {"bar"}
    assert {r["bar"]["instrument"] for r in tape} == {0, 1}
    assert [e[1] for e in expect] == [0, 1]


def test_obi_with_its_own_entry_signal_gets_a_scenario_from_it(tmp_path):
    """Old code: the reference tape and expectations whatever the spec's signals said. With the long
    side's reference rule taken away (a threshold no book can reach on the candidate books), the
    expected entry is the spec's own short signal."""
    d = u.obi_with_signals()
    d["strategy"]["params"]["entry_threshold"] = 0.99
    d["strategy"]["params"]["exit_threshold"] = 0.98
    tape, expect = scenario(render_context(u.write_spec(tmp_path, d), build_id="x"))
    assert expect[0] == ("submit", 0, SF_SIDE_SELL)


def test_obi_scenario_respects_the_spread_limit_and_threshold(tmp_path):
    d = u.obi_tight_spread()
    d["strategy"]["params"]["entry_threshold"] = 0.93
    tape, _ = scenario(render_context(u.write_spec(tmp_path, d), build_id="x"))
    b, lv = tape[0]["book"], tape[0]["levels"]
    assert b["ask_px"] - b["bid_px"] <= 1
    bid, ask = sum(q for _, q in lv["bid"][:3]), sum(q for _, q in lv["ask"][:3])
    assert (bid - ask) / (bid + ask) >= 0.93


def test_a_spec_whose_strategy_can_never_enter_is_refused_at_render_time(tmp_path):
    d = u.custom_breakout()
    d["strategy"]["signals"]["entry_short"] = "close < 0"  # prices are positive: never
    with pytest.raises(ScenarioError, match="never hold"):
        render_sources(u.write_spec(tmp_path, d), build_id="x")


def _generated_test_module(root: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"gen_{name.replace('-', '_')}", root / "tests" / "test_strategy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_matches_refuses_an_empty_expectation_list(tmp_path):
    """Old template: _matches(decisions, []) was True whatever the decisions."""
    loaded = u.write_spec(tmp_path, u.long_only_mean_reversion())
    _write(tmp_path / "b", render_sources(loaded, build_id="test"))
    mod = _generated_test_module(tmp_path / "b", "empty")
    with pytest.raises(AssertionError, match="cannot fail"):
        mod._matches([], [])
    assert not mod._matches([], mod.EXPECT)


# ------------------------------------------------------------------------------------------------
# the generated tests, run: pass on the generated strategy, fail on a planted do-nothing one


def _run_generated_pytest(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                           str(root / "tests" / "test_strategy.py")], capture_output=True, text=True, timeout=300,
                          cwd=root)


@pytest.mark.parametrize("key", [*USER_SPECS, *EXAMPLES])
def test_generated_python_test_passes_and_fails_on_a_strategy_that_does_nothing(tmp_path, key):
    loaded = _loaded(tmp_path, key)
    good, bad = tmp_path / "good", tmp_path / "bad"
    _write(good, render_sources(loaded, build_id="test"))
    _write(bad, _planted(loaded))
    res = _run_generated_pytest(good)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    res = _run_generated_pytest(bad)
    assert res.returncode != 0 and "test_documented_behaviour" in res.stdout, res.stdout[-3000:]


def _compile(src: Path, out: Path, includes: list[Path], spec_hash: str) -> None:
    cmd = [CXX, *CXXFLAGS, "-I", str(ENGINE_INCLUDE), '-DSF_BUILD_ID="test"', f'-DSF_SPEC_HASH="{spec_hash}"']
    for inc in includes:
        cmd += ["-I", str(inc)]
    res = subprocess.run(cmd + [str(src), "-o", str(out), "-ldl"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-6000:]


def _run_cpp_test(root: Path, loaded) -> subprocess.CompletedProcess:
    _compile(root / "cpp" / "test_strategy.cpp", root / "test_strategy", [root / "cpp"], loaded.hash)
    return subprocess.run([str(root / "test_strategy"), str(root / "tests" / "scenario.tape"), str(root / "params.txt")],
                          capture_output=True, text=True, timeout=120)


#: One spec per behaviour the issue names (the C++ compile is the slow part).
CPP_KEYS = ["mr-long-only", "book-momentum", "custom-breakdown", "obi-tight", "obi-own-short", "pair-l2-ols", "pair-bars-fixed",
            "pair-own-long", "btc-perp-avellaneda", "bars-dip-volume"]


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("key", CPP_KEYS)
def test_generated_cpp_test_passes_and_fails_on_a_strategy_that_does_nothing(tmp_path, key):
    loaded = _loaded(tmp_path, key)
    good, bad = tmp_path / "good", tmp_path / "bad"
    _write(good, render_sources(loaded, build_id="test"))
    _write(bad, _planted(loaded))
    res = _run_cpp_test(good, loaded)
    assert res.returncode == 0, res.stdout + res.stderr
    res = _run_cpp_test(bad, loaded)
    assert res.returncode != 0 and "FAIL: documented_behaviour_in_order" in res.stderr, res.stdout + res.stderr


@needs_cxx
@pytest.mark.slow
def test_generated_cpp_test_refuses_an_empty_expectation_list(tmp_path):
    loaded = u.write_spec(tmp_path, u.long_only_mean_reversion())
    _write(tmp_path, render_sources(loaded, build_id="test"))
    ctx = render_context(loaded, build_id="test")
    text = environment().get_template("tests/test_strategy.cpp.j2").render(ctx=ctx, expectations=[],
                                                                           template_version="test")
    (tmp_path / "cpp" / "test_strategy.cpp").write_text(text)
    res = _run_cpp_test(tmp_path, loaded)
    assert res.returncode != 0 and "cannot fail" in res.stderr, res.stdout + res.stderr


# ------------------------------------------------------------------------------------------------
# the parity step's simulated market, shaped by the spec: it must make the strategy trade, and the
# C++ plugin must then make the same decisions (a mutated twin must not)

HARNESS_SRC = REPO / "sandbox" / "harness" / "parity_harness.cpp"
PARITY_KEYS = ["obi-tight", "pair-l2-ols", "pair-bars-ols", "pair-bars-fixed", "book-momentum", "mr-reversing",
               "bars-dip-volume"]


def _twin_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"twin_{name.replace('-', '_')}_{abs(hash(path))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _simulated(loaded, root: Path, python_text: str | None = None):
    """The closed-loop parity run as the sandbox starts it (``python -m stratforge.runtime.twin.run
    --simulate KIND SEED EVENTS ...``, here in process): the tape and the twin's decisions."""
    files = render_sources(loaded, build_id="test")
    if python_text is not None:
        files["python/strategy.py"] = python_text
    _write(root, files)
    insts = [Instrument(i, s, t, lot) for i, (s, t, lot) in enumerate(instruments_of(loaded.spec))]
    kind, seed, events = parity_market(loaded.spec)
    args = ["--simulate", kind, str(seed), str(events), str(root / "tape.txt"), str(root / "python" / "strategy.py"),
            str(root / "params.txt"), str(len(insts))]
    for i in insts:
        args += [i.symbol, str(i.tick_size_e9), str(i.lot_size_e9)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert twin_run.main(args) == 0
    tape = decode_tape_text((root / "tape.txt").read_text())
    return insts, tape, [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("key", PARITY_KEYS)
def test_parity_market_makes_the_strategy_trade(tmp_path, key):
    """Old market: no order for max_spread_ticks 1 (spreads were 2 or 4 ticks) nor for a pair whose
    legs have different tick sizes (the hedge leg rounded to 0 lots); a pair on bars got one bar
    instrument."""
    _, _, decisions = _simulated(_loaded(tmp_path, key), tmp_path / "b")
    sides = {(d["inst"], d["side"]) for d in decisions if d["op"] == "submit"}
    assert sides, "the parity market never made the strategy trade"
    if key.startswith("pair"):
        assert {i for i, _ in sides} == {0, 1}


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler on PATH")
    out = tmp_path_factory.mktemp("harness") / "parity_harness"
    res = subprocess.run([CXX, *CXXFLAGS, "-I", str(ENGINE_INCLUDE), str(HARNESS_SRC), "-o", str(out), "-ldl"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return out


def _cpp_decisions(harness: Path, root: Path, loaded, insts, tape) -> list[dict]:
    cmd = [CXX, *CXXFLAGS, "-I", str(ENGINE_INCLUDE), '-DSF_BUILD_ID="test"', f'-DSF_SPEC_HASH="{loaded.hash}"',
           "-fPIC", "-shared", str(root / "cpp" / "strategy.cpp"), "-o", str(root / "plugin.so")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    args = [str(harness), str(root / "plugin.so"), str(root / "params.txt"), str(len(insts))]
    for i in insts:
        args += [i.symbol, str(i.tick_size_e9), str(i.lot_size_e9)]
    res = subprocess.run(args, input=encode_tape_text(tape), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("key", PARITY_KEYS)
def test_cpp_and_twin_agree_on_the_spec_shaped_market(tmp_path, harness, key):
    loaded = _loaded(tmp_path, key)
    insts, tape, py = _simulated(loaded, tmp_path / "b")
    assert any(d["op"] == "submit" for d in py)
    assert _cpp_decisions(harness, tmp_path / "b", loaded, insts, tape) == py


@needs_cxx
@pytest.mark.slow
def test_a_mutated_twin_fails_parity(tmp_path, harness):
    """The planted defect: the twin's order size off by one lot on a reversal-free path."""
    loaded = _loaded(tmp_path, "book-momentum")
    text = render_sources(loaded, build_id="test")["python/strategy.py"]
    mutated = text.replace("qty = delta if delta > 0 else -delta", "qty = (delta if delta > 0 else -delta) + 1")
    assert mutated != text
    insts, tape, py = _simulated(loaded, tmp_path / "b", python_text=mutated)
    cpp = _cpp_decisions(harness, tmp_path / "b", loaded, insts, tape)
    assert any(d["op"] == "submit" for d in py) and cpp != py


# ------------------------------------------------------------------------------------------------
# risk-aware sizing: a reversal larger than risk.max_order_qty is a close, then an open


def _reversal_decisions(tmp_path: Path, d: dict) -> tuple[list[dict], int]:
    """The twin flat through a quiet warm-up (|z| = 1, inside the bands), then holding -order_qty
    when a plunge fires its long entry: the decisions over that bar, the close's fill and the next
    bar."""
    loaded = u.write_spec(tmp_path, d)
    root = tmp_path / "b"
    _write(root, render_sources(loaded, build_id="test"))
    ctx = render_context(loaded, build_id="test")
    q = next(p.value for p in ctx.params if p.name == "order_qty_lots")
    mod = _twin_module(root / "python" / "strategy.py", loaded.spec.metadata.name)
    inst = [Instrument(0, "ZZX", ctx.instruments[0]["tick_size_e9"], ctx.instruments[0]["lot_size_e9"])]
    window = int(d["strategy"]["params"]["window"])
    closes = [4000 + (7 if i % 2 else 0) for i in range(window + 3)] + [3000]  # a plunge: z far below -entry_z
    tape = [{"cb": "bar", "t": (i + 1) * SEC, "pos": [-q if i == len(closes) - 1 else 0], "bar": {
        "end_ts": (i + 1) * SEC, "recv_ts": (i + 1) * SEC, "instrument": 0, "open": c, "high": c, "low": c,
        "close": c, "volume": 100}} for i, c in enumerate(closes)]
    t = tape[-1]["t"]
    tape.append({"cb": "fill", "t": t + 1, "pos": [0], "fill": {
        "ts": t + 1, "order_id": 1, "instrument": 0, "side": SF_SIDE_BUY, "liquidity": 2, "px": 3000, "qty": q,
        "leaves_qty": 0, "position": 0, "fee": 0.0}})
    tape.append({"cb": "bar", "t": t + SEC, "pos": [0], "bar": {
        "end_ts": t + SEC, "recv_ts": t + SEC, "instrument": 0, "open": 3010, "high": 3010, "low": 3010,
        "close": 3010, "volume": 100}})
    decisions = replay(create(mod.STRATEGY, (root / "params.txt").read_text(), inst), tape)
    return [x for x in decisions if x["op"] == "submit"], q


SEC = 1_000_000_000


def test_a_reversal_above_max_order_qty_is_split_into_close_then_open(tmp_path):
    """Old template: one BUY of 2 x order_qty, which risk.max_order_qty refuses in the runtime while
    backtrader fills it (the bar-agreement gate then failed)."""
    submits, q = _reversal_decisions(tmp_path, u.reversing_mean_reversion())
    assert [(x["side"], x["qty"]) for x in submits] == [(SF_SIDE_BUY, q), (SF_SIDE_BUY, q)]
    assert submits[0]["seq"] < submits[1]["seq"]  # the open waits for the close's fill


def test_a_reversal_within_max_order_qty_stays_one_order(tmp_path):
    d = u.reversing_mean_reversion()
    d["risk"]["max_order_qty"] = 40
    submits, q = _reversal_decisions(tmp_path, d)
    plunge = [(x["side"], x["qty"]) for x in submits if x["seq"] == submits[0]["seq"]]
    assert plunge == [(SF_SIDE_BUY, 2 * q)]


@pytest.mark.slow
def test_build_of_a_reversing_spec_passes_bar_agreement(tmp_path):
    """End to end: the runtime (risk gate on) and backtrader (no risk gate) now fill the same orders."""

    loaded = u.write_spec(tmp_path, u.reversing_mean_reversion())
    res = CliRunner().invoke(main, ["build", str(loaded.source), "--out", str(tmp_path / "s"),
                                    "--build-dir", str(tmp_path / "bd")])
    assert "internal error" not in res.output and "Traceback" not in res.output, res.output
    card = json.loads((tmp_path / "s" / "mr-reversing" / "scorecard.json").read_text())
    text = json.dumps(card)
    assert "MAX_ORDER_QTY" not in text, res.output
    gates = {g["gate"] if "gate" in g else g.get("name"): g for g in card["gates"]}
    assert gates["bar_agreement"]["status"] == "PASS", gates["bar_agreement"]


# ------------------------------------------------------------------------------------------------
# rules: a spec whose strategy can never trade is refused at validation, with the fix named


def _spec_error(tmp_path: Path, d: dict) -> str:

    with pytest.raises(SpecError) as info:
        u.write_spec(tmp_path, d)
    return str(info.value)


@pytest.mark.parametrize("make", [u.long_only_mean_reversion, lambda: u.pair_mixed_ticks("bars", "fixed")])
def test_an_entry_z_no_z_score_can_reach_is_refused(tmp_path, make):
    d = make()
    w = d["strategy"]["params"]["window"]
    d["strategy"]["params"]["entry_z"] = round((w - 1) ** 0.5 + 0.01, 3)
    msg = _spec_error(tmp_path, d)
    assert "entry_z" in msg and "never be reached" in msg and f"window {w}" in msg
    d["strategy"]["params"]["entry_z"] = round((w - 1) ** 0.5 - 0.05, 3)
    u.write_spec(tmp_path, d)  # just below the bound: valid, and a scenario exists
    assert scenario(render_context(u.write_spec(tmp_path, d), build_id="x"))[1]


def test_a_fixed_hedge_that_rounds_to_zero_lots_is_refused(tmp_path):
    d = u.pair_mixed_ticks("bars", "fixed")
    d["strategy"]["instruments"][1]["lot_size"] = "100"  # 0.8 x 10 = 8 units: 0.08 lots of leg 2
    msg = _spec_error(tmp_path, d)
    assert "rounds to 0" in msg and "order_qty" in msg and "BBQ" in msg


def test_book_driven_momentum_builds_a_bundle_without_internal_error(tmp_path):
    """Old code: NotImplementedError from the scenario, shown as "internal error"."""
    files = render_sources(u.write_spec(tmp_path, u.book_momentum()), build_id="x")
    assert "on_book" in files["python/strategy.py"] and files["tests/scenario.tape"]


@pytest.mark.parametrize("mode", ["rolling_ols", "fixed"])
@pytest.mark.parametrize("ticks", [("0.01", "0.25"), ("0.05", "0.01"), ("1", "0.01"), ("0.01", "1")])
def test_pairs_with_other_tick_sizes_get_a_scenario_and_trade_on_the_parity_market(tmp_path, mode, ticks):
    d = u.pair_mixed_ticks("l2", mode)
    d["strategy"]["instruments"][0]["tick_size"], d["strategy"]["instruments"][1]["tick_size"] = ticks
    loaded = u.write_spec(tmp_path, d)
    _, expect = scenario(render_context(loaded, build_id="x"))
    assert [e[1] for e in expect] == [0, 1] and expect[0][2] != expect[1][2]
    _, _, decisions = _simulated(loaded, tmp_path / "b")
    assert {d["inst"] for d in decisions if d["op"] == "submit"} == {0, 1}


# ------------------------------------------------------------------------------------------------
# the scenario oracle against the twin on random specs: whatever the oracle expects, the generated
# twin does on the tape (or the spec is refused with a ScenarioError, never another exception)


def _random_spec(rng, k: int) -> dict:
    stype = rng.choice(["momentum", "mean_reversion", "custom", "stat_arb", "order_book_imbalance"])
    data = "l2" if stype == "order_book_imbalance" else rng.choice(["bars", "l2"])
    tick = rng.choice(["0.01", "0.05", "0.5", "0.0001"])
    lot = rng.choice(["1", "0.001", "10"])
    qty = {"1": 7, "0.001": "0.013", "10": 30}[lot]
    inst = [{"symbol": "RND", "venue": "xtest", "tick_size": tick, "lot_size": lot, "quote_currency": "EUR"}]
    risk = {"max_order_qty": {"1": 20, "0.001": "0.02", "10": 50}[lot],
            "max_position": {"1": 40, "0.001": "0.04", "10": 100}[lot]}
    extra = None
    if stype == "momentum":
        f = rng.randint(2, 15)
        params = {"fast_window": f, "slow_window": f + rng.randint(3, 40), "order_qty": qty,
                  "sides": rng.choice(["long_only", "short_only", "both"])}
    elif stype == "mean_reversion":
        w = rng.randint(5, 80)
        ez = round(rng.uniform(0.8, min(3.5, (w - 1) ** 0.5 - 0.1)), 2)
        params = {"window": w, "entry_z": ez, "exit_z": round(ez * rng.uniform(0, 0.6), 2), "order_qty": qty,
                  "sides": rng.choice(["long_only", "short_only", "both"])}
    elif stype == "custom":
        n = rng.randint(3, 30)
        side = rng.choice(["long", "short"])
        entry = {"long": "close < sma(close, n) * (1 - gap / 10000)", "short": "close > sma(close, n) * (1 + gap / 10000)"}
        series = "close" if data == "bars" else "mid"
        params = {"n": n, "gap": round(rng.uniform(5, 80), 1)}
        extra = {"order_qty": qty, "signals": {f"entry_{side}": entry[side].replace("close", series)}}
    elif stype == "order_book_imbalance":
        th = round(rng.uniform(0.2, 0.9), 2)
        params = {"levels": rng.randint(1, 10), "entry_threshold": th, "exit_threshold": round(th / 3, 2),
                  "hold_ns": rng.randint(1, 9) * 100_000_000, "max_spread_ticks": rng.randint(1, 4), "order_qty": qty}
    else:
        lot2 = rng.choice(["1", "0.01"])
        inst = [dict(inst[0], lot_size="1"), {"symbol": "RN2", "venue": "xtest", "tick_size": rng.choice(["0.01", "0.25"]),
                                              "lot_size": lot2, "quote_currency": "EUR"}]
        qty, risk = 9, {"max_order_qty": 20, "max_position": 40}
        w = rng.randint(10, 90)
        ez = round(rng.uniform(1.0, min(3.0, (w - 1) ** 0.5 - 0.1)), 2)
        hedge = ({"mode": "rolling_ols", "window": rng.randint(10, 90)} if rng.random() < 0.5 else
                 {"mode": "fixed", "value": round(rng.uniform(0.3, 2.0), 2)})
        params = {"hedge_ratio": hedge, "window": w, "entry_z": ez, "exit_z": round(ez / 4, 2), "order_qty": qty}
    return u.spec_dict(f"rnd-{k}", stype, params, data=data, instruments=inst, extra=extra, risk=risk)


@pytest.mark.parametrize("k", range(24))
def test_scenario_oracle_agrees_with_the_generated_twin_on_random_specs(tmp_path, k):
    d = _random_spec(random.Random(1000 + k), k)
    loaded = u.write_spec(tmp_path, d)
    try:
        files = render_sources(loaded, build_id="test")
    except ScenarioError as err:
        assert "never" in str(err), err  # refused with the reason, and only that way
        return
    root = tmp_path / "b"
    _write(root, files)
    gen = _generated_test_module(root, f"rnd{k}")
    twin = _twin_module(root / "python" / "strategy.py", f"rnd{k}")
    insts = [Instrument(i, x.symbol, x.tick_size_e9, x.lot_size_e9) for i, x in enumerate(gen.INSTRUMENTS)]
    decisions = replay(create(twin.STRATEGY, (root / "params.txt").read_text(), insts),
                       decode_tape_text(files["tests/scenario.tape"]))
    assert gen.EXPECT and gen._matches(decisions, gen.EXPECT), (d["strategy"], gen.EXPECT, decisions[:6])


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("k", range(0, 24, 3))
def test_generated_cpp_test_passes_on_random_specs(tmp_path, k):

    d = _random_spec(random.Random(1000 + k), k)
    loaded = u.write_spec(tmp_path, d)
    _write(tmp_path / "b", render_sources(loaded, build_id="test"))
    res = _run_cpp_test(tmp_path / "b", loaded)
    assert res.returncode == 0, (d["strategy"], res.stdout + res.stderr)


def test_bar_parity_market_is_priced_in_the_instruments_own_ticks(tmp_path):
    """A fine-tick instrument (0.0001) with a price-level filter (no trade below 20 EUR): the old bar
    market started at 10,000 ticks whatever the tick size (1 EUR here), so it never traded."""
    d = u.spec_dict("fine-tick-dip", "custom", {"floor_px": 20.0}, instruments=[u._inst("FTK", "0.0001", "1")],
                    extra={"order_qty": 10, "signals": {"entry_long": "close < lag(close, 1) * 0.999 and close > floor_px",
                                                        "exit_long": "close > lag(close, 1)"}})
    _, _, decisions = _simulated(u.write_spec(tmp_path, d), tmp_path / "b")
    assert any(x["op"] == "submit" for x in decisions)
