"""Adapters from producers' formats to :class:`BacktestRun`.

:func:`from_replay_results` reads the ``sf-replay`` results document (``format:
sf-replay-results``, ``version: 1``; written by runtime/engine/src/results.cpp, documented in
docs/replay.md). The scorecard's model does not depend on that format: only this module does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    EquitySeries,
    Fill,
    LatencySummary,
    OrderCounts,
    RecordedModels,
    RunPeriod,
)
from stratforge.core.spec import StrategySpec

REPLAY_FORMAT = "sf-replay-results"
REPLAY_VERSIONS = (1,)
CALLBACKS = ("on_book", "on_trade", "on_bar", "on_fill", "on_order_update", "on_timer")


class ReplayFormatError(ValueError):
    """The results document is not one this adapter understands, or is inconsistent."""


def _get(d: dict, *path: str) -> Any:
    cur: Any = d
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            raise ReplayFormatError(f"results: missing field {'.'.join(path)}")
        cur = cur[k]
    return cur


def hist_quantile(buckets: list[tuple[int, int, int]], count: int, max_ns: int, q: float) -> int:
    """The engine's quantile rule: rank = round(q x count) clamped to [1, count]; the value is
    the upper edge of the bucket holding that rank, clamped to the exact maximum."""
    if count == 0:
        return 0
    rank = min(max(int(q * count + 0.5), 1), count)
    seen = 0
    for _lo, hi, c in buckets:
        seen += c
        if seen >= rank:
            return min(hi, max_ns)
    return max_ns


def merge_histograms(hists: list[dict]) -> LatencySummary:
    """Merge engine histograms (same bucket layout) and summarise them."""
    acc: dict[tuple[int, int], int] = {}
    count = 0
    max_ns = 0
    for h in hists:
        count += int(h.get("count", 0))
        max_ns = max(max_ns, int(h.get("max", 0)))
        for lo, hi, c in h.get("buckets", ()):
            acc[(int(lo), int(hi))] = acc.get((int(lo), int(hi)), 0) + int(c)
    buckets = sorted((lo, hi, c) for (lo, hi), c in acc.items())
    if sum(c for _, _, c in buckets) != count:
        raise ReplayFormatError(f"results: histogram bucket counts sum to {sum(c for _, _, c in buckets)}, "
                                f"count says {count}")
    qs = [hist_quantile(buckets, count, max_ns, q) for q in (0.5, 0.9, 0.99, 0.999)]
    return LatencySummary(count=count, p50_ns=qs[0], p90_ns=qs[1], p99_ns=qs[2], p999_ns=qs[3], max_ns=max_ns,
                          buckets=tuple((hi, c) for _, hi, c in buckets))


def _latency_text(m: dict) -> str:
    if m.get("model") == "constant":
        return f"constant(ns={m.get('ns')})"
    return f"lognormal(median_ns={m.get('median_ns')}, p99_ns={m.get('p99_ns')})"


def _ns(t: dt.datetime | None) -> int | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _pick_strategy(doc: dict, spec: StrategySpec, spec_hash: str | None) -> dict:
    strategies = _get(doc, "strategies")
    if not isinstance(strategies, list) or not strategies:
        raise ReplayFormatError("results: no strategies in the document")
    name = spec.metadata.name
    for pred in (lambda s: spec_hash and s.get("spec_hash") == spec_hash,
                 lambda s: s.get("id") == name, lambda s: s.get("name") == name):
        hits = [s for s in strategies if pred(s)]
        if len(hits) == 1:
            return hits[0]
    if len(strategies) == 1:
        return strategies[0]
    raise ReplayFormatError(f"results: {len(strategies)} strategies and none is uniquely {name!r}")


def _sampling(ps: dict, events: int) -> tuple[int | None, int | None]:
    """(every n events, period ns) of the engine's PnL sampling. A document without
    ``pnl_series.sampling`` comes from an engine that always sampled every
    ``max(1, events // 2000)`` events."""
    smp = ps.get("sampling")
    if smp is None:
        return max(1, events // 2000), None
    rule = smp.get("rule") if isinstance(smp, dict) else None
    if rule == "period" and int(smp.get("period_ns", 0)) >= 1:
        return None, int(smp["period_ns"])
    if rule == "events" and int(smp.get("every", 0)) >= 1:
        return int(smp["every"]), None
    raise ReplayFormatError(f"results: unknown pnl_series.sampling {smp!r}")


def from_replay_results(json_dict: dict, spec: StrategySpec, *, spec_hash: str | None = None) -> BacktestRun:
    """A :class:`BacktestRun` from an ``sf-replay`` results document and the spec it ran.

    The period comes from the spec when it names one, else from the data's first and last
    receive timestamps; the out-of-sample slice is the trailing ``out_of_sample_fraction`` of it.
    Raises :class:`ReplayFormatError` on an unknown format, an inconsistent document, or a fill
    list the engine truncated (round trips cannot be derived from part of the fills)."""
    if json_dict.get("format") != REPLAY_FORMAT or json_dict.get("version") not in REPLAY_VERSIONS:
        raise ReplayFormatError(f"results: expected format {REPLAY_FORMAT!r} version in {REPLAY_VERSIONS}, was "
                                f"{json_dict.get('format')!r} version {json_dict.get('version')!r}")
    s = _pick_strategy(json_dict, spec, spec_hash)
    data, models, run = _get(json_dict, "data"), _get(json_dict, "models"), _get(json_dict, "run")
    lot = {i["symbol"]: float(i["lot_size"]) for i in _get(data, "instruments")}

    if s.get("fills_truncated"):
        raise ReplayFormatError("results: the fill list was truncated by the engine "
                                "(output.max_fills_listed); rerun with a larger limit to score")
    # period
    per = spec.backtest.period
    start = _ns(per.start) if per.start else int(_get(data, "first_recv_ts"))
    end = _ns(per.end) if per.end else int(_get(data, "last_recv_ts")) + 1
    oos = None
    if per.out_of_sample_fraction > 0:
        oos = start + int((end - start) * (1.0 - per.out_of_sample_fraction))

    # equity
    ps = _get(s, "pnl_series")
    syms = list(ps.get("instruments", []))
    rows = ps.get("position_lots", [])
    positions = {sym: tuple(float(r[k]) * lot[sym] for r in rows) for k, sym in enumerate(syms)}
    if int(ps.get("samples_dropped", 0)):
        raise ReplayFormatError(f"results: the engine dropped {ps['samples_dropped']} PnL samples "
                                "(more than it reserved); the PnL series is incomplete")
    every, period = _sampling(ps, int(_get(data, "events")))
    equity = EquitySeries(ts_ns=tuple(int(t) for t in ps.get("ts", [])), pnl=tuple(float(x) for x in ps.get("pnl", [])),
                          fees=tuple(float(x) for x in ps.get("fees", [])), positions=positions,
                          sample_every_events=every, sample_period_ns=period)
    bar_ns = max((int(i.get("bar_interval_ns", 0)) for i in _get(data, "instruments")), default=0)

    fills = tuple(
        Fill(ts_ns=int(f["ts"]), symbol=f["instrument"], side=f["side"].lower(), px=float(f["price"]),
             qty=float(f["size"]), fee=float(f["fee"]), liquidity=f["liquidity"].lower(), order_id=int(f["order_id"]))
        for f in s.get("fills", []))

    o = _get(s, "orders")
    ordered_qty = None
    if "list" in o and not o.get("list_truncated"):
        ordered_qty = sum(float(x["qty"]) * lot[x["instrument"]] for x in o["list"])
    orders = OrderCounts(sent=int(o.get("submitted", 0)), accepted=int(o.get("accepted", 0)),
                         cancelled=int(o.get("cancels", 0)), replaced=int(o.get("replaces", 0)),
                         ordered_qty=ordered_qty, filled_qty=sum(f.qty for f in fills))

    lat = _get(s, "latency_ns")
    cb = merge_histograms([lat[c] for c in CALLBACKS if c in lat])
    t2o = merge_histograms([lat["tick_to_order"]]) if "tick_to_order" in lat else None

    status, error = "ok", None
    if "fault" in s:
        status = "strategy_fault"
        error = f"{s['fault'].get('callback', '?')}: {s['fault'].get('message', '')}"
    elif not run.get("completed", True):
        status, error = "data_error", "the replay stopped before the end of the data"

    lm = _get(models, "latency")
    fees = _get(models, "fees")
    return BacktestRun(
        strategy=spec.metadata.name, status=status, error=error,
        data_profile="bars" if models.get("bar_mode") else "l2",
        models=RecordedModels(
            venue="sim",
            latency=(f"feed {_latency_text(lm.get('feed', {}))}, entry {_latency_text(lm.get('entry', {}))}, "
                     f"response {_latency_text(lm.get('response', {}))}"
                     + ("" if lm.get("applied", True) else " (not applied: bar mode)")),
            queue=str(models.get("queue_model", "")),
            fees=f"maker_bps={fees.get('maker_bps')} taker_bps={fees.get('taker_bps')}"),
        period=RunPeriod(start_ns=start, end_ns=end, out_of_sample_start_ns=oos),
        bar_interval_ns=bar_ns if models.get("bar_mode") and bar_ns > 0 else None,
        equity=equity, fills=fills, orders=orders,
        risk_denials={k: int(v) for k, v in _get(s, "risk").get("denials_by_reason", {}).items()},
        callback_latency=cb, tick_to_order_latency=t2o,
        events_processed=int(run.get("events_processed", 0)), wall_time_s=float(run.get("wall_time_s", 0.0)))
