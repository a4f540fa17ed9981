"""L2 bias checks on the real run's callback tape: a clean example passes, a twin that reads
ahead in its own tape and a market maker that quotes before its volatility window is full are
flagged (ci/crosscheck/bias_l2.py, docs/crosscheck.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planted import plant

from stratforge.ci.crosscheck import l2_bias_report, warmup_plan
from stratforge.ci.crosscheck.bias_l2 import WarmupNeed, WarmupPlan, check_warmup, compare_truncated
from stratforge.ci.scorecard.inputs import CheckStatus

REPO = Path(__file__).resolve().parents[3]

L2_SPECS = ("btc-perp-avellaneda", "btc-obi-scalper", "eth-btc-pair", "spy-vwap-reversion")


def _loaded(name):
    from stratforge.core.spec import load_spec

    return load_spec(REPO / "specs" / f"{name}.yaml")


# ------------------------------------------------------------------------------------------------
# warm-up plans (no sandbox)


def test_warmup_plan_of_every_l2_example():
    mm = warmup_plan(_loaded("btc-perp-avellaneda"))
    assert mm.every_submit and [(n.kind, n.count) for n in mm.needs] == [("quote", 501)]  # vol_window 500 + 1
    obi = warmup_plan(_loaded("btc-obi-scalper"))
    assert not obi.required and obi.note.startswith("no warm-up required")
    pair = warmup_plan(_loaded("eth-btc-pair"))
    assert [(n.kind, n.count) for n in pair.needs] == [("pair", 2000 + 1000 - 1)]  # OLS 2000, then z 1000
    spy = warmup_plan(_loaded("spy-vwap-reversion"))
    assert spy.signal_kinds == ("book", "trade")
    assert {(n.kind, n.count, tuple(n.sides)) for n in spy.needs} == {("signal", 200, ("long",)),
                                                                     ("trade", 200, ("long",))}


def test_warmup_plan_covers_bar_types_too():
    plan = warmup_plan(_loaded("nvda-momentum"))
    assert {(n.kind, n.count) for n in plan.needs} == {("bar", 41)}


def _book(inst=0, bid=100, ask=101, flags=0):
    return {"cb": "book", "t": 0, "pos": [0], "book": {"instrument": inst, "bid_px": bid, "ask_px": ask,
                                                       "flags": flags}}


def test_check_warmup_counts_quoted_books_before_each_quote():
    plan = WarmupPlan("market_making", "book", (WarmupNeed("quote", 3, "volatility estimate"),), every_submit=True)
    recs = [_book(), _book(flags=2), _book(ask=2**63 - 1), _book(), _book()]
    early = [{"op": "submit", "seq": 3, "side": 1, "inst": 0, "id": 7}]
    ok, why, _ = check_warmup(recs, early, plan)
    assert not ok and "after 2 two-sided book update(s)" in why and "order id 7" in why
    ok, why, first = check_warmup(recs, [{"op": "submit", "seq": 4, "side": 2, "inst": 0, "id": 8}], plan)
    assert ok and first == {"seq": 4, "quote": 3}


def test_check_warmup_gates_entries_not_exits():
    plan = WarmupPlan("custom", "book", (WarmupNeed("signal", 10, "signal entry_long", frozenset({"long"})),))
    recs = [_book() for _ in range(3)]
    recs[2] = {**recs[2], "pos": [5]}
    exit_sell = [{"op": "submit", "seq": 2, "side": 2, "inst": 0, "id": 1}]
    assert check_warmup(recs, exit_sell, plan)[0]  # a sell of a long position is an exit
    buy = [{"op": "submit", "seq": 1, "side": 1, "inst": 0, "id": 2}]
    assert not check_warmup(recs, buy, plan)[0]


def test_compare_truncated_names_the_first_difference():
    class Conv:
        records = [{}] * 5
        lines = [json.dumps({"k": "book", "n": i}) for i in range(5)]

    full = [{"op": "submit", "seq": 1, "id": 1}, {"op": "submit", "seq": 3, "id": 2}]
    assert compare_truncated(full, full[:1], 2, Conv) == ""
    text = compare_truncated(full, full[:1], 3, Conv)
    assert text.startswith("cut after callback #3 of 5: the full-tape run made 1 more decision(s)")
    assert '"seq":3' in text


# ------------------------------------------------------------------------------------------------
# on real sandboxed runs


@pytest.fixture(scope="module")
def l2_run(backend, tmp_path_factory):
    """name -> (loaded spec, bundle, build dir, data file, ParityRun), one real run per spec."""
    from stratforge.ci.backtest.data import prepare_data
    from stratforge.ci.backtest.parity import parity_run
    from stratforge.ci.build import Workspace, load_bundle
    from stratforge.generator.generate import generate
    from stratforge.core.engine_config import instruments_of
    from stratforge.sandbox.replay import run_replay
    from stratforge.sandbox.verify import SandboxVerifier

    root = tmp_path_factory.mktemp("bias-l2")
    ws = Workspace(REPO, root / "build")
    made: dict = {}

    def get(name: str):
        if name not in made:
            loaded = _loaded(name)
            res = generate(loaded, verifier=SandboxVerifier(backend, ws.verify_cache), out_root=root / "strategies",
                           build_root=ws.build_root)
            b = load_bundle(res.bundle, ws)
            data = prepare_data(b.spec, repo_root=REPO, cache_dir=ws.data_cache)
            run = run_replay(backend, b.spec, plugin=b.build / "strategy.so", params=b.path / "params.txt",
                             data=data.path, out_dir=root / name / "out", bar_mode=False)
            assert run.ok and run.tape is not None, run.message
            prun = parity_run(backend, b.path, run.tape, strategy_id=b.name, instruments=instruments_of(b.spec),
                              work=root / name, data=data.path)
            assert prun.result.status.value == "match", prun.result
            made[name] = (loaded, b.path, root / name, data.path, prun, run.tape)
        return made[name]
    return get


@pytest.mark.slow
def test_clean_market_maker_passes_with_its_vol_window(l2_run, backend):
    loaded, bundle, build, data, prun, tape = l2_run("btc-perp-avellaneda")
    rep = l2_bias_report(backend, bundle, build, data, loaded, tape, parity=prun)
    r = rep.result
    assert r.lookahead is CheckStatus.passed, r.lookahead_details
    assert r.truncations_checked == 5 and len(rep.cuts) == 5
    assert r.warmup_respected is True, r.warmup_details
    assert rep.first_order is not None and rep.first_order["quote"] >= 501
    assert "(need 501: volatility estimate" in r.warmup_details
    # the engine's own quotes, judged against a longer window than the run used, are flagged
    longer = WarmupPlan("market_making", "book", (WarmupNeed("quote", 10_001, "volatility estimate"),),
                        every_submit=True)
    ok, why, _ = check_warmup(prun.tape.records, prun.tape.decisions, longer)
    assert not ok and "is warm from 10001" in why


@pytest.mark.slow
def test_clean_obi_example_passes_and_needs_no_warmup(l2_run, backend):
    loaded, bundle, build, data, prun, tape = l2_run("btc-obi-scalper")
    # standalone: converts the tape (with L2 levels) and runs the full twin itself
    rep = l2_bias_report(backend, bundle, build, data, loaded, tape)
    r = rep.result
    assert r.lookahead is CheckStatus.passed, r.lookahead_details
    assert r.truncations_checked == 5
    assert r.warmup_respected is True and r.warmup_details.startswith("no warm-up required")
    assert rep.full_decisions == len(prun.twin.decisions) > 0


# Appended to the OBI twin: reads its own tape file (twin_host's third argument) and trades on
# the NEXT book's mid — information from after the callback it is deciding in.
PEEK_TAPE = '''

import sys as _sys

from stratforge.runtime.twin.driver import decode_tape_text as _decode


class _TapePeeking(STRATEGY):
    """Planted look-ahead: buys before the mid rises, sells before it falls."""

    def __init__(self, args):
        super().__init__(args)
        with open(_sys.argv[3]) as fh:
            books = [r["book"] for r in _decode(fh.read()) if r["cb"] == "book"]
        self._next_mid = [books[k + 1]["bid_px"] + books[k + 1]["ask_px"] for k in range(len(books) - 1)]
        self._k = -1

    def on_book(self, ctx, b):
        self._k += 1
        if not b.two_sided() or self._k >= len(self._next_mid):
            return
        nxt, now = self._next_mid[self._k], b.bid_px + b.ask_px
        if nxt > now:
            ctx.limit(self.inst, SF_SIDE_BUY, b.ask_px, self.p.order_qty_lots, SF_TIF_IOC)
        elif nxt < now:
            ctx.limit(self.inst, SF_SIDE_SELL, b.bid_px, self.p.order_qty_lots, SF_TIF_IOC)


STRATEGY = _TapePeeking
'''

# Appended to the market-making twin: a 5-return volatility window instead of vol_window (500).
HASTY_MM = '''


class _HastyMaker(STRATEGY):
    """Planted warm-up violation: quotes once 5 returns are in, long before vol_window is full."""

    def __init__(self, args):
        super().__init__(args)
        self.vol = _Std(5)


STRATEGY = _HastyMaker
'''


@pytest.mark.slow
def test_planted_tape_lookahead_is_flagged_with_the_first_differing_decision(l2_run, backend, tmp_path):
    loaded, bundle, build, data, prun, tape = l2_run("btc-obi-scalper")
    peek = plant(bundle, tmp_path / "peek", PEEK_TAPE)
    rep = l2_bias_report(backend, peek, tmp_path, data, loaded, tape)
    r = rep.result
    print(f"\nplanted tape look-ahead: {r.lookahead_details}")
    assert r.lookahead is CheckStatus.failed, r.lookahead_details
    assert r.lookahead_details.startswith("cut after callback #")
    assert "first differing decision" in r.lookahead_details or "differs" in r.lookahead_details
    assert '"op":"submit"' in r.lookahead_details  # the decision itself is shown
    # the first cut on a decision callback exposes it: that decision needed the next book
    assert r.truncations_checked >= 1


@pytest.mark.slow
def test_planted_mm_quoting_before_its_vol_window_is_flagged(l2_run, backend, tmp_path):
    loaded, bundle, build, data, prun, tape = l2_run("btc-perp-avellaneda")
    hasty = plant(bundle, tmp_path / "hasty", HASTY_MM)
    rep = l2_bias_report(backend, hasty, tmp_path, data, loaded, tape)
    r = rep.result
    print(f"\nplanted early quotes: {r.warmup_details}")
    assert r.warmup_respected is False
    assert r.warmup_details.startswith("Python twin: ")
    assert "two-sided book update(s); volatility estimate (vol_window 500: 500 returns) is warm from 501" \
        in r.warmup_details
    assert r.lookahead is CheckStatus.passed, r.lookahead_details  # early, not clairvoyant
