"""The Kubernetes deployer: one stratforge runtime per namespace, through the kubernetes client.

:class:`KubernetesDeployer` implements the registry's ``Deployer`` protocol structurally
(``observe(strategy)``, ``apply(target, slot)``; the runtime never imports the registry). It
renders ``templates/k8s/*.yaml.j2`` (Jinja2, ``StrictUndefined``), checks every object by
deserialising it into the client's own models (a key the model does not know is an error, not a
silently dropped field), and applies them with create-or-replace under optimistic concurrency:

* ``<name>-plugin-<sha>`` — one immutable ConfigMap per plugin (``binaryData``, SHA-256 in the
  ``stratforge.io/sha256`` annotation; content-addressed, so it is created once and kept). A
  ConfigMap holds at most 1 MiB: a larger plugin is refused with the limit named and the PVC mode
  (``plugin_claim=``: plugins staged on a read-only volume as ``<sha256>.so``) suggested.
* ``<name>-engine`` — engine.json (runtime-contract.md); ``<name>-slots`` — the desired slots as a
  file for the in-pod control plane (a mounted ConfigMap is refreshed without a pod restart).
* ``<name>`` — the engine Deployment: sf-engine, sf-venue and the control plane in one pod,
  ``Recreate`` (never two engines at once), requests == limits with whole CPUs for sf-engine and
  sf-venue (Guaranteed QoS: the static CPU manager pins them to exclusive cores), a nodeSelector and
  toleration for nodes with isolated cores, locked-down security contexts. The desired slots are
  the ``stratforge.io/slots`` annotation of this Deployment; :meth:`KubernetesDeployer.observe`
  reads them back from the cluster.
* ``<name>-metrics`` — a Service for the control plane's metrics port, and a NetworkPolicy that
  denies every connection but that port.

``import kubernetes`` happens inside functions: it is the optional extra ``k8s``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

import jinja2
import yaml
from pydantic import ValidationError

from stratforge.core.engine_config import ConstantLatency, Fees, Latency, Risk, Venue
from stratforge.core.errors import RetryableError, StratforgeError, UserInputError
from stratforge.core.kube import api_client
from stratforge.core.templates import function_loader
from stratforge.runtime.control.plugin import PluginFile, resolve_plugin

__all__ = ["KubernetesDeployer", "KubernetesDeployError", "PluginFile", "SLOTS_ANNOTATION",
           "CONFIGMAP_MAX_BYTES", "DEFAULT_IMAGE", "render_manifests", "plugin_manifest",
           "validate_manifest", "plugin_from_bundle"]

TEMPLATE_DIR = "k8s"
SLOTS_ANNOTATION = "stratforge.io/slots"
SHA_ANNOTATION = "stratforge.io/sha256"
#: the API server refuses a ConfigMap whose data exceeds 1 MiB (keys + values, decoded)
CONFIGMAP_MAX_BYTES = 1024 * 1024
DEFAULT_IMAGE = "stratforge-runtime:latest"
SLOTS = ("shadow", "live", "retired")
UID = 65534
STATE_DIR = "/var/lib/stratforge/runtime"
CONFIG_DIR = "/etc/stratforge/engine"
SLOTS_DIR = "/etc/stratforge/slots"
DATA_DIR = "/var/lib/stratforge/data"
VENUE_PORT = 5001
METRICS_PORT = 9464
#: the control plane in the pod: `stratforge runtime serve` attaches to the engine socket in
#: STRATFORGE_RUNTIME_DIR and reconciles STRATFORGE_RUNTIME_SLOTS (see docs/operations.md)
CONTROL_COMMAND = ("stratforge", "runtime", "serve")
DEFAULT_FEED: dict[str, Any] = {"kind": "synth", "seed": 1, "events": 1_000_000_000,
                                "instruments": 1, "speed": 1.0}
ISOLATED_LABEL = "stratforge.io/isolated-cores"

#: kind -> (client API class, method suffix, client model)
_KINDS: dict[str, tuple[str, str, str]] = {
    "ConfigMap": ("CoreV1Api", "config_map", "V1ConfigMap"),
    "Service": ("CoreV1Api", "service", "V1Service"),
    "Deployment": ("AppsV1Api", "deployment", "V1Deployment"),
    "NetworkPolicy": ("NetworkingV1Api", "network_policy", "V1NetworkPolicy"),
}


class KubernetesDeployError(StratforgeError):
    """The cluster refused an object, or a rollout did not finish (the message names which)."""


class _TargetLike(Protocol):
    strategy: str
    build_id: str
    bundle: str


# --- templates --------------------------------------------------------------------------------



_ENV = jinja2.Environment(loader=function_loader(TEMPLATE_DIR),
                          undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)

#: runtime templates, in apply order (the Deployment last: what it mounts exists before it)
RUNTIME_TEMPLATES = ("configmap-engine.yaml.j2", "configmap-slots.yaml.j2", "service.yaml.j2",
                     "networkpolicy.yaml.j2", "deployment-engine.yaml.j2")
PLUGIN_TEMPLATE = "configmap-plugin.yaml.j2"


def _render(template: str, ctx: Mapping[str, Any]) -> dict[str, Any]:
    try:
        text = _ENV.get_template(template).render(**ctx)
    except jinja2.TemplateError as err:
        raise StratforgeError(f"templates/k8s/{template}: {err}") from err
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise StratforgeError(f"templates/k8s/{template} renders invalid YAML: {err}") from err
    if not isinstance(doc, dict) or "kind" not in doc:
        raise StratforgeError(f"templates/k8s/{template} does not render one Kubernetes object")
    return doc


def validate_manifest(manifest: Mapping[str, Any]) -> None:
    """Deserialise ``manifest`` into the kubernetes client's model and back; any difference (a
    misspelt or misplaced key, a wrong type) is an error naming the key path."""
    try:
        import kubernetes  # optional extra k8s
    except ImportError:
        raise UserInputError("the Kubernetes deployer needs the kubernetes package: "
                             "pip install 'stratforge[k8s]'") from None

    kind = manifest.get("kind")
    if kind not in _KINDS:
        raise StratforgeError(f"unsupported Kubernetes kind {kind!r} (known: {sorted(_KINDS)})")
    api = kubernetes.client.ApiClient()
    text = json.dumps(manifest)
    try:
        try:
            model = api.deserialize(text, _KINDS[kind][2], "application/json")  # client >= 35
        except TypeError:  # older clients deserialise a response object

            class _Response:
                data = text

            model = api.deserialize(_Response(), _KINDS[kind][2])
    except (ValueError, TypeError) as err:
        raise StratforgeError(f"{kind} {_name(manifest)} is not a valid {_KINDS[kind][2]}: {err}") \
            from err
    back = api.sanitize_for_serialization(model)
    problem = _first_difference(json.loads(text), back, kind)
    if problem:
        raise StratforgeError(f"{kind} {_name(manifest)} does not match the kubernetes model "
                              f"{_KINDS[kind][2]}: {problem}")


def _first_difference(want: Any, got: Any, path: str) -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key not in got:
                return f"{path}.{key} is not a field of the model (dropped)"
            sub = _first_difference(want[key], got[key], f"{path}.{key}")
            if sub:
                return sub
        return ""
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got)):
            sub = _first_difference(w, g, f"{path}[{i}]")
            if sub:
                return sub
        return ""
    return "" if want == got else f"{path} is {want!r}, the model reads {got!r}"


def _name(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"


def _labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "stratforge-runtime", "app.kubernetes.io/instance": name,
            "app.kubernetes.io/part-of": "stratforge", "app.kubernetes.io/component": component}


def _plugin_entry(name: str, strategy: str, build_id: str, sha256: str) -> dict[str, str]:
    return {"configmap": f"{name}-plugin-{sha256[:16]}", "key": f"{sha256}.so", "sha256": sha256,
            "strategy": strategy, "build_id": build_id}


def plugin_manifest(namespace: str, name: str, strategy: str, build_id: str,
                    plugin: PluginFile) -> dict[str, Any]:
    """The immutable ConfigMap of one plugin (refused above :data:`CONFIGMAP_MAX_BYTES`)."""
    data = plugin.path.read_bytes()
    entry = _plugin_entry(name, strategy, build_id, plugin.sha256)
    size = len(data) + len(entry["key"])
    if size > CONFIGMAP_MAX_BYTES:
        raise UserInputError(
            f"{plugin.path}: the plugin of {strategy} {build_id} is {len(data):,} bytes; a "
            f"ConfigMap holds at most {CONFIGMAP_MAX_BYTES:,} bytes (1 MiB, the API server's "
            "limit): stage plugins on a volume instead (PVC mode: KubernetesDeployer("
            "plugin_claim=...) / STRATFORGE_K8S_PLUGIN_CLAIM, files <sha256>.so)")
    if hashlib.sha256(data).hexdigest() != plugin.sha256:
        raise UserInputError(f"{plugin.path}: SHA-256 is {hashlib.sha256(data).hexdigest()}, the "
                             f"build recorded {plugin.sha256}: it is not the file that was tested")
    doc = _render(PLUGIN_TEMPLATE, {
        "namespace": namespace, "plugin_labels": _labels(name, "plugin"),
        "plugin": {**entry, "data_b64": base64.b64encode(data).decode()}})
    validate_manifest(doc)
    return doc


def render_manifests(namespace: str, name: str, slots: Mapping[str, Any], *,
                     image: str = DEFAULT_IMAGE, engine_cpus: int = 2, venue_cpus: int = 1,
                     engine_memory: str = "2Gi", venue_memory: str = "512Mi",
                     control_cpu: str = "500m", control_memory: str = "512Mi",
                     feed: Mapping[str, Any] | None = None, engine: Mapping[str, Any] | None = None,
                     venue: bool = True,
                     plugin_claim: str | None = None, data_claim: str | None = None,
                     node_selector: Mapping[str, str] | None = None,
                     tolerations: Iterable[Mapping[str, Any]] | None = None,
                     control_command: Iterable[str] = CONTROL_COMMAND,
                     metrics_port: int = METRICS_PORT) -> list[dict[str, Any]]:
    """Every runtime object for the desired ``slots`` (plugin ConfigMaps aside), validated, in
    apply order. ``slots`` is the ``stratforge.io/slots`` document (see :func:`_set_slot`).

    ``engine``: engine.json overrides (``firm``, ``risk``, ``sim_venue``,
    ``latency_window_events``); ``venue=False`` runs "paper live" (no sf-venue container, live
    orders to the engine's in-process simulated venue)."""
    for what, cpus in (("engine_cpus", engine_cpus), ("venue_cpus", venue_cpus)):
        if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
            raise UserInputError(f"{what} must be a whole number of CPUs >= 1 (the static CPU "
                                 f"manager pins only integer requests), was {cpus!r}")
    feed = dict(feed or DEFAULT_FEED)
    if feed.get("kind") == "replay":
        if not data_claim:
            raise UserInputError("a replay feed needs the data volume: set data_claim (a PVC "
                                 "holding the event file) or use a synth feed")
        path = str(feed.get("path", ""))
        if not path or path.startswith("/") or ".." in Path(path).parts:
            raise UserInputError(f"replay feed path {path!r} must be relative to the data volume")
        feed["path"] = f"{DATA_DIR}/{path}"
        venue_src = ["--data", feed["path"]]
    elif feed.get("kind") == "synth":
        venue_src = ["--synth", f"{feed.get('seed', 1)}:{feed.get('events', 0)}:"
                                f"{feed.get('instruments', 1)}"]
    else:
        raise UserInputError(f"feed kind must be 'replay' or 'synth', was {feed.get('kind')!r}")
    engine_json = _engine_json(name, feed, venue, engine or {})
    engine_text = json.dumps(engine_json, sort_keys=True, indent=2) + "\n"
    plugins = _mounted_plugins(name, slots)
    labels = _labels(name, "engine")
    selector = {k: labels[k] for k in ("app.kubernetes.io/instance", "app.kubernetes.io/component")}
    tol = list(tolerations) if tolerations is not None else [
        {"key": ISOLATED_LABEL, "operator": "Exists", "effect": "NoSchedule"}]
    ctx = {
        "namespace": namespace, "name": name, "labels": labels, "selector": selector,
        "image": image, "uid": UID, "grace_s": 30,
        "engine_cpus": str(engine_cpus), "venue_cpus": str(venue_cpus),
        "engine_memory": engine_memory, "venue_memory": venue_memory,
        "control_cpu": control_cpu, "control_memory": control_memory,
        "engine_json": engine_text,
        "engine_json_sha256": hashlib.sha256(engine_text.encode()).hexdigest(),
        "slots_json": json.dumps(slots, sort_keys=True, separators=(",", ":")),
        "plugins": plugins, "plugin_shas": [p["sha256"] for p in plugins],
        "plugin_claim": plugin_claim or "", "data_claim": data_claim or "",
        "node_selector": dict(node_selector) if node_selector is not None
        else {ISOLATED_LABEL: "true"},
        "tolerations": tol,
        "state_dir": STATE_DIR, "config_dir": CONFIG_DIR, "slots_dir": SLOTS_DIR,
        "data_dir": DATA_DIR, "state_size": "1Gi", "metrics_port": metrics_port,
        "venue_command": ["sf-venue", *venue_src, "--port", str(VENUE_PORT),
                          "--port-file", f"{STATE_DIR}/venue.port",
                          "--journal", f"{STATE_DIR}/venue.journal.jsonl"],
        "control_command": list(control_command), "venue": venue,
    }
    docs = [_render(t, ctx) for t in RUNTIME_TEMPLATES]
    for doc in docs:
        validate_manifest(doc)
    check_engine_pod(docs[-1])
    return docs


#: what every container of the engine pod must run with
LOCKED_DOWN = {"allowPrivilegeEscalation": False, "privileged": False,
               "readOnlyRootFilesystem": True, "runAsNonRoot": True,
               "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
#: containers that must get exclusive cores from the static CPU manager
PINNED = ("sf-engine", "sf-venue")


def check_engine_pod(deployment: Mapping[str, Any]) -> None:
    """Refuse an engine Deployment that lost a guarantee (a template edit gone wrong): Guaranteed
    QoS (cpu and memory requests == limits in every container), whole CPUs for the pinned
    containers, the locked-down security context, Recreate, no service account token."""
    where = f"Deployment {_name(deployment)} (templates/k8s/deployment-engine.yaml.j2)"
    spec = deployment["spec"]
    if spec.get("strategy", {}).get("type") != "Recreate":
        raise StratforgeError(f"{where}: strategy must be Recreate (two engines must never "
                              "trade at once)")
    pod = spec["template"]["spec"]
    if pod.get("automountServiceAccountToken") is not False:
        raise StratforgeError(f"{where}: automountServiceAccountToken must be false")
    names = [c["name"] for c in pod["containers"]]
    if "sf-engine" not in names:
        raise StratforgeError(f"{where}: container sf-engine is missing")
    for c in pod["containers"] + pod.get("initContainers", []):
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for key in ("cpu", "memory"):
            if key not in lim or lim.get(key) != req.get(key):
                raise StratforgeError(
                    f"{where}: container {c['name']}: {key} requests ({req.get(key)}) must equal "
                    f"limits ({lim.get(key)}) for Guaranteed QoS")
        if c["name"] in PINNED and not str(lim["cpu"]).isdigit():
            raise StratforgeError(f"{where}: container {c['name']}: cpu {lim['cpu']!r} is not a "
                                  "whole number of CPUs (the static CPU manager would not pin it)")
        sc = c.get("securityContext") or {}
        for key, value in LOCKED_DOWN.items():
            if sc.get(key) != value:
                raise StratforgeError(f"{where}: container {c['name']}: securityContext.{key} "
                                      f"must be {value!r}, is {sc.get(key)!r}")


#: engine.json defaults for what a `load` does not bring itself: sf-replay's zero-latency simulated
#: venue for shadow (paper) orders, and deliberately tight default risk limits (every version's
#: load carries its spec's own); the firm-wide limits are the operator's to set
DEFAULT_SIM_VENUE = Venue(latency=Latency(feed=ConstantLatency(ns=0), entry=ConstantLatency(ns=0),
                                          response=ConstantLatency(ns=0)),
                          queue_model="risk_averse", fees=Fees(maker_bps=0, taker_bps=0), seed=1)
DEFAULT_RISK = Risk(max_order_qty=1, max_order_notional=1, max_position=1, price_band_bps=100,
                    max_open_orders=1, max_msgs_per_sec=1, msg_burst=1, max_loss=1,
                    kill_on_max_loss=True, max_drawdown=1, kill_on_breach=True)
ENGINE_KEYS = ("firm", "risk", "sim_venue", "latency_window_events")


def _engine_json(name: str, feed: dict[str, Any], venue: bool,
                 overrides: Mapping[str, Any]) -> dict[str, Any]:
    """engine.json (runtime-contract.md), its typed parts checked with core's engine models."""
    unknown = sorted(set(overrides) - set(ENGINE_KEYS))
    if unknown:
        raise UserInputError(f"engine settings {', '.join(unknown)} are not known "
                             f"(allowed: {', '.join(ENGINE_KEYS)})")
    try:
        risk = Risk.model_validate(overrides.get("risk", DEFAULT_RISK.model_dump()))
        sim = Venue.model_validate(overrides.get("sim_venue", DEFAULT_SIM_VENUE.model_dump()))
    except ValidationError as err:
        raise UserInputError(f"engine settings: {err}") from err
    firm = dict(overrides.get("firm") or {"max_position": {}, "max_gross_notional": 1e12})
    window = overrides.get("latency_window_events", 1000)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise UserInputError(f"latency_window_events must be an integer >= 1, was {window!r}")
    return {"control_socket": f"{STATE_DIR}/engine.sock", "feed": feed,
            "venue": {"host": "127.0.0.1", "port": VENUE_PORT, "session": f"{name}-engine",
                      "heartbeat_ms": 250} if venue else None,
            "firm": firm, "latency_window_events": window,
            "sim_venue": sim.model_dump(mode="json"),
            "risk": risk.model_dump(mode="json", exclude_none=True)}


def _mounted_plugins(name: str, slots: Mapping[str, Any]) -> list[dict[str, str]]:
    """Plugins the pod mounts: every shadow and live version, and each strategy's standby (the
    version live before the current one, kept for an instant rollback)."""
    out: dict[str, dict[str, str]] = {}
    for strategy in sorted(slots):
        entry = slots[strategy]
        for build_id, v in sorted(entry.get("versions", {}).items()):
            if v["slot"] in ("shadow", "live") or build_id == entry.get("standby"):
                out.setdefault(v["sha256"], _plugin_entry(name, strategy, build_id, v["sha256"]))
    return [out[k] for k in sorted(out)]


def _set_slot(slots: dict[str, Any], strategy: str, build_id: str, slot: str,
              sha256: str | None) -> dict[str, Any]:
    """The slots document after putting ``build_id`` in ``slot`` (a new dict).

    Shape: ``{strategy: {"live": build|None, "standby": build|None,
    "versions": {build: {"slot": "shadow"|"live"|"retired", "sha256": hex}}}}``. A version put
    live replaces the current live one, which is retired and kept mounted as ``standby``; other
    retired versions are dropped from the document (``observe`` leaves them out).
    """
    out = copy.deepcopy(slots)
    entry = out.setdefault(strategy, {"live": None, "standby": None, "versions": {}})
    versions = entry["versions"]
    current = versions.get(build_id)
    if slot == "retired":
        if current is None:
            return out
        current["slot"] = "retired"
        if entry["live"] == build_id:
            entry["live"] = None
    else:
        assert sha256 is not None
        versions[build_id] = {"slot": slot, "sha256": sha256}
        if slot == "live":
            old = entry["live"]
            if old and old != build_id and old in versions:
                versions[old]["slot"] = "retired"
                entry["standby"] = old
            entry["live"] = build_id
        elif entry["live"] == build_id:
            entry["live"] = None
    if entry["standby"] == build_id and slot != "retired":
        entry["standby"] = None
    for b in [b for b, v in versions.items() if v["slot"] == "retired" and b != entry["standby"]]:
        del versions[b]
    if not versions:
        del out[strategy]
    return out


def plugin_from_bundle(target: _TargetLike, build_root: Path | None = None) -> PluginFile:
    """The plugin ``stratforge build`` tested, from the scorecard provenance in the bundle,
    checked (:func:`stratforge.runtime.control.plugin.resolve_plugin`, shared with the local
    deployer)."""
    return resolve_plugin(Path(target.bundle), build_root, target.build_id)


# --- the deployer -----------------------------------------------------------------------------


class KubernetesDeployer:
    """Runs versions in one stratforge runtime in ``namespace`` (see the module docstring).

    ``api``: a ``kubernetes.client.ApiClient`` (default: from the kubeconfig, else in-cluster).
    ``plugin_of(target) -> PluginFile`` finds a version's tested plugin (default: the scorecard
    provenance, :func:`plugin_from_bundle`). Other keywords go to :func:`render_manifests`.
    """

    def __init__(self, namespace: str, api: Any = None, image: str = DEFAULT_IMAGE, *,
                 name: str = "stratforge", build_root: Path | None = None,
                 plugin_of: Callable[[_TargetLike], PluginFile] | None = None,
                 rollout_timeout_s: float = 180.0, poll_s: float = 1.0, retries: int = 5,
                 context: str | None = None, **render: Any) -> None:
        self.namespace, self.image, self.name = namespace, image, name
        self.rollout_timeout_s, self.poll_s, self.retries = rollout_timeout_s, poll_s, retries
        self.context = context
        self._api = api
        self._plugin_of = plugin_of or (lambda t: plugin_from_bundle(t, build_root))
        self._render = render
        render_manifests(namespace, name, {}, image=image, **render)  # bad settings fail here

    # the Deployer protocol ----------------------------------------------------------------

    def observe(self, strategy: str) -> dict[str, str]:
        """Build id -> slot of ``strategy``, from the engine Deployment's annotation as the
        cluster holds it (no Deployment: nothing runs)."""
        dep = self._read_deployment()
        if dep is None:
            return {}
        entry = _slots_of(dep).get(strategy) or {}
        return {b: v["slot"] for b, v in sorted(entry.get("versions", {}).items())}

    def apply(self, target: _TargetLike, slot: str) -> None:
        """Put ``target`` in ``slot`` (idempotent); waits (bounded) for the rollout."""
        if slot not in SLOTS:
            raise UserInputError(f"slot must be one of {', '.join(SLOTS)}, was {slot!r}")
        plugin = None if slot == "retired" else self._plugin_of(target)
        if plugin is not None and not self._render.get("plugin_claim"):
            self._ensure_plugin(plugin_manifest(self.namespace, self.name, target.strategy,
                                                target.build_id, plugin))
        for _ in range(self.retries):
            dep = self._read_deployment()
            version = dep.metadata.resource_version if dep is not None else None
            slots = _set_slot(_slots_of(dep) if dep is not None else {}, target.strategy,
                              target.build_id, slot, plugin.sha256 if plugin else None)
            docs = render_manifests(self.namespace, self.name, slots, image=self.image,
                                    **self._render)
            for doc in docs[:-1]:
                self._create_or_replace(doc)
            if self._put_deployment(docs[-1], version):
                break
        else:
            raise RetryableError(f"kubernetes: the Deployment {self.namespace}/{self.name} kept "
                                 f"changing under us ({self.retries} conflicts); try again")
        self.wait_rollout()
        self._collect_plugins()

    # cluster I/O ------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._api is None:
            self._api = api_client(self.context)
        return self._api

    def _ops(self, kind: str) -> tuple[Callable[..., Any], ...]:
        import kubernetes  # optional extra k8s

        cls, suffix, _ = _KINDS[kind]
        api = getattr(kubernetes.client, cls)(self._client())
        return tuple(getattr(api, f"{verb}_namespaced_{suffix}")
                     for verb in ("read", "create", "replace", "delete", "list"))

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        import kubernetes  # optional extra k8s

        try:
            return fn(*args, **kw)
        except kubernetes.client.ApiException as err:
            if err.status in (404, 409):
                raise
            raise KubernetesDeployError(f"kubernetes: {what} refused ({err.status} {err.reason}): "
                                        f"{_api_message(err)}") from err

    def _read_deployment(self) -> Any:
        import kubernetes  # optional extra k8s

        read = self._ops("Deployment")[0]
        try:
            return self._call(f"GET Deployment {self.namespace}/{self.name}", read, self.name,
                              self.namespace)
        except kubernetes.client.ApiException as err:
            if err.status == 404:
                return None
            raise KubernetesDeployError(f"kubernetes: GET Deployment {self.namespace}/{self.name}"
                                        f" refused ({err.status}): {_api_message(err)}") from err

    def _ensure_plugin(self, doc: dict[str, Any]) -> None:
        """Create a plugin ConfigMap unless it exists with the same SHA-256 (content-addressed
        and immutable: never replaced)."""
        import kubernetes  # optional extra k8s

        read, create = self._ops("ConfigMap")[:2]
        name, sha = doc["metadata"]["name"], doc["metadata"]["annotations"][SHA_ANNOTATION]
        for _ in range(self.retries):
            try:
                cur = self._call(f"GET ConfigMap {self.namespace}/{name}", read, name,
                                 self.namespace)
            except kubernetes.client.ApiException as err:
                if err.status != 404:
                    raise
                try:
                    self._call(f"POST ConfigMap {self.namespace}/{name}", create, self.namespace,
                               doc)
                    return
                except kubernetes.client.ApiException as err2:
                    if err2.status == 409:
                        continue
                    raise
            have = (cur.metadata.annotations or {}).get(SHA_ANNOTATION)
            if have != sha:
                raise KubernetesDeployError(
                    f"kubernetes: ConfigMap {self.namespace}/{name} exists with SHA-256 "
                    f"{have!r}, not {sha}: delete it (it is not this deployer's plugin)")
            return
        raise RetryableError(f"kubernetes: ConfigMap {self.namespace}/{name}: repeated conflicts")

    def _create_or_replace(self, doc: dict[str, Any]) -> None:
        import kubernetes  # optional extra k8s

        kind, name = doc["kind"], doc["metadata"]["name"]
        read, create, replace = self._ops(kind)[:3]
        where = f"{kind} {self.namespace}/{name}"
        for _ in range(self.retries):
            try:
                cur = self._call(f"GET {where}", read, name, self.namespace)
            except kubernetes.client.ApiException as err:
                if err.status != 404:
                    raise
                try:
                    self._call(f"POST {where}", create, self.namespace, doc)
                    return
                except kubernetes.client.ApiException as err2:
                    if err2.status == 409:
                        continue
                    raise
            body = copy.deepcopy(doc)
            body["metadata"]["resourceVersion"] = cur.metadata.resource_version
            if kind == "Service":  # immutable once allocated
                have = self._client().sanitize_for_serialization(cur)["spec"]
                for key in ("clusterIP", "clusterIPs"):
                    if have.get(key):
                        body["spec"][key] = have[key]
            try:
                self._call(f"PUT {where}", replace, name, self.namespace, body)
                return
            except kubernetes.client.ApiException as err:
                if err.status == 409:
                    continue
                raise
        raise RetryableError(f"kubernetes: {where}: {self.retries} conflicts in a row; try again")

    def _put_deployment(self, doc: dict[str, Any], version: str | None) -> bool:
        """Write the Deployment based on the version the slots were read from; False on a
        conflict (someone else changed it: re-read and recompute)."""
        import kubernetes  # optional extra k8s

        _, create, replace = self._ops("Deployment")[:3]
        where = f"Deployment {self.namespace}/{self.name}"
        try:
            if version is None:
                self._call(f"POST {where}", create, self.namespace, doc)
            else:
                body = copy.deepcopy(doc)
                body["metadata"]["resourceVersion"] = version
                self._call(f"PUT {where}", replace, self.name, self.namespace, body)
        except kubernetes.client.ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def wait_rollout(self) -> None:
        """Until the Deployment controller saw the newest spec and a pod of it is available
        (bounded by ``rollout_timeout_s``)."""
        end = time.monotonic() + self.rollout_timeout_s
        while True:
            dep = self._read_deployment()
            if dep is None:
                raise KubernetesDeployError(f"kubernetes: Deployment {self.namespace}/"
                                            f"{self.name} vanished during the rollout")
            st = dep.status
            gen = dep.metadata.generation or 0
            seen = st is not None and (st.observed_generation or 0) >= gen
            if seen and (st.updated_replicas or 0) >= 1 and (st.available_replicas or 0) >= 1:
                return
            if time.monotonic() >= end:
                raise RetryableError(
                    f"kubernetes: Deployment {self.namespace}/{self.name} did not roll out in "
                    f"{self.rollout_timeout_s:g} s (generation {dep.metadata.generation}, "
                    f"observed {getattr(st, 'observed_generation', None)}, available "
                    f"{getattr(st, 'available_replicas', None)}): see `kubectl -n {self.namespace}"
                    f" describe deployment {self.name}`")
            time.sleep(self.poll_s)

    def _collect_plugins(self) -> None:
        """Delete this runtime's plugin ConfigMaps the Deployment no longer mounts."""
        import kubernetes  # optional extra k8s

        dep = self._read_deployment()
        if dep is None or self._render.get("plugin_claim"):
            return
        keep = {p["configmap"] for p in _mounted_plugins(self.name, _slots_of(dep))}
        _, _, _, delete, listing = self._ops("ConfigMap")
        sel = ",".join(f"{k}={v}" for k, v in _labels(self.name, "plugin").items())
        for cm in self._call(f"LIST ConfigMaps {self.namespace}", listing, self.namespace,
                             label_selector=sel).items:
            if cm.metadata.name not in keep:
                try:
                    self._call(f"DELETE ConfigMap {self.namespace}/{cm.metadata.name}", delete,
                               cm.metadata.name, self.namespace)
                except kubernetes.client.ApiException as err:
                    if err.status != 404:
                        raise


def _slots_of(dep: Any) -> dict[str, Any]:
    text = (dep.metadata.annotations or {}).get(SLOTS_ANNOTATION)
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise KubernetesDeployError(f"kubernetes: annotation {SLOTS_ANNOTATION} of Deployment "
                                    f"{dep.metadata.namespace}/{dep.metadata.name} is not JSON: "
                                    f"{err}") from err
    if not isinstance(doc, dict):
        raise KubernetesDeployError(f"kubernetes: annotation {SLOTS_ANNOTATION} is not an object")
    return doc


def _api_message(err: Any) -> str:
    try:
        return str(json.loads(err.body).get("message") or err.body)
    except (TypeError, ValueError, AttributeError):
        return str(err.body or err.reason)
