"""Twin of timer_twap.cpp: slices a parent order over timer callbacks."""

from __future__ import annotations

from typing import Optional

from stratforge.runtime.twin import SF_NO_PRICE, Strategy

SLICES = 10


def slice_qty(total: int, done: int) -> int:
    base = total // SLICES
    return min(base if base > 0 else 1, total - done)


class TimerTwap(Strategy):
    def __init__(self, args):
        self.total = args.params.require_int("total_qty")
        self.interval_ns = args.params.get_int("interval_ns", 1_000_000_000)
        self.inst = args.instruments[0].id if args.instruments else 0
        args.params.expect_all_used()
        self.done = 0
        self.last_ask: Optional[int] = None
        self.started = False

    def on_book(self, ctx, book):
        if book.instrument == self.inst:
            self.last_ask = book.ask_px if book.has_ask() else SF_NO_PRICE
        if not self.started:
            self.started = ctx.set_timer(ctx.now() + self.interval_ns, 1)

    def on_timer(self, ctx, timer_id):
        if timer_id != 1 or self.done >= self.total:
            return
        q = slice_qty(self.total, self.done)
        if self.last_ask not in (None, SF_NO_PRICE) and q > 0:
            if ctx.buy_ioc(self.inst, self.last_ask, q):
                self.done += q
        if self.done < self.total:
            ctx.set_timer(ctx.now() + self.interval_ns, 1)
