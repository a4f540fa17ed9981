"""Twin of mean_reversion_ring.cpp: a fixed ring buffer of mids."""

from __future__ import annotations

import math
from collections import deque

from stratforge.runtime.twin import Side, Strategy

WINDOW = 64


class MeanReversion(Strategy):
    def __init__(self, args):
        self.entry_z = args.params.get_double("entry_z", 2.0)
        self.qty = args.params.get_int("qty", 1)
        args.params.expect_all_used()
        self.mids: deque[float] = deque(maxlen=WINDOW)

    def on_book(self, ctx, book):
        if not book.two_sided():
            return
        mid = book.mid()
        self.mids.append(mid)
        if len(self.mids) < WINDOW:
            return
        mean = math.fsum(self.mids) / WINDOW
        var = math.fsum(x * x for x in self.mids) / WINDOW - mean * mean
        sd = math.sqrt(var) if var > 0.0 else 0.0
        if sd <= 0.0:
            return
        z = (mid - mean) / sd
        pos = ctx.position(book.instrument)
        if z > self.entry_z and pos > -self.qty:
            ctx.sell_ioc(book.instrument, book.bid_px, self.qty)
        elif z < -self.entry_z and pos < self.qty:
            ctx.buy_ioc(book.instrument, book.ask_px, self.qty)
        elif abs(z) < 0.1 and pos != 0:
            ctx.market(book.instrument, Side.Sell if pos > 0 else Side.Buy, abs(pos))
