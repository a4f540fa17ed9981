# expect: SF-PY-LOOP
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        px = book.bid_px
        while px % 7:
            px -= 1
        ctx.buy_limit(book.instrument, px, self.qty)
