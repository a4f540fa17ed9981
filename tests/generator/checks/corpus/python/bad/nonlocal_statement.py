# expect: SF-PY-GLOBAL
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        total = 0

        def add(x):
            nonlocal total
            total += x
        add(book.bid_qty)
