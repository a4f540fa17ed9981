"""The Python twin inside backtrader: data feed, broker and the Strategy adapter.

This module imports backtrader and runs **inside the sandbox** (``bt_runner``): it executes the
generated twin. The host side never imports it.

Semantics (the runtime's bar mode, docs/replay.md; docs/crosscheck.md has the full table):

* **Inputs.** The strategy's bar instruments (one, or several: a pair) read from the same ``.sfe``
  file the engine replays, one backtrader data feed each; the twin's ``on_bar`` gets the file's
  integer ticks/lots, instrument id and ``end_ts``/``recv_ts`` exactly as stored, bar by bar in
  the file's order. backtrader gets the same bars as floats (``ticks * tick_size``,
  ``lots * lot_size``).
* **Orders.** ``ctx.market`` → a backtrader ``Market`` order (filled by backtrader's broker at the
  next bar's open); a GTC limit → ``Limit`` (the open when it is through the limit, else the limit
  when the bar's range reaches it); an IOC limit → ``Limit`` that the adapter cancels, and reports
  ``EXPIRED``, when the next bar did not fill it. Every request is accepted (backtrader has no
  pre-trade risk gate); ids are 1, 2, 3, ... as the engine numbers accepted orders.
* **Several instruments.** cerebro aligns the feeds by bar time; at each time the bars are
  replayed in file order, each preceded by backtrader's executions on its own instrument (an
  order fills on its instrument's next bar, as in the engine); docs/crosscheck.md.
* **Reports, in the engine's order.** On bar k+1, before the twin's ``on_bar``: the reports of the
  actions sent during bar k (``ACCEPTED`` for GTC limits, ``CANCELED``/``CANCEL_REJECTED``,
  ``REPLACED``; clock = bar k's time), timers due before bar k+1, then backtrader's executions
  (``on_fill`` with the position after the fill, then ``on_order_update(FILLED)``; clock = bar
  k+1's time), then ``EXPIRED`` for IOC remainders.
* **Money.** Commission in bps of notional through backtrader's ``CommInfoBase`` (percentage,
  stock-like); maker rate for a limit filled at its limit inside the bar, taker otherwise (the only
  extension of backtrader's broker: it tells the commission scheme which case it is executing).
* **Cash.** The engine has no cash check: the spec's risk limits (order size, position, notional,
  loss) bound what a strategy may hold, and the cross-check replays with them unbound
  (``replay_spec``). backtrader's broker refuses an order its cash cannot pay for, so the broker
  starts with ``initial_cash + CASH_HEADROOM`` (PnL, equity and ``final_value`` stay relative to
  ``initial_cash``). Without it an order worth more than the capital filled in the runtime and was
  refused (``Margin``) in backtrader: the bar agreement failed on real SPY bars for a rule the
  runtime does not have. A refusal beyond the headroom is still reported (``rejected_orders``).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import numpy as np

from stratforge.runtime.twin import (SF_ACCEPTED, SF_LIQ_MAKER, SF_LIQ_TAKER, SF_ORD_LIMIT, SF_ORD_MARKET,
                                     SF_ORDER_ACCEPTED, SF_ORDER_CANCEL_REJECTED, SF_ORDER_CANCELED,
                                     SF_ORDER_EXPIRED, SF_ORDER_FILLED, SF_ORDER_REJECTED, SF_ORDER_REPLACED,
                                     SF_SIDE_BUY, SF_SIDE_SELL, SF_TIF_GTC, SF_TIF_IOC, Bar, Fill, Instrument,
                                     OrderRequest, OrderResult, OrderUpdate, RecordingContext)

__all__ = ["BarSeries", "BarTape", "AdapterConfig", "CASH_HEADROOM", "run_cerebro"]

_EPOCH = _dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class BarSeries:
    """The bars of one instrument, as integer columns (ticks, lots, ns)."""

    instrument: Instrument
    end_ts: np.ndarray
    recv_ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.end_ts)


@dataclass(frozen=True)
class BarTape:
    """The bars of one or more instruments as the engine replays them: one :class:`BarSeries`
    per instrument (in the strategy's instrument order, each with its file instrument id) and,
    per series, the position of each of its bars in the file (``position[k][i]``: the file's
    bar number of bar ``i`` of series ``k``; the engine's event order)."""

    series: tuple[BarSeries, ...]
    position: tuple[np.ndarray, ...]

    @classmethod
    def single(cls, series: BarSeries) -> "BarTape":
        return cls((series,), (np.arange(len(series), dtype=np.int64),))

    def __len__(self) -> int:
        return sum(len(s) for s in self.series)


#: cash added to backtrader's broker so that its cash check does not bind where the engine has
#: none (1e9 quote units: a double keeps 1e-7 of precision at that size, PnL is value - start)
CASH_HEADROOM = 1e9


@dataclass(frozen=True)
class AdapterConfig:
    initial_cash: float
    maker_bps: float
    taker_bps: float
    seed: int = 0
    strategy_id: str = "crosscheck"


# ---------------------------------------------------------------------------------------------
# backtrader pieces


class SfeBarFeed(bt.feed.DataBase):
    """A backtrader feed over :class:`BarSeries` (prices in quote currency, sizes in base units)."""

    params = (("series", None),)

    def start(self) -> None:
        super().start()
        s: BarSeries = self.p.series
        tick = s.instrument.tick_size_e9 * 1e-9
        lot = s.instrument.lot_size_e9 * 1e-9
        self._rows = [
            (bt.date2num(_EPOCH + _dt.timedelta(microseconds=int(t) // 1000)),
             float(o) * tick, float(h) * tick, float(lo) * tick, float(c) * tick, float(v) * lot)
            for t, o, h, lo, c, v in zip(s.end_ts, s.open, s.high, s.low, s.close, s.volume)]
        self._next = 0

    def _load(self) -> bool:
        if self._next >= len(self._rows):
            return False
        dt, o, h, lo, c, v = self._rows[self._next]
        self._next += 1
        ln = self.lines
        ln.datetime[0] = dt
        ln.open[0], ln.high[0], ln.low[0], ln.close[0], ln.volume[0] = o, h, lo, c, v
        ln.openinterest[0] = 0.0
        return True


class _MakerTakerCommission(bt.CommInfoBase):
    """Percentage commission (``commission`` = taker rate as a fraction) on stock-like assets;
    the broker sets ``maker`` while it executes a limit at its limit price inside the bar."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True),
              ("maker_rate", 0.0))

    maker = False

    def _getcommission(self, size, price, pseudoexec):
        rate = self.p.maker_rate if self.maker else self.p.commission
        return abs(size) * price * rate


class _Broker(bt.brokers.BackBroker):
    """backtrader's BackBroker; only tells the commission scheme whether a limit fill is passive."""

    def _try_exec(self, order):
        # A limit order is matched on its instrument's next bar only, like a market order
        # (backtrader's own rule for those): with several feeds, a feed that did not advance at
        # this time still shows the bar the order was sent on.
        if order.exectype == bt.Order.Limit and order.data.datetime[0] <= order.created.dt:
            return
        super()._try_exec(order)

    def _try_exec_limit(self, order, popen, phigh, plow, plimit):
        comm = self.getcommissioninfo(order.data)
        passive = (plimit < popen and plimit >= plow) if order.isbuy() else (plimit > popen and plimit <= phigh)
        if isinstance(comm, _MakerTakerCommission):
            comm.maker = passive
        try:
            super()._try_exec_limit(order, popen, phigh, plow, plimit)
        finally:
            if isinstance(comm, _MakerTakerCommission):
                comm.maker = False


# ---------------------------------------------------------------------------------------------
# the engine as the twin sees it


@dataclass
class _Live:
    """An order the twin has working: its engine view and the backtrader order behind it."""

    id: int
    inst: int
    side: int
    type: int
    tif: int
    px: int
    qty: int
    leaves: int
    bt_order: Any = None
    bar_sent: int = 0


@dataclass
class _Report:
    kind: str  # "update" | "fill"
    t: int
    payload: Any


class AdapterContext(RecordingContext):
    """The engine's host API over backtrader: records every decision (docs/templates.md records)
    and queues the orders for the adapter to turn into backtrader orders after the callback."""

    def __init__(self) -> None:
        super().__init__(record_logs=False)
        self.actions: list[tuple[str, Any]] = []
        self.decision_bars: list[int] = []
        self.decision_cbs: list[str] = []
        self.decision_pos: list[int] = []
        self.bar_index = -1
        self.callback = ""
        self.timer_requests: list[tuple[int, int]] = []

    def _record(self, op: str, **fields: Any) -> None:
        super()._record(op, **fields)
        self.decision_bars.append(self.bar_index)
        self.decision_cbs.append(self.callback)
        inst = int(fields.get("inst", 0))  # submits name their instrument; others: instrument 0
        self.decision_pos.append(self.positions[inst] if 0 <= inst < len(self.positions) else 0)

    def submit(self, req: OrderRequest) -> OrderResult:
        res = super().submit(req)
        self.actions.append(("new", (res.id, req)))
        return res

    def cancel(self, order_id: int) -> int:
        super().cancel(order_id)
        self.actions.append(("cancel", order_id))
        return SF_ACCEPTED

    def replace(self, order_id: int, px: int, qty: int) -> int:
        super().replace(order_id, px, qty)
        self.actions.append(("replace", (order_id, px, qty)))
        return SF_ACCEPTED

    def set_timer(self, at_ns: int, timer_id: int) -> bool:
        super().set_timer(at_ns, timer_id)
        self.timer_requests.append((int(at_ns), int(timer_id)))
        return True

    def level(self, inst: int, side: int, depth: int):
        return None  # bar data has no book

    book_level = level


class TwinAdapter(bt.Strategy):
    """Drives one twin strategy from backtrader's bars (one data feed per instrument) and broker.

    backtrader calls ``next`` once per distinct bar time with every feed that has a bar at that
    time advanced; the adapter then replays those bars to the twin one by one in the file's
    order, each preceded by backtrader's executions on that bar's instrument (the engine's
    ``notify_bar``)."""

    params = (("twin", None), ("tape", None), ("ctx", None))

    def __init__(self) -> None:
        self.twin = self.p.twin
        self.tape: BarTape = self.p.tape
        self.ctx: AdapterContext = self.p.ctx
        series = self.tape.series
        self.feed_of = {s.instrument.id: k for k, s in enumerate(series)}  # instrument id -> series
        self.tick = [s.instrument.tick_size_e9 * 1e-9 for s in series]
        self.lot = [s.instrument.lot_size_e9 * 1e-9 for s in series]
        self.seen = [0] * len(series)  # bars of each instrument already replayed
        # backtrader feeds exist for instruments with bars only (a truncated copy may end before
        # a leg's first bar): series index -> data feed or None
        self.data_of: list = [None] * len(series)
        for d, k in zip(self.datas, [k for k, x in enumerate(series) if len(x)]):
            self.data_of[k] = d
        self.last_global = -1
        self.live: dict[int, _Live] = {}
        self.by_bt: dict[int, int] = {}  # backtrader order ref -> twin order id
        self.pending: list[_Report] = []  # reports of the previous bar times' actions
        self.exec_reports: list[_Report] = []  # backtrader executions of this bar time
        self.timers: list[tuple[int, int, int]] = []  # (at, seq, id)
        self.timer_seq = 0
        self.seq = 0
        self.position_lots = [0] * len(series)  # per series
        self.fills: list[dict] = []
        self.equity: list[float] = []
        self.rejected = 0
        self.cash0 = float(self.broker.startingcash)
        self.n_ids = 1 + max(s.instrument.id for s in series)

    # -- helpers -------------------------------------------------------------------------------
    def _lots(self, feed: int, size: float) -> int:
        return int(round(size / self.lot[feed]))

    def _ticks(self, feed: int, price: float) -> int:
        return int(round(price / self.tick[feed]))

    def _positions(self) -> list[int]:
        pos = [0] * self.n_ids
        for k, s in enumerate(self.tape.series):
            pos[s.instrument.id] = self.position_lots[k]
        return pos

    def _invoke(self, t: int, fn, *args) -> None:
        ctx = self.ctx
        ctx.seq = self.seq
        ctx.t = t
        ctx.positions = self._positions()
        ctx.callback = getattr(fn, "__name__", "")
        self.seq += 1
        fn(ctx, *args)
        for at, tid in ctx.timer_requests:
            self.timers.append((at, self.timer_seq, tid))
            self.timer_seq += 1
        ctx.timer_requests.clear()

    def _update(self, t: int, o: _Live, status: int, qty: int) -> None:
        u = OrderUpdate(t, o.id, o.inst, o.side, status, o.px, qty, o.leaves)
        self._invoke(t, self.twin.on_order_update, u)

    # -- backtrader callbacks ------------------------------------------------------------------
    def notify_order(self, order) -> None:
        oid = self.by_bt.get(order.ref)
        if oid is None:
            return
        status = order.status
        if status in (order.Completed, order.Partial):
            for bit in order.executed.iterpending():
                self.exec_reports.append(_Report("fill", 0, (oid, bit.size, bit.price,
                                                             bit.closedcomm + bit.openedcomm)))
        elif status in (order.Margin, order.Rejected):
            self.exec_reports.append(_Report("update", 0, (oid, SF_ORDER_REJECTED)))

    def prenext(self) -> None:
        # some feed has no bar yet (a leg that starts later): the engine replays the others all
        # the same, so does the adapter
        self.next()

    def next(self) -> None:
        advanced = []
        for k, d in enumerate(self.data_of):
            n = 0 if d is None else len(d)
            if n > self.seen[k]:
                if n != self.seen[k] + 1:
                    raise RuntimeError(f"Invariant: feed {k} advanced {n - self.seen[k]} bars in one step")
                advanced.append((int(self.tape.position[k][n - 1]), k, n - 1))
                self.seen[k] = n
        if not advanced:
            return
        advanced.sort()
        if advanced[0][0] <= self.last_global:
            g, k, i = advanced[0]
            raise RuntimeError(
                f"Condition failed: bar #{g} of the file ({self.tape.series[k].instrument.symbol}, end "
                f"{int(self.tape.series[k].end_ts[i])}) comes after bar #{self.last_global} in the file but "
                "not in bar-end time: the cross-check needs bars in time order")
        first_g, first_k, first_i = advanced[0]
        t0 = int(self.tape.series[first_k].recv_ts[first_i])
        self.ctx.bar_index = first_g
        # 1. reports of the actions sent at earlier bar times, and timers due before this time
        due = [(r.t, 0, i, r) for i, r in enumerate(self.pending)]
        due += [(at, 1, sq, tid) for at, sq, tid in self.timers if at < t0]
        self.timers = [x for x in self.timers if x[0] >= t0]
        self.pending = []
        for when, kind, _, item in sorted(due, key=lambda x: (x[0], x[1], x[2])):
            if kind == 0:
                o, status, qty = item.payload
                self._update(item.t, o, status, qty)
            else:
                self._invoke(when, self.twin.on_timer, item)
        reports, self.exec_reports = self.exec_reports, []
        feeds = [self._feed_of_report(r) for r in reports]
        moved = {k for _, k, _ in advanced}
        # 2. each bar of this time in file order: its instrument's executions, then the bar
        for g, k, i in advanced:
            self._bar(g, k, i, [r for r, f in zip(reports, feeds) if f == k])
            self.last_global = g
        # reports on a feed without a bar at this time (backtrader's cash refusals happen at
        # submission) wait for that instrument's next bar
        self.exec_reports = [r for r, f in zip(reports, feeds) if f >= 0 and f not in moved] + self.exec_reports
        for k, d in enumerate(self.data_of):
            if d is None:
                continue
            bt_pos = self._lots(k, self.getposition(d).size)
            if bt_pos != self.position_lots[k]:
                raise RuntimeError(f"Invariant: backtrader position {bt_pos} lots != fills "
                                   f"{self.position_lots[k]} on {self.tape.series[k].instrument.symbol} at bar "
                                   f"#{self.last_global}")

    def _feed_of_report(self, rep: _Report) -> int:
        o = self.live.get(rep.payload[0])
        return -1 if o is None else self.feed_of[o.inst]

    def _bar(self, g: int, k: int, i: int, reports: list[_Report]) -> None:
        s = self.tape.series[k]
        t = int(s.recv_ts[i])
        self.ctx.bar_index = g
        for rep in reports:
            oid, *rest = rep.payload
            o = self.live.get(oid)
            if o is None:
                continue
            if rep.kind == "update":
                self.rejected += 1
                o.leaves = 0
                del self.live[oid]
                self._update(t, o, rest[0], o.qty)
                continue
            size, price, comm = rest
            qty = abs(self._lots(k, size))
            if qty == 0:
                continue
            px = self._ticks(k, price)
            o.leaves -= qty
            self.position_lots[k] += qty if o.side == SF_SIDE_BUY else -qty
            maker = o.type == SF_ORD_LIMIT and px != int(s.open[i])
            liq = SF_LIQ_MAKER if maker else SF_LIQ_TAKER
            self.fills.append({"ts": t, "bar": g, "instrument": s.instrument.symbol, "order_id": o.id,
                               "side": "BUY" if o.side == SF_SIDE_BUY else "SELL",
                               "liquidity": "MAKER" if maker else "TAKER", "px": px, "qty": qty,
                               "price": price, "size": abs(size), "fee": comm,
                               "position_lots": self.position_lots[k]})
            f = Fill(t, o.id, o.inst, o.side, liq, px, qty, o.leaves, self.position_lots[k], float(comm))
            self._invoke(t, self.twin.on_fill, f)
            if o.leaves == 0:
                del self.live[oid]
                self._update(t, o, SF_ORDER_FILLED, 0)
        # IOC remainders on this instrument that this bar did not fill expire
        for o in sorted(self.live.values(), key=lambda x: x.id):
            if (o.tif == SF_TIF_IOC and o.type == SF_ORD_LIMIT and self.feed_of[o.inst] == k
                    and o.bar_sent < i):
                self.broker.cancel(o.bt_order)
                del self.live[o.id]
                self._update(t, o, SF_ORDER_EXPIRED, o.leaves)
        b = Bar(int(s.end_ts[i]), t, s.instrument.id, int(s.open[i]), int(s.high[i]), int(s.low[i]),
                int(s.close[i]), int(s.volume[i]))
        self._invoke(t, self.twin.on_bar, b)
        self._apply_actions(t)
        self.equity.append(self.broker.getvalue() - self.cash0)

    # -- decisions → backtrader orders ---------------------------------------------------------
    def _bt_order(self, o: _Live):
        k = self.feed_of[o.inst]
        size = o.qty * self.lot[k]
        if o.type == SF_ORD_MARKET:
            exec_type, price = bt.Order.Market, None
        else:
            exec_type, price = bt.Order.Limit, o.px * self.tick[k]
        data = self.data_of[k]
        if data is None:
            return None  # no bars of this instrument (yet): the order rests and never fills
        if o.side == SF_SIDE_BUY:
            order = self.buy(data=data, size=size, price=price, exectype=exec_type)
        else:
            order = self.sell(data=data, size=size, price=price, exectype=exec_type)
        self.by_bt[order.ref] = o.id
        return order

    def _apply_actions(self, t: int) -> None:
        actions, self.ctx.actions = self.ctx.actions, []
        for kind, arg in actions:
            if kind == "new":
                oid, req = arg
                tif = SF_TIF_IOC if req.type == SF_ORD_MARKET else req.tif
                k = self.feed_of.get(req.instrument)
                # the instrument's own bar count: an IOC limit is matched on its next bar only
                sent = self.seen[k] - 1 if k is not None else 0
                o = _Live(oid, req.instrument, req.side, req.type, tif, req.px if req.type == SF_ORD_LIMIT else 0,
                          req.qty, req.qty, None, sent)
                if k is None or req.qty <= 0 or req.side not in (SF_SIDE_BUY, SF_SIDE_SELL):
                    self.pending.append(_Report("update", t, (o, SF_ORDER_REJECTED, req.qty)))
                    continue
                o.bt_order = self._bt_order(o)
                self.live[oid] = o
                if req.type == SF_ORD_LIMIT and tif == SF_TIF_GTC:
                    self.pending.append(_Report("update", t, (o, SF_ORDER_ACCEPTED, o.leaves)))
            elif kind == "cancel":
                o = self.live.get(arg)
                if o is None or (o.bt_order is not None and not self.broker.cancel(o.bt_order)):
                    ghost = o or _Live(arg, 0, 0, 0, 0, 0, 0, 0)
                    self.pending.append(_Report("update", t, (ghost, SF_ORDER_CANCEL_REJECTED, 0)))
                    continue
                left = o.leaves
                o.leaves = 0
                del self.live[arg]
                self.pending.append(_Report("update", t, (o, SF_ORDER_CANCELED, left)))
            elif kind == "replace":
                oid, px, qty = arg
                o = self.live.get(oid)
                if o is None or (o.bt_order is not None and not self.broker.cancel(o.bt_order)):
                    ghost = o or _Live(oid, 0, 0, 0, 0, px, qty, 0)
                    self.pending.append(_Report("update", t, (ghost, SF_ORDER_CANCEL_REJECTED, 0)))
                    continue
                o.px = px if o.type == SF_ORD_LIMIT else o.px
                o.qty = o.leaves = qty
                o.bar_sent = self.seen[self.feed_of[o.inst]] - 1
                o.bt_order = self._bt_order(o)
                self.pending.append(_Report("update", t, (o, SF_ORDER_REPLACED, qty)))


# ---------------------------------------------------------------------------------------------


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _analysis(a: Any) -> Any:
    """backtrader's AutoOrderedDict analyses as plain JSON-able dicts."""
    if isinstance(a, dict):
        return {str(k): _analysis(v) for k, v in a.items()}
    if isinstance(a, (list, tuple)):
        return [_analysis(v) for v in a]
    if isinstance(a, (bool, int, str)) or a is None:
        return a
    if isinstance(a, float):
        return _finite(a)
    return str(a)


def run_cerebro(twin, bars: BarSeries | BarTape, cfg: AdapterConfig) -> dict:
    """Run ``twin`` over ``bars`` (one instrument's :class:`BarSeries` or a multi-instrument
    :class:`BarTape`) in backtrader, one data feed per instrument (``cerebro.adddata``; cerebro
    aligns the feeds by bar time); returns the result document (JSON-able)."""
    tape = BarTape.single(bars) if isinstance(bars, BarSeries) else bars
    cerebro = bt.Cerebro(stdstats=False, preload=True, runonce=False, cheat_on_open=False)
    cerebro.broker = _Broker()
    cerebro.broker.setcash(cfg.initial_cash + CASH_HEADROOM)  # the engine has no cash check
    comm = _MakerTakerCommission(commission=cfg.taker_bps * 1e-4, maker_rate=cfg.maker_bps * 1e-4)
    cerebro.broker.addcommissioninfo(comm)
    for s in tape.series:
        if len(s):  # an instrument without bars gets no feed (backtrader values every feed's close)
            cerebro.adddata(SfeBarFeed(series=s), name=s.instrument.symbol)
    ctx = AdapterContext()
    cerebro.addstrategy(TwinAdapter, twin=twin, tape=tape, ctx=ctx)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    (strat,) = cerebro.run()
    value = float(cerebro.broker.getvalue()) - CASH_HEADROOM
    trades = strat.analyzers.trades.get_analysis()
    total = trades.get("total", {}) if hasattr(trades, "get") else {}
    recv = np.concatenate([s.recv_ts for s in tape.series]) if len(tape) else np.zeros(0, np.int64)
    first = tape.series[0].instrument
    return {
        "bars": len(tape),
        "first_ts": int(recv.min()) if len(recv) else 0,
        "last_ts": int(recv.max()) if len(recv) else 0,
        "instrument": {"symbol": first.symbol, "tick_size_e9": first.tick_size_e9,
                       "lot_size_e9": first.lot_size_e9},
        "instruments": [{"id": s.instrument.id, "symbol": s.instrument.symbol,
                         "tick_size_e9": s.instrument.tick_size_e9, "lot_size_e9": s.instrument.lot_size_e9,
                         "bars": len(s)} for s in tape.series],
        "initial_cash": cfg.initial_cash,
        "final_value": value,
        "final_pnl": value - cfg.initial_cash,
        "fees": float(sum(f["fee"] for f in strat.fills)),
        "position_lots": strat.position_lots[0],
        "positions": {s.instrument.symbol: strat.position_lots[k] for k, s in enumerate(tape.series)},
        "closed_trades": int(total.get("closed", 0) or 0),
        "open_trades": int(total.get("open", 0) or 0),
        "rejected_orders": strat.rejected,
        "open_orders_at_end": len(strat.live),
        "fills": strat.fills,
        "decisions": ctx.decisions,
        "decision_bars": ctx.decision_bars,
        "decision_callbacks": ctx.decision_cbs,
        "decision_positions": ctx.decision_pos,
        "equity": strat.equity,
        "analyzers": {"trades": _analysis(trades), "returns": _analysis(strat.analyzers.returns.get_analysis()),
                      "drawdown": _analysis(strat.analyzers.drawdown.get_analysis())},
        "backtrader_version": bt.__version__,
    }
