"""Deliberately biased twins, made from a clean generated one (the test kit of the bias checks)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# Appended to a generated directional twin: the subclass reads the data file it was given (the
# runner's --data argument) and trades on the NEXT bar's close — a planted look-ahead.
PEEK = '''

import sys as _sys

from stratforge.runtime.data.format import open_events as _open_events


class _PeekingStrategy(STRATEGY):
    """Planted look-ahead: buys before up-closes and sells before down-closes it read ahead."""

    def __init__(self, args):
        super().__init__(args)
        path = _sys.argv[_sys.argv.index("--data") + 1]
        ev = _open_events(path).events
        self._next_close = {int(ev["recv_ts"][i]): int(ev["v"][i + 1][3]) for i in range(len(ev) - 1)}

    def on_bar(self, ctx, b):
        nxt = self._next_close.get(b.recv_ts)
        pos = ctx.position(self.inst)
        if self.working != 0 or nxt is None:
            return
        if nxt > b.close and pos <= 0:
            res = ctx.buy_market(self.inst, self.p.order_qty_lots)
        elif nxt < b.close and pos > 0:
            res = ctx.sell_market(self.inst, pos)
        else:
            return
        if res:
            self.working = res.id


STRATEGY = _PeekingStrategy
'''

# Appended: enters on the very first bar, before any signal is warm.
EARLY = '''


class _EagerStrategy(STRATEGY):
    """Planted warm-up violation: buys on the first bar it sees."""

    def __init__(self, args):
        super().__init__(args)
        self._bars = 0

    def on_bar(self, ctx, b):
        self._bars += 1
        if self._bars == 1 and self.working == 0:
            res = ctx.buy_market(self.inst, self.p.order_qty_lots)
            if res:
                self.working = res.id
            return
        super().on_bar(ctx, b)


STRATEGY = _EagerStrategy
'''


def plant(bundle: Path, dst: Path, code: str) -> Path:
    """A copy of ``bundle`` whose python/strategy.py has ``code`` appended."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(bundle, dst)
    p = dst / "python" / "strategy.py"
    text = p.read_text()
    if not re.search(r"^STRATEGY = ", text, re.M):
        raise AssertionError("generated twin has no STRATEGY binding")
    p.write_text(text + code)
    return dst


# Appended to a generated pair (stat_arb) twin on bars: reads the data file it was given and
# trades the first leg on that leg's NEXT close — a planted look-ahead on multi-instrument bars.
PAIR_PEEK = '''

import sys as _sys

from stratforge.runtime.data.format import BAR as _BAR
from stratforge.runtime.data.format import open_events as _open_events


class _PeekingPair(STRATEGY):
    """Planted look-ahead: buys the first leg before its up-closes, sells before down-closes."""

    def __init__(self, args):
        super().__init__(args)
        path = _sys.argv[_sys.argv.index("--data") + 1]
        ev = _open_events(path).events
        mine = ev[(ev["type"] == _BAR) & (ev["instrument"] == self.inst[0])]
        self._next_close = {int(mine["recv_ts"][i]): int(mine["v"][i + 1][3]) for i in range(len(mine) - 1)}

    def on_bar(self, ctx, b):
        if b.instrument != self.inst[0]:
            return
        nxt = self._next_close.get(b.recv_ts)
        pos = ctx.position(self.inst[0])
        if self.working[0] != 0 or nxt is None:
            return
        if nxt > b.close and pos <= 0:
            res = ctx.buy_market(self.inst[0], self.p.order_qty_lots)
        elif nxt < b.close and pos > 0:
            res = ctx.sell_market(self.inst[0], pos)
        else:
            return
        if res:
            self.working[0] = res.id


STRATEGY = _PeekingPair
'''

# Appended to a pair twin: enters the pair on the first bar at which both legs are priced,
# before the spread's z-score window has filled.
PAIR_EARLY = '''


class _EagerPair(STRATEGY):
    """Planted warm-up violation: buys leg 1 and sells leg 2 as soon as both legs have a bar."""

    def __init__(self, args):
        super().__init__(args)
        self._legs = set()
        self._done = False

    def on_bar(self, ctx, b):
        self._legs.add(b.instrument)
        if not self._done and len(self._legs) == 2:
            self._done = True
            ctx.buy_market(self.inst[0], self.p.order_qty_lots)
            ctx.sell_market(self.inst[1], self.p.order_qty_lots)
            return
        super().on_bar(ctx, b)


STRATEGY = _EagerPair
'''
