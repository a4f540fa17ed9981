# expect: SF-PY-LOOP
import itertools
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        for i in itertools.count():
            if i > book.bid_qty:
                break
