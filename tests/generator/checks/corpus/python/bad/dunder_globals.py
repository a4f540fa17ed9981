# expect: SF-PY-DUNDER
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        g = self.on_book.__globals__
        ctx.log(1, str(len(g)))
