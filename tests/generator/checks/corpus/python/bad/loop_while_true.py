# expect: SF-PY-LOOP
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        while True:
            if book.bid_px > 0:
                break
