# expect: SF-PY-CALL
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        exec('x = 1')
