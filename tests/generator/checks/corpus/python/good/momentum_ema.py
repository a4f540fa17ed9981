"""Twin of momentum_ema.cpp."""

from __future__ import annotations

from dataclasses import dataclass

from stratforge.runtime.twin import ParamError, Strategy

WARMUP = 20


@dataclass
class Ema:
    alpha: float
    value: float = 0.0
    primed: bool = False

    def update(self, x: float) -> None:
        self.value = self.value + self.alpha * (x - self.value) if self.primed else x
        self.primed = True


def ema_alpha(period: int) -> float:
    return 2.0 / (period + 1.0)


class MomentumEma(Strategy):
    def __init__(self, args):
        self.fast = Ema(ema_alpha(args.params.require_int("fast")))
        self.slow = Ema(ema_alpha(args.params.require_int("slow")))
        self.qty = args.params.get_int("qty", 1)
        self.threshold = args.params.get_double("threshold", 0.0)
        if self.fast.alpha <= self.slow.alpha:
            raise ParamError("fast must be shorter than slow")
        args.params.expect_all_used()
        self.bars = 0

    def on_bar(self, ctx, bar):
        close = float(bar.close)
        self.fast.update(close)
        self.slow.update(close)
        self.bars += 1
        if self.bars < WARMUP:
            return
        diff = self.fast.value - self.slow.value
        pos = ctx.position(bar.instrument)
        if diff > self.threshold and pos <= 0:
            ctx.buy_market(bar.instrument, self.qty - pos)
        elif diff < -self.threshold and pos >= 0:
            ctx.sell_market(bar.instrument, self.qty + pos)
