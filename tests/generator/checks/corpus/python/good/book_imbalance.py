"""Twin of book_imbalance.cpp: weighted depth imbalance over the top levels."""

from __future__ import annotations

from stratforge.runtime.twin import SF_SIDE_BUY, SF_SIDE_SELL, Strategy

DEPTH = 5
WEIGHTS = (5, 4, 3, 2, 1)


class BookImbalance(Strategy):
    def __init__(self, args):
        self.threshold = args.params.get_double("threshold", 0.3)
        self.qty = args.params.get_int("qty", 1)
        args.params.expect_all_used()

    def on_book(self, ctx, book):
        if not book.two_sided():
            return
        bid_w = ask_w = 0
        for d in range(DEPTH):
            lvl = ctx.level(book.instrument, SF_SIDE_BUY, d)
            if lvl is not None:
                bid_w += lvl[1] * WEIGHTS[d]
            lvl = ctx.level(book.instrument, SF_SIDE_SELL, d)
            if lvl is not None:
                ask_w += lvl[1] * WEIGHTS[d]
        if bid_w + ask_w == 0:
            return
        imb = (bid_w - ask_w) / (bid_w + ask_w)
        if imb > self.threshold:
            ctx.buy_ioc(book.instrument, book.ask_px, self.qty)
        if imb < -self.threshold:
            ctx.sell_ioc(book.instrument, book.bid_px, self.qty)
