#!/usr/bin/env python3
"""NautilusTrader's BacktestEngine on the same synthetic L2 records as sf-bench: replay events/s.

    python bench/nautilus_replay.py [--events 2000000] [--seed 1] [--repeat 3] [--json out.json]

NautilusTrader is optional (``pip install nautilus_trader``; not in the bench extra). Steps:

1. ``sf-bench --synth N --seed S --no-run`` writes the ``.sfe`` file (the same generator and seed
   as bench/replay_vs_hftbacktest.py). Each record becomes a NautilusTrader object built with
   ``from_raw`` (integer ticks and lots, no float rounding): DEPTH → ``OrderBookDelta`` UPDATE
   (quantity 0: DELETE), CLEAR → a CLEAR delta, TRADE → ``TradeTick``; the record's end-of-batch
   flag becomes ``F_LAST`` and SNAPSHOT ``F_SNAPSHOT``; ``ts_event`` = exch_ts, ``ts_init`` = recv_ts.
2. Check: a no-op strategy that subscribes to the book deltas (the engine maintains an L2_MBP
   book) records best bid and ask at every ``F_LAST`` delta of the first ``--verify-prefix``
   records; sf-replay replays the same prefix with a tape; both are compared at every batch end.
3. Timed: ``BacktestEngine.run()`` over all records with the same no-op strategy (book deltas
   and trades subscribed, nothing done in the callbacks), logging bypassed; building the engine,
   the objects and ``add_data`` (its sort) are not timed. Each repeat builds a fresh engine.
   sf-bench's replay_noop on the same file (best of ``--best-of`` runs) is measured in the same
   run as the baseline; events/s = records ÷ wall time for both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nautilus_trader
import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BookOrder, OrderBookDelta, TradeTick
from nautilus_trader.model.enums import (AccountType, AggressorSide, BookAction, BookType, OmsType, OrderSide,
                                         RecordFlag)
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TradeId, Venue
from nautilus_trader.model.instruments import Equity
from nautilus_trader.model.objects import FIXED_SCALAR, Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from stratforge.core.tools import find_executable
from stratforge.runtime.data import format as sff

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above

VENUE = Venue("SIM")
#: NautilusTrader's fixed-point scale for raw prices and sizes (10**16 in its high-precision wheels)
FIXED_SCALE = int(FIXED_SCALAR)


class NoopConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    record_bbo: int = 0


class Noop(Strategy):
    """Subscribes to the book deltas (managed L2_MBP book) and trades; does nothing with them,
    except record best bid/ask (ticks) at the end of a batch while ``record_bbo`` > 0."""

    def __init__(self, config: NoopConfig):
        super().__init__(config)
        self.bbo: list[tuple[int, int, int]] = []
        self.left = config.record_bbo
        self.tick_raw = 0

    def on_start(self) -> None:
        self.subscribe_order_book_deltas(self.config.instrument_id, book_type=BookType.L2_MBP)
        self.subscribe_trade_ticks(self.config.instrument_id)

    def on_order_book_deltas(self, deltas) -> None:
        if self.left > 0:
            book = self.cache.order_book(self.config.instrument_id)
            bid, ask = book.best_bid_price(), book.best_ask_price()
            self.bbo.append((deltas.ts_init, round(bid.as_double() * 100) if bid is not None else 0,
                             round(ask.as_double() * 100) if ask is not None else 0))
            self.left -= 1

    def on_trade_tick(self, tick) -> None:
        pass


def instrument(symbol: str) -> Equity:
    return Equity(instrument_id=InstrumentId(Symbol(symbol), VENUE), raw_symbol=Symbol(symbol), currency=USD,
                  price_precision=2, price_increment=Price.from_str("0.01"), lot_size=Quantity.from_int(1),
                  ts_event=0, ts_init=0)


def to_nautilus(events: np.ndarray, iid: InstrumentId, tick_raw: int) -> list:
    """The records as NautilusTrader data objects (see the module docstring)."""
    out = []
    typ, side, flags = events["type"].tolist(), events["side"].tolist(), events["flags"].tolist()
    px, qty = events["v"][:, 0].tolist(), events["v"][:, 1].tolist()
    exch, recv = events["exch_ts"].tolist(), events["recv_ts"].tolist()
    last, snap = int(RecordFlag.F_LAST), int(RecordFlag.F_SNAPSHOT)
    for i in range(len(typ)):
        f = (last if flags[i] & sff.END_OF_BATCH else 0) | (snap if flags[i] & sff.SNAPSHOT else 0)
        t = typ[i]
        if t == sff.DEPTH:
            s = OrderSide.BUY if side[i] == sff.BID else OrderSide.SELL
            action = BookAction.UPDATE if qty[i] > 0 else BookAction.DELETE
            out.append(OrderBookDelta.from_raw(iid, action, s, px[i] * tick_raw, 2, qty[i] * FIXED_SCALE, 0,
                                               0, f, i, exch[i], recv[i]))
        elif t == sff.TRADE:
            aggr = (AggressorSide.BUYER if side[i] == sff.BID else
                    AggressorSide.SELLER if side[i] == sff.ASK else AggressorSide.NO_AGGRESSOR)
            out.append(TradeTick.from_raw(iid, px[i] * tick_raw, 2, qty[i] * FIXED_SCALE, 0, aggr,
                                          TradeId(str(i)), exch[i], recv[i]))
        elif t == sff.CLEAR:
            out.append(OrderBookDelta.clear(iid, i, exch[i], recv[i]))
        else:
            raise SystemExit(f"nautilus_replay: record {i} is {sff.EVENT_TYPE_NAMES.get(t, t)}: only L2 data")
    return out


def engine_with(ins: Equity, data: list, record_bbo: int = 0) -> tuple[BacktestEngine, Noop]:
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(VENUE, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                     starting_balances=[Money(1_000_000, USD)], base_currency=USD, book_type=BookType.L2_MBP)
    engine.add_instrument(ins)
    engine.add_data(data)
    strat = Noop(NoopConfig(instrument_id=ins.id, record_bbo=record_bbo))
    engine.add_strategy(strat)
    return engine, strat


def sf_tape_bbo(prefix_file: Path, symbol: str, work: Path) -> list[tuple[int, int, int]]:
    cfg = {"data": str(prefix_file), "strategies": [{"id": "noop", "plugin": "builtin:noop", "instruments": [symbol]}],
           "risk": {"max_order_qty": 1, "max_order_notional": 1e12, "max_position": 1e6, "price_band_bps": 1000,
                    "max_open_orders": 64, "max_msgs_per_sec": 1000000, "max_loss": 1e15},
           "venue": {"latency": {m: {"model": "constant", "ns": 0} for m in ("feed", "entry", "response")},
                     "queue_model": "risk_averse", "fees": {"maker_bps": 0, "taker_bps": 0}}}
    (work / "prefix.json").write_text(json.dumps(cfg))
    tape = work / "prefix.tape.jsonl"
    subprocess.run([str(find_executable("sf-replay")), "--config", str(work / "prefix.json"), "--tape", str(tape),
                    "--out", str(work / "prefix.results.json"), "--quiet"], check=True, capture_output=True)
    out = []
    with tape.open() as fh:
        for line in fh:
            if '"k":"book"' in line or '"k": "book"' in line:
                o = json.loads(line)
                out.append((o["ts"], o["bid_px"], o["ask_px"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--best-of", type=int, default=3, help="sf-bench: the fastest of this many runs per repeat")
    ap.add_argument("--verify-prefix", type=int, default=50_000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)


    with tempfile.TemporaryDirectory(prefix="sf-vs-nautilus-") as tmp:
        work = Path(tmp)
        data = work / "synth.sfe"
        subprocess.run([str(find_executable("sf-bench")), "--synth", str(args.events), "--seed", str(args.seed),
                        "--out", str(data), "--no-run"], check=True, capture_output=True)
        ef = sff.open_events(data)
        ins_sf = ef.instruments[0]
        if float(ins_sf.tick_size) != 0.01 or float(ins_sf.lot_size) != 1.0:
            raise SystemExit(f"nautilus_replay: expected tick 0.01 and lot 1, got {ins_sf.tick_size}/{ins_sf.lot_size}")
        ins = instrument(ins_sf.symbol)
        tick_raw = FIXED_SCALE // 100
        n = len(ef.events)

        # check: best bid/ask at every batch end of a prefix, both engines
        ends = np.flatnonzero((ef.events["flags"][: min(args.verify_prefix, n)] & sff.END_OF_BATCH) != 0)
        k = int(ends[-1]) + 1
        pre = np.array(ef.events[:k])
        sff.write_events(work / "prefix.sfe", ef.instruments, pre, source="synth-prefix")
        sf_bbo = sf_tape_bbo(work / "prefix.sfe", ins_sf.symbol, work)
        engine, strat = engine_with(ins, to_nautilus(pre, ins.id, tick_raw), record_bbo=len(ends) + 10)
        engine.run()
        nt_bbo = {ts: (b, a) for ts, b, a in strat.bbo}
        engine.dispose()
        compared = [(ts, (b, a), nt_bbo[ts]) for ts, b, a in sf_bbo if ts in nt_bbo]
        mism = [c for c in compared if c[1] != c[2]]
        verification = {"prefix_records": k, "points_compared": len(compared), "mismatches": len(mism),
                        "first_mismatch": mism[0] if mism else None}
        print(f"check: {len(compared)} batch ends of a {k}-record prefix, {len(mism)} best bid/ask mismatches",
              flush=True)

        t0 = time.perf_counter()
        objs = to_nautilus(np.asarray(ef.events), ins.id, tick_raw)
        convert_s = time.perf_counter() - t0
        nt_rates, sf_rates = [], []
        for r in range(args.repeat):
            engine, _ = engine_with(ins, objs)
            t0 = time.perf_counter()
            engine.run()
            nt_rates.append(n / (time.perf_counter() - t0))
            engine.dispose()
            out = work / "sf-bench.json"
            subprocess.run([str(find_executable("sf-bench")), "--data", str(data), "--repeat", str(args.best_of),
                            "--no-latency", "--json", str(out)], check=True, capture_output=True)
            sf_rates.append(json.loads(out.read_text())["throughput"]["replay_noop"]["events_per_s"])
            print(f"repeat {r + 1}/{args.repeat}: stratforge {sf_rates[-1] / 1e6:.2f} M/s, "
                  f"NautilusTrader {nt_rates[-1] / 1e6:.3f} M/s", flush=True)
    info["load_avg_end"] = machine.load_average()
    sf_med, nt_med = statistics.median(sf_rates), statistics.median(nt_rates)
    print(f"replay_noop: stratforge {sf_med:,.0f} events/s, NautilusTrader {nautilus_trader.__version__} "
          f"{nt_med:,.0f} events/s, ratio {sf_med / nt_med:.1f}x ({n:,} events, median of {args.repeat})")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "machine": info, "nautilus_trader": nautilus_trader.__version__, "events": n, "seed": args.seed,
            "repeat": args.repeat, "best_of": args.best_of, "convert_s": round(convert_s, 1),
            "verification": verification, "stratforge_events_per_s": sf_med, "nautilus_events_per_s": nt_med,
            "stratforge_runs": sf_rates, "nautilus_runs": nt_rates, "ratio": sf_med / nt_med}, indent=2) + "\n")
    return 0 if not mism else 1


if __name__ == "__main__":
    sys.exit(main())
