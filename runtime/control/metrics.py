"""The control plane's metrics: Prometheus collectors over the engine's ``metrics`` and
``status``, an HTTP endpoint (``/metrics`` Prometheus text, ``/status`` JSON) on 127.0.0.1, and
the mapping of a shadow instance's metrics to the registry's shadow-gate keys.

The collector is a custom ``prometheus_client`` collector over the latest snapshot the daemon
polled (:meth:`EngineCollector.update`), so an unloaded instance's series disappear with it.
Names (docs/operations.md lists them with their labels):

``sf_engine_up``, ``sf_engine_restarts_total``, ``sf_feed_seq``, ``sf_feed_events_total``,
``sf_venue_connected``, ``sf_kill_switch_engaged{strategy}``,
``sf_deployment_info{strategy,build_id,role}``, ``sf_instance_pnl``, ``sf_instance_fees``,
``sf_instance_drawdown``, ``sf_instance_position{symbol}``, ``sf_instance_events_total``,
``sf_instance_orders_total{kind}``, ``sf_instance_fill_qty_total``,
``sf_instance_denials_total{reason}``, ``sf_instance_risk_breaches_total``,
``sf_instance_tick_to_order_ns{quantile}``, ``sf_instance_callback_ns{quantile}``,
``sf_firm_position{symbol}``, ``sf_firm_gross_notional`` (instance series are labelled
``strategy``, ``build_id``, ``role``).
"""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from stratforge.core.errors import StratforgeError, UserInputError

__all__ = ["EngineCollector", "MetricsServer", "gate_metrics", "snapshot_instances"]

_QUANTILES = (("p50", "0.5"), ("p99", "0.99"), ("p999", "0.999"), ("max", "1"))
_ORDER_KINDS = ("submitted", "accepted", "denied", "canceled", "fills")


def snapshot_instances(metrics: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The per-instance records of an engine ``metrics`` response (``instances`` list, or the
    records at top level as a list)."""
    if not metrics:
        return []
    for key in ("instances", "metrics"):
        inst = metrics.get(key)
        if isinstance(inst, list):
            return [i for i in inst if isinstance(i, dict)]
    return []


class EngineCollector(Collector):
    """Prometheus series from the latest engine snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._metrics: dict[str, Any] | None = None
        self._restarts = 0
        self._standby: dict[str, set[str]] = {}

    def update(self, status: dict[str, Any] | None, metrics: dict[str, Any] | None,
               restarts: int = 0, standby: Mapping[str, set[str]] | None = None) -> None:
        """``status``/``metrics`` None: the engine is down."""
        with self._lock:
            self._status, self._metrics, self._restarts = status, metrics, restarts
            self._standby = {k: set(v) for k, v in (standby or {}).items()}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"engine_up": self._status is not None, "status": self._status,
                    "metrics": self._metrics, "engine_restarts": self._restarts}

    def collect(self) -> Iterator[Any]:
        with self._lock:
            status, metrics, restarts = self._status, self._metrics, self._restarts
            standby = self._standby
        yield GaugeMetricFamily("sf_engine_up", "1 when sf-engine answers its control socket",
                                value=1 if status is not None else 0)
        yield CounterMetricFamily("sf_engine_restarts", "sf-engine restarts by the control "
                                  "plane after a crash", value=restarts)
        if status is None:
            return
        feed = status.get("feed") or {}
        yield GaugeMetricFamily("sf_feed_seq", "sequence number of the last feed event",
                                value=float(feed.get("seq") or 0))
        yield CounterMetricFamily("sf_feed_events", "feed events processed",
                                  value=float(feed.get("events") or 0))
        venue = status.get("venue")
        yield GaugeMetricFamily("sf_venue_connected", "1 when the live venue session is up",
                                value=1 if venue and venue.get("connected") else 0)
        killed = GaugeMetricFamily("sf_kill_switch_engaged", "1 when the strategy's kill switch "
                                   "is engaged (strategy=\"*\": firm-wide)", labels=["strategy"])
        killed.add_metric(["*"], 1 if status.get("killed_all") else 0)
        info = GaugeMetricFamily("sf_deployment_info", "one series per loaded instance; role "
                                 "live, shadow or standby (last-good kept warm)",
                                 labels=["strategy", "build_id", "role"])
        for st in status.get("strategies", []):
            killed.add_metric([st.get("name", "")], 1 if st.get("killed") else 0)
            for inst in st.get("instances", []):
                role = inst.get("role", "")
                if role == "shadow" and inst.get("build_id") in standby.get(st.get("name"), ()):
                    role = "standby"
                info.add_metric([st.get("name", ""), inst.get("build_id", ""), role], 1)
        yield killed
        yield info
        yield from self._instances(metrics, standby)

    def _instances(self, metrics: dict[str, Any] | None,
                   standby: Mapping[str, set[str]]) -> Iterator[Any]:
        labels = ["strategy", "build_id", "role"]
        fam = {
            "pnl": GaugeMetricFamily("sf_instance_pnl", "PnL (quote currency)", labels=labels),
            "fees": GaugeMetricFamily("sf_instance_fees", "fees paid", labels=labels),
            "drawdown": GaugeMetricFamily("sf_instance_drawdown", "drawdown from the PnL peak",
                                          labels=labels),
            "events": CounterMetricFamily("sf_instance_events", "feed events delivered",
                                          labels=labels),
            "fill_qty": CounterMetricFamily("sf_instance_fill_qty", "filled lots", labels=labels),
            "breaches": CounterMetricFamily("sf_instance_risk_breaches", "risk breaches",
                                            labels=labels),
        }
        position = GaugeMetricFamily("sf_instance_position", "net position (lots)",
                                     labels=[*labels, "symbol"])
        orders = CounterMetricFamily("sf_instance_orders", "orders by outcome",
                                     labels=[*labels, "kind"])
        denials = CounterMetricFamily("sf_instance_denials", "risk denials by reason",
                                      labels=[*labels, "reason"])
        t2o = GaugeMetricFamily("sf_instance_tick_to_order_ns", "tick-to-order latency "
                                "percentiles (quantile 1 = max)", labels=[*labels, "quantile"])
        cb = GaugeMetricFamily("sf_instance_callback_ns", "strategy callback latency "
                               "percentiles (quantile 1 = max)", labels=[*labels, "quantile"])
        for m in snapshot_instances(metrics):
            role = m.get("role", "")
            if role == "shadow" and m.get("build_id") in standby.get(m.get("strategy"), ()):
                role = "standby"
            key = [str(m.get("strategy", "")), str(m.get("build_id", "")), role]
            fam["pnl"].add_metric(key, float(m.get("pnl") or 0))
            fam["fees"].add_metric(key, float(m.get("fees") or 0))
            fam["drawdown"].add_metric(key, float(m.get("drawdown") or 0))
            fam["events"].add_metric(key, float(m.get("events") or 0))
            o = m.get("orders") or {}
            fam["fill_qty"].add_metric(key, float(o.get("fill_qty") or 0))
            fam["breaches"].add_metric(key, float(m.get("risk_breaches") or 0))
            for sym, lots in sorted((m.get("position") or {}).items()):
                position.add_metric([*key, sym], float(lots))
            for kind in _ORDER_KINDS:
                orders.add_metric([*key, kind], float(o.get(kind) or 0))
            for reason, n in sorted((m.get("denials") or {}).items()):
                denials.add_metric([*key, reason], float(n))
            for fam_q, src in ((t2o, m.get("t2o_ns") or {}), (cb, m.get("callback_ns") or {})):
                for name, q in _QUANTILES:
                    if src.get(name) is not None:
                        fam_q.add_metric([*key, q], float(src[name]))
        yield from fam.values()
        yield from (position, orders, denials, t2o, cb)
        firm = (metrics or {}).get("firm") or {}
        fp = GaugeMetricFamily("sf_firm_position", "firm-wide net position of the live "
                               "instances (lots)", labels=["symbol"])
        for sym, lots in sorted((firm.get("position") or {}).items()):
            fp.add_metric([sym], float(lots))
        yield fp
        yield GaugeMetricFamily("sf_firm_gross_notional", "sum of |position| x mid over the "
                                "live instances", value=float(firm.get("gross_notional") or 0))


#: (what: "kill" | "release", strategy or None for all, reason, actor) -> the engine's answer
RuntimeActions = Callable[[str, "str | None", "str | None", str], dict[str, Any]]
#: the file in the state folder holding the bearer token of ``POST /kill`` and ``/release``
TOKEN_FILE = "control.token"
MAX_ACTION_BODY = 64 * 1024


class MetricsServer:
    """``/metrics`` and ``/status`` on 127.0.0.1 (port 0: the system picks; see :attr:`port`);
    with ``actions`` and ``token`` also ``POST /kill`` and ``POST /release`` (JSON body
    ``{"strategy", "reason", "actor"}``, ``Authorization: Bearer <token>``) — the dashboard's
    kill switch, which cannot reach the engine's Unix socket through an import."""

    def __init__(self, collector: EngineCollector, port: int = 0,
                 extra_status: Callable[[], dict[str, Any]] | None = None,
                 actions: RuntimeActions | None = None, token: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.collector = collector
        registry, extra = self.registry, extra_status

        class Handler(BaseHTTPRequestHandler):
            def _json(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc, sort_keys=True).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                what = self.path.split("?", 1)[0].strip("/")
                if actions is None or token is None or what not in ("kill", "release"):
                    self._json(404, {"error": "POST /kill or /release (when the control plane "
                                              "serves actions)"})
                    return
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self._json(401, {"error": "a bearer token from the control plane's "
                                              f"{TOKEN_FILE} is required"})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    if not 0 < length <= MAX_ACTION_BODY:
                        raise ValueError(f"a JSON body of 1..{MAX_ACTION_BODY} bytes is required")
                    req = json.loads(self.rfile.read(length))
                    if not isinstance(req, dict):
                        raise ValueError("the body must be a JSON object")
                    strategy, reason, actor = req.get("strategy"), req.get("reason"), req.get("actor")
                    if strategy is not None and not isinstance(strategy, str):
                        raise ValueError("'strategy' must be a name or null (every strategy)")
                    if reason is not None and not isinstance(reason, str):
                        raise ValueError("'reason' must be text")
                    if not isinstance(actor, str) or not actor:
                        raise ValueError("'actor' (who asked) is required")
                except ValueError as err:
                    self._json(400, {"error": f"bad {what} request: {err}"})
                    return
                try:
                    self._json(200, actions(what, strategy, reason, actor))
                except UserInputError as err:  # the actor may not (the registry's refusal)
                    self._json(403, {"error": str(err)})
                except StratforgeError as err:  # the engine refused or did not answer
                    self._json(502, {"error": str(err)})

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, ctype = generate_latest(registry), CONTENT_TYPE_LATEST
                elif path == "/status":
                    doc = collector.snapshot()
                    if extra is not None:
                        doc.update(extra())
                    body = json.dumps(doc, sort_keys=True).encode()
                    ctype = "application/json"
                else:
                    self.send_error(404, "try /metrics or /status")
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http",
                                        daemon=True)

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _per_fill(pnl: float, fills: float) -> float | None:
    return pnl / fills if fills > 0 else None


def _fill_ratio(fills: float, accepted: float) -> float | None:
    return fills / accepted if accepted > 0 else None


def gate_metrics(shadow: Mapping[str, Any], *, duration_s: float,
                 reference: Mapping[str, float] | None, capital: float | None
                 ) -> dict[str, float | int | None]:
    """A shadow instance's engine metrics as the registry's shadow-gate keys.

    ``reference``: what the shadow is compared with — the live instance over the same events
    (its ``pnl``, ``fills``, ``accepted`` since the shadow started), or the backtest's
    (``pnl``, ``fills`` and its ``fill_ratio``) — or
    None (not measured: the gate stays inconclusive on those criteria). PnL deviation is of PnL
    per fill, percent of the reference's; fill-ratio deviation is in percentage points of
    fills per accepted order. ``drawdown_pct`` is the drawdown in percent of ``capital``.
    """
    orders = shadow.get("orders") or {}
    fills = float(orders.get("fills") or 0)
    accepted = float(orders.get("accepted") or 0)
    pnl = float(shadow.get("pnl") or 0)
    out: dict[str, float | int | None] = {
        "duration_s": round(max(0.0, duration_s), 3),
        "fills": int(fills),
        "risk_breaches": int(shadow.get("risk_breaches") or 0),
        "callback_p99_ns": (shadow.get("callback_ns") or {}).get("p99"),
        "callback_count": (shadow.get("callback_ns") or {}).get("count"),
        "drawdown_pct": (round(abs(float(shadow.get("drawdown") or 0)) / capital * 100.0, 6)
                         if capital else None),
        "pnl_deviation_pct": None,
        "fill_ratio_deviation_pct": None,
    }
    if shadow.get("complete") is False:
        # the engine's shadow thread missed events for this instance (its ring was full,
        # docs/runtime.md "Live path and shadow thread"): its evidence is incomplete, so nothing but
        # a risk breach that did happen is measured and the gate stays inconclusive
        return {k: (v if k == "risk_breaches" else None) for k, v in out.items()}
    if reference is not None:
        mine, theirs = _per_fill(pnl, fills), _per_fill(reference.get("pnl", 0.0),
                                                         reference.get("fills", 0.0))
        if mine is not None and theirs is not None and theirs != 0:
            out["pnl_deviation_pct"] = round(abs(mine - theirs) / abs(theirs) * 100.0, 6)
        elif mine is not None and theirs is not None and mine == theirs:
            out["pnl_deviation_pct"] = 0.0
        r_mine = _fill_ratio(fills, accepted)
        r_theirs = reference.get("fill_ratio")
        if r_theirs is None:
            r_theirs = _fill_ratio(reference.get("fills", 0.0), reference.get("accepted", 0.0))
        if r_mine is not None and r_theirs is not None:
            out["fill_ratio_deviation_pct"] = round(abs(r_mine - r_theirs) * 100.0, 6)
    return out
