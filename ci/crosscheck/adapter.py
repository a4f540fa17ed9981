"""The Python twin inside backtrader: data feed, broker and the Strategy adapter.

This module imports backtrader and runs **inside the sandbox** (``bt_runner``): it executes the
generated twin. The host side never imports it.

Semantics (the runtime's bar mode, docs/replay.md; docs/crosscheck.md has the full table):

* **Inputs.** One bar instrument read from the same ``.sfe`` file the engine replays; the twin's
  ``on_bar`` gets the file's integer ticks/lots and ``end_ts``/``recv_ts`` exactly as stored.
  backtrader gets the same bars as floats (``ticks * tick_size``, ``lots * lot_size``).
* **Orders.** ``ctx.market`` → a backtrader ``Market`` order (filled by backtrader's broker at the
  next bar's open); a GTC limit → ``Limit`` (the open when it is through the limit, else the limit
  when the bar's range reaches it); an IOC limit → ``Limit`` that the adapter cancels, and reports
  ``EXPIRED``, when the next bar did not fill it. Every request is accepted (backtrader has no
  pre-trade risk gate); ids are 1, 2, 3, ... as the engine numbers accepted orders.
* **Reports, in the engine's order.** On bar k+1, before the twin's ``on_bar``: the reports of the
  actions sent during bar k (``ACCEPTED`` for GTC limits, ``CANCELED``/``CANCEL_REJECTED``,
  ``REPLACED``; clock = bar k's time), timers due before bar k+1, then backtrader's executions
  (``on_fill`` with the position after the fill, then ``on_order_update(FILLED)``; clock = bar
  k+1's time), then ``EXPIRED`` for IOC remainders.
* **Money.** Commission in bps of notional through backtrader's ``CommInfoBase`` (percentage,
  stock-like); maker rate for a limit filled at its limit inside the bar, taker otherwise (the only
  extension of backtrader's broker: it tells the commission scheme which case it is executing).
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

__all__ = ["BarSeries", "AdapterConfig", "run_cerebro"]

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
        self.decision_pos.append(self.positions[0] if self.positions else 0)

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
    """Drives one twin strategy from backtrader's bars and broker."""

    params = (("twin", None), ("series", None), ("ctx", None))

    def __init__(self) -> None:
        self.twin = self.p.twin
        self.series: BarSeries = self.p.series
        self.ctx: AdapterContext = self.p.ctx
        inst = self.series.instrument
        self.tick = inst.tick_size_e9 * 1e-9
        self.lot = inst.lot_size_e9 * 1e-9
        self.live: dict[int, _Live] = {}
        self.by_bt: dict[int, int] = {}  # backtrader order ref -> twin order id
        self.pending: list[_Report] = []  # reports of the previous bar's actions
        self.exec_reports: list[_Report] = []  # backtrader executions of this bar
        self.timers: list[tuple[int, int, int]] = []  # (at, seq, id)
        self.timer_seq = 0
        self.seq = 0
        self.position_lots = 0
        self.fills: list[dict] = []
        self.equity: list[float] = []
        self.rejected = 0
        self.cash0 = float(self.broker.startingcash)

    # -- helpers -------------------------------------------------------------------------------
    def _lots(self, size: float) -> int:
        return int(round(size / self.lot))

    def _ticks(self, price: float) -> int:
        return int(round(price / self.tick))

    def _invoke(self, t: int, fn, *args) -> None:
        ctx = self.ctx
        ctx.seq = self.seq
        ctx.t = t
        ctx.positions = [self.position_lots]
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

    def next(self) -> None:
        k = len(self.data) - 1
        s = self.series
        t = int(s.recv_ts[k])
        self.ctx.bar_index = k
        # 1. reports of the actions sent during the previous bar, and timers due before this bar
        due = [(r.t, 0, i, r) for i, r in enumerate(self.pending)]
        due += [(at, 1, sq, tid) for at, sq, tid in self.timers if at < t]
        self.timers = [x for x in self.timers if x[0] >= t]
        self.pending = []
        for when, kind, _, item in sorted(due, key=lambda x: (x[0], x[1], x[2])):
            if kind == 0:
                o, status, qty = item.payload
                self._update(item.t, o, status, qty)
            else:
                self._invoke(when, self.twin.on_timer, item)
        # 2. backtrader's executions at this bar (fills first, then the terminal update)
        reports, self.exec_reports = self.exec_reports, []
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
            qty = abs(self._lots(size))
            if qty == 0:
                continue
            px = self._ticks(price)
            o.leaves -= qty
            self.position_lots += qty if o.side == SF_SIDE_BUY else -qty
            maker = o.type == SF_ORD_LIMIT and px != int(s.open[k])
            liq = SF_LIQ_MAKER if maker else SF_LIQ_TAKER
            self.fills.append({"ts": t, "bar": k, "order_id": o.id, "side": "BUY" if o.side == SF_SIDE_BUY else "SELL",
                               "liquidity": "MAKER" if maker else "TAKER", "px": px, "qty": qty,
                               "price": price, "size": abs(size), "fee": comm, "position_lots": self.position_lots})
            f = Fill(t, o.id, o.inst, o.side, liq, px, qty, o.leaves, self.position_lots, float(comm))
            self._invoke(t, self.twin.on_fill, f)
            if o.leaves == 0:
                del self.live[oid]
                self._update(t, o, SF_ORDER_FILLED, 0)
        # 3. IOC remainders that this bar did not fill expire
        for o in sorted(self.live.values(), key=lambda x: x.id):
            if o.tif == SF_TIF_IOC and o.bar_sent < k and o.type == SF_ORD_LIMIT:
                self.broker.cancel(o.bt_order)
                del self.live[o.id]
                self._update(t, o, SF_ORDER_EXPIRED, o.leaves)
        bt_pos = self._lots(self.getposition(self.data).size)
        if bt_pos != self.position_lots:
            raise RuntimeError(f"Invariant: backtrader position {bt_pos} lots != fills {self.position_lots} at bar {k}")
        # 4. the bar itself
        b = Bar(int(s.end_ts[k]), t, s.instrument.id, int(s.open[k]), int(s.high[k]), int(s.low[k]),
                int(s.close[k]), int(s.volume[k]))
        self._invoke(t, self.twin.on_bar, b)
        self._apply_actions(k, t)
        self.equity.append(self.broker.getvalue() - self.cash0)

    # -- decisions → backtrader orders ---------------------------------------------------------
    def _bt_order(self, o: _Live):
        size = o.qty * self.lot
        if o.type == SF_ORD_MARKET:
            exec_type, price = bt.Order.Market, None
        else:
            exec_type, price = bt.Order.Limit, o.px * self.tick
        if o.side == SF_SIDE_BUY:
            order = self.buy(data=self.data, size=size, price=price, exectype=exec_type)
        else:
            order = self.sell(data=self.data, size=size, price=price, exectype=exec_type)
        self.by_bt[order.ref] = o.id
        return order

    def _apply_actions(self, k: int, t: int) -> None:
        actions, self.ctx.actions = self.ctx.actions, []
        for kind, arg in actions:
            if kind == "new":
                oid, req = arg
                tif = SF_TIF_IOC if req.type == SF_ORD_MARKET else req.tif
                o = _Live(oid, req.instrument, req.side, req.type, tif, req.px if req.type == SF_ORD_LIMIT else 0,
                          req.qty, req.qty, None, k)
                if req.instrument != self.series.instrument.id or req.qty <= 0 or req.side not in (SF_SIDE_BUY,
                                                                                                   SF_SIDE_SELL):
                    self.pending.append(_Report("update", t, (o, SF_ORDER_REJECTED, req.qty)))
                    continue
                o.bt_order = self._bt_order(o)
                self.live[oid] = o
                if req.type == SF_ORD_LIMIT and tif == SF_TIF_GTC:
                    self.pending.append(_Report("update", t, (o, SF_ORDER_ACCEPTED, o.leaves)))
            elif kind == "cancel":
                o = self.live.get(arg)
                if o is None or not self.broker.cancel(o.bt_order):
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
                if o is None or not self.broker.cancel(o.bt_order):
                    ghost = o or _Live(oid, 0, 0, 0, 0, px, qty, 0)
                    self.pending.append(_Report("update", t, (ghost, SF_ORDER_CANCEL_REJECTED, 0)))
                    continue
                o.px = px if o.type == SF_ORD_LIMIT else o.px
                o.qty = o.leaves = qty
                o.bar_sent = k
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


def run_cerebro(twin, series: BarSeries, cfg: AdapterConfig) -> dict:
    """Run ``twin`` over ``series`` in backtrader; returns the result document (JSON-able)."""
    cerebro = bt.Cerebro(stdstats=False, preload=True, runonce=False, cheat_on_open=False)
    cerebro.broker = _Broker()
    cerebro.broker.setcash(cfg.initial_cash)
    comm = _MakerTakerCommission(commission=cfg.taker_bps * 1e-4, maker_rate=cfg.maker_bps * 1e-4)
    cerebro.broker.addcommissioninfo(comm)
    cerebro.adddata(SfeBarFeed(series=series), name=series.instrument.symbol)
    ctx = AdapterContext()
    cerebro.addstrategy(TwinAdapter, twin=twin, series=series, ctx=ctx)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    (strat,) = cerebro.run()
    value = float(cerebro.broker.getvalue())
    trades = strat.analyzers.trades.get_analysis()
    total = trades.get("total", {}) if hasattr(trades, "get") else {}
    return {
        "bars": len(series),
        "first_ts": int(series.recv_ts[0]) if len(series) else 0,
        "last_ts": int(series.recv_ts[-1]) if len(series) else 0,
        "instrument": {"symbol": series.instrument.symbol, "tick_size_e9": series.instrument.tick_size_e9,
                       "lot_size_e9": series.instrument.lot_size_e9},
        "initial_cash": cfg.initial_cash,
        "final_value": value,
        "final_pnl": value - cfg.initial_cash,
        "fees": float(sum(f["fee"] for f in strat.fills)),
        "position_lots": strat.position_lots,
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
