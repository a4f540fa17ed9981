# expect: SF-PY-GLOBAL
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    history = []

    def on_book(self, ctx, book):
        self.history.append(book.bid_px)
