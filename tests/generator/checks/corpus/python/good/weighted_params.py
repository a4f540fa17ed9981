"""Twin of weighted_params.cpp: weights parsed once, a bounded scan per trade."""

from __future__ import annotations

from stratforge.runtime.twin import SF_SIDE_BUY, ParamError, Strategy

MAX_WEIGHTS = 8


class WeightedParams(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)
        raw = args.params.get_string("weights", "1,1,1")
        try:
            weights = [int(x) for x in raw.split(",")]
        except ValueError:
            raise ParamError(f"weights: not an integer list: {raw}") from None
        if len(weights) > MAX_WEIGHTS:
            raise ParamError("at most 8 weights")
        args.params.expect_all_used()
        self.weights = tuple(weights)
        self.recent = [0] * MAX_WEIGHTS
        self.head = 0

    def on_trade(self, ctx, trade):
        self.recent[self.head] = trade.qty if trade.side == SF_SIDE_BUY else -trade.qty
        self.head = (self.head + 1) % MAX_WEIGHTS
        score = 0
        i = 0
        while i < MAX_WEIGHTS:
            if i < len(self.weights):
                score += self.weights[i] * self.recent[(self.head + MAX_WEIGHTS - 1 - i) % MAX_WEIGHTS]
            i += 1
        if score > 0:
            ctx.buy_ioc(trade.instrument, trade.px, self.qty)
        if score < 0:
            ctx.sell_ioc(trade.instrument, trade.px, self.qty)
