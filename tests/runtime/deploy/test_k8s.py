"""KubernetesDeployer: the objects it renders, the REST calls the real kubernetes client makes for
them (kube_kit's API server double at the HTTP boundary), and — with ``-m k8s`` and a kubeconfig —
the same flow against a real cluster."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import jinja2
import kubernetes as k8s
import pydantic
import pytest

from kube_kit import FakeApiServer
from resource_kit import missing

from stratforge.core.errors import RetryableError, StratforgeError, UserInputError
from stratforge.core.tools import which
from stratforge.core.templates import read_template
from stratforge.deployers import make_deployer
from stratforge.registry import Registry, ShadowGate
from stratforge.registry.deployer import Deployer, Target
from stratforge.runtime.control import LocalDeployer
from stratforge.runtime.deploy import k8s as kd
from stratforge.runtime.deploy.k8s import (CONFIGMAP_MAX_BYTES, SLOTS_ANNOTATION,
                                           KubernetesDeployer, KubernetesDeployError, PluginFile,
                                           plugin_from_bundle, plugin_manifest, render_manifests)
from stratforge.settings import load_settings

NS = "trading"


def _version(tmp_path: Path, strategy: str, build_id: str, size: int = 3000) -> Target:
    """A built version: its plugin under the build root and a scorecard naming it (provenance)."""
    data = secrets.token_bytes(size)
    rel = Path(strategy) / build_id / "strategy.so"
    (tmp_path / "build" / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "build" / rel).write_bytes(data)
    bundle = tmp_path / "bundles" / strategy / build_id
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "scorecard.json").write_text(json.dumps({"provenance": {
        "build_id": build_id, "plugin": str(rel),
        "plugin_sha256": hashlib.sha256(data).hexdigest()}}))
    return Target(strategy, build_id, str(bundle))


def _deployer(tmp_path: Path, server: FakeApiServer, **kw: Any) -> KubernetesDeployer:
    kw.setdefault("poll_s", 0.01)
    return KubernetesDeployer(NS, server.client(), image="registry.test/sf-runtime:9",
                              build_root=tmp_path / "build", **kw)


def _slots(**strategies: dict[str, Any]) -> dict[str, Any]:
    return {name: {"live": s.get("live"), "standby": None,
                   "versions": {b: {"slot": slot, "sha256": hashlib.sha256(b.encode()).hexdigest()}
                                for b, slot in s["versions"].items()}}
            for name, s in strategies.items()}


# --- rendered objects ---------------------------------------------------------------------------


def test_engine_pod_is_guaranteed_pinned_and_locked_down() -> None:
    slots = _slots(carry={"live": "b-live", "versions": {"b-live": "live", "b-new": "shadow"}})
    docs = render_manifests(NS, "sf", slots, image="img:1", engine_cpus=3, venue_cpus=1)
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ConfigMap", "ConfigMap", "Service", "NetworkPolicy", "Deployment"]
    dep = docs[-1]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    assert json.loads(dep["metadata"]["annotations"][SLOTS_ANNOTATION]) == slots
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert not (pod["hostNetwork"] or pod["hostPID"] or pod["hostIPC"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["nodeSelector"] == {"stratforge.io/isolated-cores": "true"}
    assert pod["tolerations"] == [{"key": "stratforge.io/isolated-cores", "operator": "Exists",
                                   "effect": "NoSchedule"}]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"sf-engine", "sf-venue", "sf-control"}
    for c in containers.values():
        res = c["resources"]
        assert res["requests"] == res["limits"] and set(res["limits"]) == {"cpu", "memory"}
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["runAsNonRoot"] is True and sc["privileged"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["image"] == "img:1"
    assert containers["sf-engine"]["resources"]["limits"]["cpu"] == "3"
    assert containers["sf-venue"]["resources"]["limits"]["cpu"] == "1"
    assert containers["sf-engine"]["command"] == ["sf-engine", "--config",
                                                  "/etc/stratforge/engine/engine.json"]
    # the plugins of both versions, as <sha256>.so under the contract's state dir
    vols = {v["name"]: v for v in pod["volumes"]}
    keys = sorted(i["key"] for s in vols["plugins"]["projected"]["sources"]
                  for i in s["configMap"]["items"])
    assert keys == sorted(f"{hashlib.sha256(b.encode()).hexdigest()}.so"
                          for b in ("b-live", "b-new"))
    mounts = {m["name"]: m for m in containers["sf-engine"]["volumeMounts"]}
    assert mounts["plugins"] == {"name": "plugins", "readOnly": True,
                                 "mountPath": "/var/lib/stratforge/runtime/plugins"}
    engine = json.loads(docs[0]["data"]["engine.json"])
    assert engine["control_socket"] == "/var/lib/stratforge/runtime/engine.sock"
    assert engine["venue"]["host"] == "127.0.0.1" and engine["feed"]["kind"] == "synth"
    venue = containers["sf-venue"]["command"]
    assert venue[venue.index("--port") + 1] == str(engine["venue"]["port"])
    assert (dep["spec"]["template"]["metadata"]["annotations"]["stratforge.io/engine-config-sha256"]
            == hashlib.sha256(docs[0]["data"]["engine.json"].encode()).hexdigest())


def test_metrics_service_and_network_policy() -> None:
    docs = {d["kind"] + ("/" + d["metadata"]["name"]): d for d in render_manifests(NS, "sf", {})}
    dep = docs["Deployment/sf"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    svc = docs["Service/sf-metrics"]
    assert svc["spec"]["ports"] == [{"name": "metrics", "protocol": "TCP", "port": 9464,
                                     "targetPort": "metrics"}]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    control = next(c for c in dep["spec"]["template"]["spec"]["containers"]
                   if c["name"] == "sf-control")
    assert control["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    pol = docs["NetworkPolicy/sf-metrics-only"]["spec"]
    assert pol["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert pol["policyTypes"] == ["Ingress", "Egress"]
    assert pol["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9464}]}]
    assert pol["egress"] == []  # nothing leaves the pod


def test_replay_feed_needs_the_data_volume() -> None:
    feed = {"kind": "replay", "path": "day/ticks.sfev", "speed": 0, "loop": False}
    with pytest.raises(UserInputError, match="data_claim"):
        render_manifests(NS, "sf", {}, feed=feed)
    docs = render_manifests(NS, "sf", {}, feed=feed, data_claim="market-data", plugin_claim="plugs")
    assert json.loads(docs[0]["data"]["engine.json"])["feed"]["path"] == \
        "/var/lib/stratforge/data/day/ticks.sfev"
    vols = {v["name"]: v for v in docs[-1]["spec"]["template"]["spec"]["volumes"]}
    assert vols["plugins"] == {"name": "plugins", "persistentVolumeClaim": {
        "claimName": "plugs", "readOnly": True}}
    assert vols["data"]["persistentVolumeClaim"] == {"claimName": "market-data", "readOnly": True}
    with pytest.raises(UserInputError, match="relative"):
        render_manifests(NS, "sf", {}, feed={**feed, "path": "../etc/passwd"}, data_claim="d")


def test_engine_json_follows_the_contract() -> None:
    firm = {"max_position": {"ZQX": 40}, "max_gross_notional": 2.5e5}
    docs = render_manifests(NS, "sf", {}, engine={"firm": firm, "latency_window_events": 500})
    engine = json.loads(docs[0]["data"]["engine.json"])
    assert set(engine) == {"control_socket", "feed", "venue", "firm", "latency_window_events",
                           "sim_venue", "risk"}
    assert engine["firm"] == firm and engine["latency_window_events"] == 500
    assert engine["venue"] == {"host": "127.0.0.1", "port": 5001, "session": "sf-engine",
                               "heartbeat_ms": 250}
    assert engine["risk"]["kill_on_breach"] is True and "max_reference_age_ms" not in engine["risk"]
    # paper live: no sf-venue container, live orders stay in the engine's simulated venue
    docs = render_manifests(NS, "sf", {}, venue=False)
    assert json.loads(docs[0]["data"]["engine.json"])["venue"] is None
    assert [c["name"] for c in docs[-1]["spec"]["template"]["spec"]["containers"]] == [
        "sf-engine", "sf-control"]
    with pytest.raises(UserInputError, match="max_order_qty"):
        render_manifests(NS, "sf", {}, engine={"risk": {"max_order_qty": -1}})
    with pytest.raises(UserInputError, match="fimr are not known"):
        render_manifests(NS, "sf", {}, engine={"fimr": firm})


def test_the_engine_accepts_the_rendered_engine_json(tmp_path: Path) -> None:
    """The ConfigMap's engine.json, as sf-engine reads it (paper live; only the socket path is
    moved from the pod's state dir into tmp_path)."""
    engine = which("sf-engine")
    if engine is None:
        pytest.skip("sf-engine is not built in this checkout (it comes with the engine daemon)")
    feed = {"kind": "synth", "seed": 11, "events": 5000, "instruments": 2, "speed": 0}
    docs = render_manifests(NS, "sf", {}, venue=False, feed=feed)
    cfg = json.loads(docs[0]["data"]["engine.json"])
    cfg["control_socket"] = str(tmp_path / "engine.sock")
    (tmp_path / "engine.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([str(engine), "--config", str(tmp_path / "engine.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "engine.sock").exists():
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "sf-engine did not open its control socket"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(tmp_path / "engine.sock"))
            lines = sock.makefile("rw")
            lines.write(json.dumps({"id": 1, "cmd": "status"}) + "\n")
            lines.flush()
            status = json.loads(lines.readline())
            assert status["ok"] is True and status["feed"]["kind"] == "synth"
            lines.write(json.dumps({"id": 2, "cmd": "shutdown"}) + "\n")
            lines.flush()
            assert json.loads(lines.readline())["ok"] is True
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("cpus", [0, 1.5, "2"])
def test_fractional_cpus_are_refused(cpus: Any) -> None:
    with pytest.raises(UserInputError, match="whole number of CPUs"):
        render_manifests(NS, "sf", {}, engine_cpus=cpus)


def test_plugin_configmap_carries_the_bytes_and_their_hash(tmp_path: Path) -> None:
    t = _version(tmp_path, "carry", "b7")
    plugin = plugin_from_bundle(t, tmp_path / "build")
    cm = plugin_manifest(NS, "sf", t.strategy, t.build_id, plugin)
    data = plugin.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert cm["immutable"] is True and cm["metadata"]["name"] == f"sf-plugin-{sha[:16]}"
    assert cm["metadata"]["annotations"]["stratforge.io/sha256"] == sha
    assert base64.b64decode(cm["binaryData"][f"{sha}.so"]) == data


# --- planted defects ----------------------------------------------------------------------------


def test_plugin_over_one_mib_is_refused_naming_the_limit(tmp_path: Path) -> None:
    t = _version(tmp_path, "carry", "big", size=CONFIGMAP_MAX_BYTES + 1)
    with pytest.raises(UserInputError, match=r"1,048,576 bytes \(1 MiB.*PVC mode"):
        plugin_manifest(NS, "sf", t.strategy, t.build_id, plugin_from_bundle(t, tmp_path / "build"))


def test_plugin_changed_after_the_build_is_refused(tmp_path: Path) -> None:
    t = _version(tmp_path, "carry", "b1")
    plugin = plugin_from_bundle(t, tmp_path / "build")
    plugin.path.write_bytes(b"\x7fELF tampered")
    with pytest.raises(UserInputError, match="not the file that was tested"):
        plugin_manifest(NS, "sf", t.strategy, t.build_id, plugin)


def test_bundle_without_plugin_provenance_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "scorecard.json").write_text('{"provenance": {"build_id": "b1"}}')
    with pytest.raises(UserInputError, match="names no tested plugin"):
        plugin_from_bundle(Target("carry", "b1", str(tmp_path / "b")))


def _planted(monkeypatch: pytest.MonkeyPatch, template: str, old: str, new: str) -> None:
    def edited(name: str) -> str:
        text = read_template(name, kd.TEMPLATE_DIR)
        if name == template:
            assert old in text, f"the planted edit no longer applies to {template}"
            text = text.replace(old, new)
        return text

    monkeypatch.setattr(kd._ENV, "loader", jinja2.FunctionLoader(lambda n: (edited(n), None, lambda: True)))
    # a fresh template cache for this test only (the shared one keeps the unedited templates)
    monkeypatch.setattr(kd._ENV, "cache", jinja2.utils.LRUCache(50))


@pytest.mark.parametrize("old,new,caught", [
    ('"limits": {"cpu": {{ cpu | tojson }}, "memory": {{ memory | tojson }}}', '"limits": {}',
     "requests .* must equal limits"),
    ('"readOnlyRootFilesystem": true', '"readOnlyRootFilesystem": false',
     "readOnlyRootFilesystem must be True"),
    ('type: Recreate', 'type: RollingUpdate', "must be Recreate"),
    ('resources(engine_cpus, engine_memory)', 'resources("1500m", engine_memory)',
     "not a whole number of CPUs"),
    ('capabilities', 'capabilitys', r"capabilitys is not a field of the model"),
    ('replicas: 1', 'replicas: one', r"(?s)is not a valid V1Deployment.*replicas"),
])
def test_planted_template_defects_are_caught(monkeypatch: pytest.MonkeyPatch, old: str, new: str,
                                             caught: str) -> None:
    render_manifests(NS, "sf", {})  # fine before the edit
    _planted(monkeypatch, "deployment-engine.yaml.j2", old, new)
    with pytest.raises(StratforgeError, match=caught):
        render_manifests(NS, "sf", {})


def test_a_missing_template_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _planted(monkeypatch, "service.yaml.j2", "{{ metrics_port }}", "{{ metrics_prot }}")
    with pytest.raises(StratforgeError, match="service.yaml.j2: 'metrics_prot' is undefined"):
        render_manifests(NS, "sf", {})


# --- the apply path through the real client -----------------------------------------------------


def test_apply_creates_then_replaces_and_observe_reads_the_cluster(tmp_path: Path) -> None:
    server = FakeApiServer()
    dep = _deployer(tmp_path, server)
    assert isinstance(dep, Deployer)
    assert dep.observe("carry") == {}
    v1 = _version(tmp_path, "carry", "b1")
    dep.apply(v1, "shadow")
    sha = hashlib.sha256(plugin_from_bundle(v1, tmp_path / "build").path.read_bytes()).hexdigest()
    assert server.writes() == [
        ("POST", f"/api/v1/namespaces/{NS}/configmaps"),          # the plugin
        ("POST", f"/api/v1/namespaces/{NS}/configmaps"),          # engine.json
        ("POST", f"/api/v1/namespaces/{NS}/configmaps"),          # slots
        ("POST", f"/api/v1/namespaces/{NS}/services"),
        ("POST", f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"),
        ("POST", f"/apis/apps/v1/namespaces/{NS}/deployments"),
    ]
    posted = [c.body for c in server.calls if c.method == "POST"]
    assert base64.b64decode(posted[0]["binaryData"][f"{sha}.so"]) == \
        plugin_from_bundle(v1, tmp_path / "build").path.read_bytes()
    assert json.loads(posted[-1]["metadata"]["annotations"][SLOTS_ANNOTATION])["carry"][
        "versions"] == {"b1": {"slot": "shadow", "sha256": sha}}
    assert dep.observe("carry") == {"b1": "shadow"}

    server.calls.clear()
    dep.apply(v1, "shadow")  # idempotent: replaced in place, nothing new
    assert [m for m, _ in server.writes()] == ["PUT"] * 5
    put_dep = [c for c in server.calls
               if c.method == "PUT" and c.path.endswith("/deployments/stratforge")]
    assert put_dep and put_dep[0].body["metadata"]["resourceVersion"]
    assert server.names("configmaps") == sorted(["stratforge-engine", "stratforge-slots",
                                                 f"stratforge-plugin-{sha[:16]}"])
    assert server.names("deployments") == ["stratforge"]
    assert server.get("deployments", "stratforge")["metadata"]["generation"] == 1  # spec unchanged
    assert dep.observe("carry") == {"b1": "shadow"}


def test_promotion_rollback_and_retirement(tmp_path: Path) -> None:
    server = FakeApiServer()
    dep = _deployer(tmp_path, server)
    v1, v2, v3 = (_version(tmp_path, "carry", b) for b in ("b1", "b2", "b3"))
    other = _version(tmp_path, "basis", "x1")
    dep.apply(other, "live")
    dep.apply(v1, "live")
    dep.apply(v2, "shadow")
    gen = server.get("deployments", "stratforge")["metadata"]["generation"]
    dep.apply(v2, "live")  # a hot swap: slots change, the pod spec does not
    assert server.get("deployments", "stratforge")["metadata"]["generation"] == gen
    assert dep.observe("carry") == {"b1": "retired", "b2": "live"}
    slots_file = json.loads(server.get("configmaps", "stratforge-slots")["data"]["slots.json"])
    assert slots_file["carry"]["live"] == "b2" and slots_file["carry"]["standby"] == "b1"
    dep.apply(v1, "live")  # rollback to the standby: still mounted, still no rollout
    assert server.get("deployments", "stratforge")["metadata"]["generation"] == gen
    assert dep.observe("carry") == {"b1": "live", "b2": "retired"}
    dep.apply(v3, "live")  # b2 is neither live, shadow nor standby any more: its plugin goes
    assert dep.observe("carry") == {"b1": "retired", "b3": "live"}
    shas = {t.build_id: plugin_from_bundle(t, tmp_path / "build").sha256 for t in (v1, v2, v3)}
    plugins = [n for n in server.names("configmaps") if "-plugin-" in n]
    assert f"stratforge-plugin-{shas['b2'][:16]}" not in plugins
    assert {f"stratforge-plugin-{shas[b][:16]}" for b in ("b1", "b3")} <= set(plugins)
    assert dep.observe("basis") == {"x1": "live"}  # the other strategy is untouched
    dep.apply(v3, "retired")  # stopped: left out of observe, its plugin unmounted and deleted
    assert dep.observe("carry") == {"b1": "retired"}
    assert f"stratforge-plugin-{shas['b3'][:16]}" not in server.names("configmaps")
    dep.apply(v3, "retired")  # idempotent
    assert dep.observe("carry") == {"b1": "retired"}


def test_a_racing_writer_is_not_overwritten(tmp_path: Path) -> None:
    """Optimistic concurrency: the slots are re-read after a 409 Conflict, so two deployers
    writing different strategies at once both land."""
    server = FakeApiServer()
    dep, rival = _deployer(tmp_path, server), _deployer(tmp_path, server)
    dep.apply(_version(tmp_path, "carry", "b1"), "shadow")
    raced = []

    def race(method: str, plural: str, name: str) -> None:
        if method == "PUT" and plural == "deployments" and not raced:
            raced.append(1)
            rival.apply(_version(tmp_path, "basis", "x1"), "shadow")

    server.before_write = race
    dep.apply(_version(tmp_path, "carry", "b2"), "shadow")
    assert raced
    assert [c.status for c in server.calls if c.method == "PUT"
            and c.path.endswith("/deployments/stratforge")].count(409) == 1
    assert dep.observe("carry") == {"b1": "shadow", "b2": "shadow"}
    assert dep.observe("basis") == {"x1": "shadow"}


def test_rollout_wait_is_bounded(tmp_path: Path) -> None:
    server = FakeApiServer(controller="stuck")
    dep = _deployer(tmp_path, server, rollout_timeout_s=0.2)
    with pytest.raises(RetryableError, match="did not roll out in 0.2 s.*kubectl -n trading"):
        dep.apply(_version(tmp_path, "carry", "b1"), "shadow")
    assert dep.observe("carry") == {"b1": "shadow"}  # desired state is recorded; rerun waits again


def test_refusals_name_the_object_and_the_server_message(tmp_path: Path) -> None:
    server = FakeApiServer()
    dep = _deployer(tmp_path, server)
    dep.apply(_version(tmp_path, "carry", "b1"), "shadow")
    svc = server.get("services", "stratforge-metrics")
    assert svc is not None and svc["spec"]["clusterIP"] == "10.96.0.17"  # kept on replace
    # an object of the same name that is not ours: the plugin ConfigMap's hash disagrees
    t = _version(tmp_path, "carry", "b2")
    sha = plugin_from_bundle(t, tmp_path / "build").sha256
    server.objects[("configmaps", NS, f"stratforge-plugin-{sha[:16]}")] = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": f"stratforge-plugin-{sha[:16]}", "namespace": NS, "resourceVersion": "1",
            "annotations": {"stratforge.io/sha256": "0" * 64}}}
    with pytest.raises(KubernetesDeployError, match="exists with SHA-256 '0000"):
        dep.apply(t, "shadow")
    # the API server refuses a write: its message reaches the user
    server.objects[("configmaps", NS, "stratforge-engine")]["immutable"] = True
    server.objects[("configmaps", NS, "stratforge-engine")]["data"] = {"engine.json": "{}"}
    with pytest.raises(KubernetesDeployError,
                       match=r"PUT ConfigMap trading/stratforge-engine refused \(422.*immutable"):
        dep.apply(_version(tmp_path, "carry", "b1"), "shadow")


def test_bad_slot_and_annotation(tmp_path: Path) -> None:
    server = FakeApiServer()
    dep = _deployer(tmp_path, server)
    with pytest.raises(UserInputError, match="slot must be one of"):
        dep.apply(_version(tmp_path, "carry", "b1"), "canary")
    dep.apply(_version(tmp_path, "carry", "b1"), "shadow")
    server.get("deployments", "stratforge")["metadata"]["annotations"][SLOTS_ANNOTATION] = "{oops"
    with pytest.raises(KubernetesDeployError, match="stratforge.io/slots .* is not JSON"):
        dep.observe("carry")


# --- the registry drives it ---------------------------------------------------------------------

#: a shadow gate and metrics of this test's own
GATE = ShadowGate(min_duration_s=1_800, min_fills=25, max_pnl_deviation_pct=30.0,
                  max_fill_ratio_deviation_pct=12.0, max_drawdown_pct=5.0,
                  max_callback_p99_ns=12_000)
HELD = {"duration_s": 2_400, "fills": 31, "drawdown_pct": 2.0, "pnl_deviation_pct": 9.0,
        "fill_ratio_deviation_pct": 4.0, "risk_breaches": 0, "callback_p99_ns": 6_000}


def test_registry_promotion_and_rollback_through_the_cluster(tmp_path: Path) -> None:
    """The registry's promote / approve / rollback against KubernetesDeployer: what the registry
    observes is what the cluster holds."""
    server = FakeApiServer()
    reg = Registry.open(f"sqlite:///{tmp_path / 'registry.db'}", _deployer(tmp_path, server))
    try:
        reg.add_user("root", "admin", actor="root")
        reg.add_user("dee", "author", actor="root")
        reg.add_user("eve", "approver", actor="root")
        for build in ("k1", "k2"):
            t = _version(tmp_path, "carry", build)
            reg.register_build(strategy="carry", spec_hash=f"h-{build}", build_id=build,
                               bundle=t.bundle, scorecard={"verdict": "PASS"}, verdict="PASS",
                               author="dee", shadow_gate=GATE)
        for number, build in ((1, "k1"), (2, "k2")):
            reg.promote("carry", number, "shadow", "eve")
            reg.record_shadow_metrics("carry", number, HELD, "runtime")
            reg.approve("carry", number, "eve", build)
            reg.promote("carry", number, "live", "eve")
        held = json.loads(server.get("deployments", "stratforge")["metadata"]["annotations"][
            SLOTS_ANNOTATION])["carry"]
        assert (held["live"], held["standby"]) == ("k2", "k1")
        assert {v.number: (v.stage, v.observed) for v in reg.versions("carry")} == {
            1: ("retired", "retired"), 2: ("live", "live")}
        gen = server.get("deployments", "stratforge")["metadata"]["generation"]
        reg.rollback("carry", "eve", reason="drill")
        assert KubernetesDeployer(NS, server.client()).observe("carry") == {
            "k1": "live", "k2": "retired"}
        assert {v.number: v.observed for v in reg.versions("carry")} == {1: "live", 2: "retired"}
        assert server.get("deployments", "stratforge")["metadata"]["generation"] == gen  # hot
    finally:
        reg.engine.dispose()


# --- a real cluster -----------------------------------------------------------------------------


@pytest.mark.k8s
def test_against_a_cluster(tmp_path: Path) -> None:
    """Apply, re-apply, promote and observe in a real namespace (SF_K8S_NAMESPACE, created and
    deleted by the test unless it exists). The image need not exist: the rollout wait is not
    asserted here, the objects the API server accepted and the slots it holds are."""
    try:
        k8s.config.load_kube_config()
    except Exception:
        try:
            k8s.config.load_incluster_config()
        except Exception as err:
            missing("k8s", f"no kubeconfig or in-cluster config: {err}")
    api = k8s.client.ApiClient()
    core = k8s.client.CoreV1Api(api)
    ns = os.environ.get("SF_K8S_NAMESPACE", f"sf-deploy-test-{secrets.token_hex(3)}")
    try:
        core.read_namespace(ns, _request_timeout=10)
        created = False
    except k8s.client.ApiException as err:
        if err.status != 404:
            missing("k8s", f"the cluster does not answer: {err.status} {err.reason}")
        core.create_namespace({"metadata": {"name": ns}})
        created = True
    except Exception as err:
        missing("k8s", f"the cluster does not answer: {err}")
    try:
        dep = KubernetesDeployer(ns, api, build_root=tmp_path / "build", rollout_timeout_s=1,
                                 poll_s=0.2, node_selector={}, tolerations=[])
        v1, v2 = _version(tmp_path, "carry", "b1"), _version(tmp_path, "carry", "b2")
        for target, slot in ((v1, "shadow"), (v1, "shadow"), (v1, "live"), (v2, "shadow"),
                             (v2, "live")):
            try:
                dep.apply(target, slot)
            except RetryableError as err:  # no runtime image on this cluster: pods do not start
                assert "did not roll out" in str(err)
        assert dep.observe("carry") == {"b1": "retired", "b2": "live"}
        deps = k8s.client.AppsV1Api(api).list_namespaced_deployment(ns).items
        assert [d.metadata.name for d in deps] == ["stratforge"]
        cms = [c.metadata.name for c in core.list_namespaced_config_map(
            ns, label_selector="app.kubernetes.io/component=plugin").items]
        assert len(cms) == 2
    finally:
        if created:
            core.delete_namespace(ns)


# --- the shell's choice ---------------------------------------------------------------------------


def test_settings_select_the_deployer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STRATFORGE_DEPLOYER", "kubernetes")
    monkeypatch.setenv("STRATFORGE_K8S_NAMESPACE", "desk-7")
    monkeypatch.setenv("STRATFORGE_K8S_IMAGE", "registry.test/sf-runtime:3")
    dep = make_deployer(load_settings(), build_root=tmp_path)
    assert isinstance(dep, KubernetesDeployer) and isinstance(dep, Deployer)
    assert (dep.namespace, dep.image) == ("desk-7", "registry.test/sf-runtime:3")
    assert make_deployer(load_settings(), namespace="other").namespace == "other"
    monkeypatch.setenv("STRATFORGE_DEPLOYER", "local")
    local = make_deployer(load_settings(), build_root=tmp_path, state_dir=tmp_path / "rt")
    assert isinstance(local, LocalDeployer) and isinstance(local, Deployer)
    monkeypatch.setenv("STRATFORGE_DEPLOYER", "nomad")
    with pytest.raises(pydantic.ValidationError, match="deployer"):
        load_settings()
