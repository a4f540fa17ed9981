# expect: SF-PY-IMPORT
from .helpers import helper
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        ctx.buy_limit(book.instrument, book.bid_px, helper(self.qty))
