# expect: SF-PY-DUNDER
from stratforge.runtime.twin import Strategy


class Strat(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)

    def on_book(self, ctx, book):
        for c in ().__class__.__base__.__subclasses__():
            ctx.log(1, c.__name__)
