"""The kubernetes backend's manifests, its in-pod wrapper, and (with ``-m k8s``) a real cluster."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes as k8s
import pytest

from resource_kit import missing

from stratforge.sandbox import Limits, LocalBackend, Mount, Reason, RunRequest
from stratforge.sandbox.docker_backend import IMAGE_PYTHON
from stratforge.sandbox.kubernetes_backend import (CONFIGMAP_MAX_BYTES, RUN_LABEL, WRAPPER,
                                                   KubernetesBackend, configmap_manifest,
                                                   job_manifest, network_policy_manifest,
                                                   parse_log)
from stratforge.sandbox.runners import python_mounts

LIMITS = Limits(wall_s=30, cpu_s=20, memory_mb=512, pids=64, file_size_mb=16, open_files=64,
                output_bytes=100_000, scratch_mb=64)


def _req(tmp_path: Path, **kw: Any) -> RunRequest:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "strategy.cpp").write_text("int x;\n")
    base: dict[str, Any] = dict(argv=("g++", "-c", "/job/strategy.cpp", "-o", "/out/s.o"),
                                inputs=(Mount(src, PurePosixPath("/job")),),
                                output_dir=tmp_path / "out", workdir=PurePosixPath("/job"),
                                limits=LIMITS, label="Compile_1")
    base.update(kw)
    return RunRequest(**base)


def test_job_pod_is_locked_down(tmp_path: Path) -> None:
    job = job_manifest(_req(tmp_path), "sbx", "sf-run-1", image="img:1", nonce="n1")
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 300
    assert spec["activeDeadlineSeconds"] == 90
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["restartPolicy"] == "Never"
    assert not (pod["hostNetwork"] or pod["hostPID"] or pod["hostIPC"])
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                      "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
    for c in pod["containers"] + pod["initContainers"]:
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
        assert c["resources"]["limits"] == c["resources"]["requests"] == {
            "cpu": "1000m", "memory": "512Mi", "ephemeral-storage": f"{64 + 16 + 64 + 16}Mi"}
        assert [e["name"] for e in c["env"]][:3] == ["PATH", "HOME", "LANG"]
    run = pod["containers"][0]
    assert run["command"][:3] == [IMAGE_PYTHON, "-I", "-c"] and run["command"][3] == WRAPPER
    assert run["command"][4] == "n1"
    assert json.loads(run["command"][5])["wall_s"] == 30
    assert run["command"][6:] == ["g++", "-c", "/job/strategy.cpp", "-o", "/out/s.o"]
    mounts = {m["mountPath"]: m for m in run["volumeMounts"]}
    assert mounts["/job"]["readOnly"] is True and mounts["/sf-inputs"]["readOnly"] is True
    assert "readOnly" not in mounts["/out"] and "readOnly" not in mounts["/tmp"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["scratch"]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert vols["out"]["emptyDir"] == {"sizeLimit": "16Mi"}
    assert vols["inputs"]["configMap"] == {"name": "sf-run-1-inputs"}
    assert job["metadata"]["labels"][RUN_LABEL] == "sf-run-1"
    assert spec["template"]["metadata"]["labels"][RUN_LABEL] == "sf-run-1"


def test_localhost_seccomp_profile(tmp_path: Path) -> None:
    job = job_manifest(_req(tmp_path), "sbx", "r", seccomp="Localhost/stratforge/seccomp.json")
    assert job["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] == {
        "type": "Localhost", "localhostProfile": "stratforge/seccomp.json"}
    with pytest.raises(ValueError, match="RuntimeDefault"):
        job_manifest(_req(tmp_path), "sbx", "r", seccomp="Unconfined")


def test_no_host_environment_or_paths_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", "must-not-leak")
    req = _req(tmp_path, argv=(sys.executable, "-I", "-m", "pytest"),
               inputs=(Mount(tmp_path / "src", PurePosixPath("/job")), *python_mounts()))
    text = json.dumps(job_manifest(req, "sbx", "r")) + json.dumps(configmap_manifest(req, "sbx", "r"))
    assert "must-not-leak" not in text
    assert str(tmp_path) not in text and sys.prefix not in text
    assert job_manifest(req, "sbx", "r")["spec"]["template"]["spec"]["containers"][0]["command"][6] == IMAGE_PYTHON


def test_network_policy_denies_everything() -> None:
    pol = network_policy_manifest("sbx", "sf-run-1")
    assert pol["spec"] == {"podSelector": {"matchLabels": {RUN_LABEL: "sf-run-1"}},
                           "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}


def test_configmap_carries_inputs_and_refuses_large_ones(tmp_path: Path) -> None:
    cm = configmap_manifest(_req(tmp_path, stdin=b"tape"), "sbx", "r")
    assert set(cm["binaryData"]) == {"input-0.tar.gz", "stdin"} and cm["immutable"] is True
    (tmp_path / "src" / "big.bin").write_bytes(os.urandom(CONFIGMAP_MAX_BYTES))
    with pytest.raises(ValueError, match="ConfigMap budget"):
        configmap_manifest(_req(tmp_path), "sbx", "r")


def _roundtrip(manifest: dict[str, Any], kind: str) -> dict[str, Any]:
    """Deserialise into the client's model and back: a key the model does not know is lost."""
    api = k8s.client.ApiClient()

    text = json.dumps(manifest)
    try:
        model = api.deserialize(text, kind, "application/json")  # kubernetes >= 35
    except (TypeError, AttributeError):  # older clients take a response object

        class Resp:
            data = text

        model = api.deserialize(Resp(), kind)
    return api.sanitize_for_serialization(model)


def test_manifests_validate_as_client_models(tmp_path: Path) -> None:
    req = _req(tmp_path, stdin=b"x")
    job = job_manifest(req, "sbx", "sf-run-1")
    assert _roundtrip(job, "V1Job") == job
    pol = network_policy_manifest("sbx", "sf-run-1")
    back = _roundtrip(pol, "V1NetworkPolicy")
    assert back["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert back["spec"]["podSelector"] == pol["spec"]["podSelector"]
    cm = configmap_manifest(req, "sbx", "sf-run-1")
    assert _roundtrip(cm, "V1ConfigMap") == cm


# --- the in-pod wrapper, exercised in the local sandbox ---------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalBackend:
    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        missing("sandbox", why)
    return b


def _wrapped(local: LocalBackend, tmp_path: Path, cmd: tuple[str, ...], lim: Limits,
             ) -> tuple[str, Any]:
    nonce = secrets.token_hex(8)
    wl = {"cpu_s": lim.cpu_s, "fsize": lim.file_size_mb << 20, "nofile": lim.open_files,
          "wall_s": lim.wall_s, "output": lim.output_bytes, "out_cap": lim.file_size_mb << 20,
          "stdin": ""}
    out = tmp_path / "pod-out"
    out.mkdir()
    res = local.run(RunRequest(argv=(sys.executable, "-I", "-c", WRAPPER, nonce, json.dumps(wl), *cmd),
                               inputs=python_mounts(), output_dir=out,
                               limits=Limits(wall_s=lim.wall_s + 20, output_bytes=10_000_000)))
    assert res.ok, res.text()
    return nonce, res.stdout


def test_wrapper_reports_output_and_out_files(local: LocalBackend, tmp_path: Path) -> None:
    nonce, log = _wrapped(local, tmp_path, (
        "/bin/sh", "-c", "echo hello; echo oops >&2; echo '{\"pnl\": 1}' > /out/results.json; "
                         "ln -s /etc/hostname /out/link.json; echo FAKE-LINE; exit 3"), LIMITS)
    collected = tmp_path / "collected"
    collected.mkdir()
    res = parse_log(b"noise\n" + log, nonce, collected, LIMITS)
    assert res.reason is Reason.NONZERO_EXIT and res.exit_code == 3
    assert res.stdout == b"hello\nFAKE-LINE\n" and res.stderr == b"oops\n"
    assert (collected / "results.json").read_text() == '{"pnl": 1}\n'
    assert not (collected / "link.json").exists()  # symlinks never leave the pod


@pytest.mark.parametrize("cmd,lim,expected", [
    (("/bin/sleep", "60"), Limits(wall_s=1), Reason.SANDBOX_TIMEOUT),
    (("/bin/sh", "-c", "yes"), Limits(output_bytes=50_000), Reason.SANDBOX_OUTPUT_LIMIT),
    (("/bin/sh", "-c", "while :; do :; done"), Limits(cpu_s=1, wall_s=10), Reason.SANDBOX_CPU),
    (("/bin/sh", "-c", "head -c 8000000 /dev/zero > /out/big"), Limits(file_size_mb=1),
     Reason.SANDBOX_FILE_SIZE),
])
def test_wrapper_holds_limits(local: LocalBackend, tmp_path: Path, cmd: tuple[str, ...],
                              lim: Limits, expected: Reason) -> None:
    nonce, log = _wrapped(local, tmp_path, cmd, lim)
    res = parse_log(log, nonce, None, lim)
    assert res.reason is expected, res
    assert len(res.stdout) + len(res.stderr) <= lim.output_bytes


def test_parse_log_without_result_line() -> None:
    assert parse_log(b"garbage", "n", None, LIMITS, "DeadlineExceeded").reason is Reason.SANDBOX_TIMEOUT
    assert parse_log(b"", "n", None, LIMITS, "OOMKilled").reason is Reason.SANDBOX_MEMORY
    assert parse_log(b'{"nonce": "other"}', "n", None, LIMITS).reason is Reason.SANDBOX_SETUP


def test_available_without_a_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    ok, why = KubernetesBackend().available()
    assert not ok and "no Kubernetes cluster is reachable" in why


@pytest.mark.k8s
def test_cluster_runs_and_contains(tmp_path: Path) -> None:
    backend = KubernetesBackend(namespace=os.environ.get("SF_K8S_NAMESPACE", "stratforge-sandbox"))
    ok, why = backend.available()
    if not ok:
        missing("k8s", why)
    out = tmp_path / "out"
    out.mkdir()
    res = backend.run(RunRequest(argv=("/bin/sh", "-c", "echo hi > /out/r.txt; echo done"),
                                 output_dir=out, limits=Limits(wall_s=60)))
    assert res.ok and res.stdout == b"done\n", res
    assert (out / "r.txt").read_text() == "hi\n"
    res = backend.run(RunRequest(argv=("python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 53), 3)"),
                                 limits=Limits(wall_s=60)))
    assert res.reason is Reason.NONZERO_EXIT
    res = backend.run(RunRequest(argv=("/bin/sleep", "600"), limits=Limits(wall_s=3)))
    assert res.reason is Reason.SANDBOX_TIMEOUT
