"""The Python twin SDK: Params semantics, book view, recording context, driver and tape text."""

from __future__ import annotations

import math

import pytest

from stratforge.runtime.twin import (SF_NO_ASK, SF_NO_BID, SF_ORD_MARKET, SF_SIDE_BUY, Book, CreateArgs, Instrument,
                                     ParamError, Params, RecordingContext, Strategy, create, decode_tape_text,
                                     encode_tape_text, replay, simulate)


def test_params_like_sdk():
    p = Params.parse("# comment\n\n a = 5 \nb=-2.5e3\r\nflag=yes\nname=x y\n")
    assert p.get_int("a", 0) == 5 and p.require_double("b") == -2500.0 and p.get_bool("flag", False)
    assert p.get_string("name", "") == "x y" and p.get_int("missing", 7) == 7
    p.expect_all_used()


@pytest.mark.parametrize("blob, msg", [
    ("a", "expected name=value"), ("1a=2", "invalid parameter name"), ("a=1\na=2", "given twice"),
])
def test_params_malformed(blob, msg):
    with pytest.raises(ParamError, match=msg):
        Params.parse(blob)


@pytest.mark.parametrize("value", ["+1", "1.0", " ", "0x10", "1e3", "99999999999999999999"])
def test_params_bad_int(value):
    with pytest.raises(ParamError, match="must be an integer"):
        Params.parse(f"a={value}").require_int("a")


@pytest.mark.parametrize("value", ["inf", "nan", "+1", "1e", "abc"])
def test_params_bad_double(value):
    with pytest.raises(ParamError, match="finite number"):
        Params.parse(f"a={value}").require_double("a")


def test_params_unknown_and_missing():
    p = Params.parse("a=1\nb=2")
    p.get_int("a", 0)
    with pytest.raises(ParamError, match="unknown parameter\\(s\\): b"):
        p.expect_all_used()
    with pytest.raises(ParamError, match="required parameter 'c'"):
        p.require_int("c")


def test_book_view_sentinels():
    b = Book(1, 2, 0, 0, SF_NO_BID, 0, 101, 5)
    assert not b.two_sided() and math.isnan(b.mid()) and b.mid_x2() == SF_NO_BID
    b = Book(1, 2, 0, 0, 99, 3, 101, 1)
    assert b.mid_x2() == 200 and b.mid() == 100.0 and b.spread() == 2 and b.imbalance() == 0.5
    assert Book(1, 2, 0, 0, 99, 3, SF_NO_ASK, 0).has_bid()


def test_recording_context_numbers_orders_and_records():
    ctx = RecordingContext(seq=3, t=10, positions=[4])
    r = ctx.buy_limit(0, 100, 2)
    assert r and r.id == 1 and ctx.market(0, SF_SIDE_BUY, 1).id == 2
    assert ctx.cancel(1) == 0 and ctx.set_timer(20, 9) and ctx.position(0) == 4 and ctx.position(5) == 0
    ops = [d["op"] for d in ctx.decisions]
    assert ops == ["submit", "submit", "cancel", "set_timer"]
    assert ctx.decisions[1]["type"] == SF_ORD_MARKET and ctx.decisions[0]["seq"] == 3
    assert list(ctx.decisions[0]) == sorted(ctx.decisions[0])


class _Buyer(Strategy):
    def __init__(self, args: CreateArgs):
        self.qty = args.params.require_int("qty")
        args.params.expect_all_used()

    def on_book(self, ctx, b):
        if ctx.position(b.instrument) == 0 and b.two_sided():
            ctx.buy_limit(b.instrument, b.bid_px, self.qty)

    def on_fill(self, ctx, f):
        ctx.set_timer(ctx.now() + 5, 1)

    def on_timer(self, ctx, timer_id):
        ctx.sell_market(0, ctx.position(0))


def _books():
    return [{"cb": "book", "t": t, "book": {"exch_ts": t, "recv_ts": t, "instrument": 0, "flags": 0, "bid_px": bid,
                                            "bid_qty": 1, "ask_px": bid + 1, "ask_qty": 1, "bid_levels": 1, "ask_levels": 1},
             "levels": {"bid": [[bid, 1]], "ask": [[bid + 1, 1]]}}
            for t, bid in ((1, 100), (2, 99), (10, 98))]


def test_simulate_then_replay_gives_the_same_decisions():
    inst = [Instrument(0, "X", 10_000_000, 1_000_000_000)]
    tape, decisions = simulate(create(_Buyer, "qty=2", inst), _books(), 1)
    cbs = [r["cb"] for r in tape]
    assert cbs[:2] == ["book", "order_update"] and "fill" in cbs and "timer" in cbs
    assert any(d["op"] == "submit" and d["type"] == SF_ORD_MARKET for d in decisions)
    assert replay(create(_Buyer, "qty=2", inst), tape) == decisions
    assert decode_tape_text(encode_tape_text(tape)) == tape


def test_unknown_callback_is_refused():
    with pytest.raises(ValueError, match="unknown callback"):
        replay(create(_Buyer, "qty=1", []), [{"cb": "nope", "t": 0}])
