"""The ``kubernetes`` sandbox backend: one Job per :class:`RunRequest` — fan-out beyond a host.

Three objects per run, each built by a pure function that tests inspect:

* :func:`configmap_manifest` — the inputs, one ``tar.gz`` per input folder in ``binaryData``
  (plus the request's stdin). A ConfigMap holds at most 1 MiB (etcd's object limit), so this
  delivery suits source bundles, parameters and tapes; larger inputs (data files, engine
  binaries) belong in the image or a read-only volume, and :func:`configmap_manifest` refuses
  them with a clear error instead of failing in the API server.
* :func:`job_manifest` — a Job (``backoffLimit`` 0, ``activeDeadlineSeconds``,
  ``ttlSecondsAfterFinished``) whose pod: runs as uid/gid 65534 with ``runAsNonRoot``, a
  read-only root, no privilege escalation, every capability dropped, a seccomp profile
  (``RuntimeDefault`` or the project's Localhost profile, sandbox/seccomp.json), no service
  account token, no service links; CPU, memory and ephemeral-storage limits equal to requests;
  ``emptyDir`` volumes with ``sizeLimit`` for scratch (/tmp), /out and each unpacked input; an
  init container (same image, same restrictions) unpacks the inputs, which the main container
  then mounts read-only.
* :func:`network_policy_manifest` — denies all ingress and egress for the run's pod.

The main container runs :data:`WRAPPER` (Python in the image) as PID 1. It sets the rlimits
(CPU, file size, open files, core), makes itself non-dumpable so the payload (same uid) cannot
reach its descriptors through /proc, runs the command with stdout/stderr on pipes, enforces the
wall-clock deadline and the output byte cap, and finally prints **one** JSON line to the pod
log: exit status, signal, flags, the capped stdout/stderr and a tar of /out (regular files
only), base64-encoded. The payload never writes to the pod log directly. The backend reads the
log with ``limit_bytes`` and takes the last line that carries the run's nonce.

``import kubernetes`` happens only when a run starts (optional extra ``k8s``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import secrets
import tarfile
import time
from pathlib import Path
from typing import Any

from stratforge.core.kube import api_client
from stratforge.sandbox.base import Limits, Mount, Reason, RunRequest, RunResult
from stratforge.sandbox.docker_backend import DEFAULT_IMAGE, IMAGE_PYTHON, classify
from stratforge.sandbox.local import BASE_PATH, SANDBOX_UID, _detail
from stratforge.sandbox.docker_backend import _argv
from stratforge.sandbox.docker_backend import _python_sources
from stratforge.sandbox.runners import python_mounts

CONFIGMAP_MAX_BYTES = 900 * 1024  # etcd refuses objects above ~1 MiB; keep headroom
RUN_LABEL = "stratforge.io/sandbox-run"
INPUTS_DIR = "/sf-inputs"
UNPACK_DIR = "/sf-unpack"
MiB = 1024 * 1024

# PID 1 of the main container. argv: nonce, limits JSON, then the command.
WRAPPER = r"""
import base64, ctypes, io, json, os, resource, signal, subprocess, sys, tarfile, time, selectors
nonce, lim, argv = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
try:
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: /proc/1/fd stays closed
except OSError:
    pass
def limits():
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["nofile"], lim["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
stdin = open(lim["stdin"], "rb") if lim["stdin"] and os.path.exists(lim["stdin"]) else subprocess.DEVNULL
start = time.monotonic()
p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     preexec_fn=limits, start_new_session=True, close_fds=True)
bufs, sel, cap = {1: bytearray(), 2: bytearray()}, selectors.DefaultSelector(), lim["output"]
sel.register(p.stdout, selectors.EVENT_READ, 1)
sel.register(p.stderr, selectors.EVENT_READ, 2)
timed_out = overflow = False
live = 2
while live:
    left = start + lim["wall_s"] - time.monotonic()
    if left <= 0:
        timed_out = True
        break
    for key, _ in sel.select(min(left, 0.5)):
        chunk = os.read(key.fileobj.fileno(), 65536)
        if not chunk:
            sel.unregister(key.fileobj)
            live -= 1
        bufs[key.data] += chunk
        if len(bufs[1]) + len(bufs[2]) > cap:
            overflow = True
    if overflow:
        break
if timed_out or overflow:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
status = p.wait()
try:
    os.killpg(p.pid, signal.SIGKILL)
except OSError:
    pass
out = bytes(bufs[1][:cap])
err = bytes(bufs[2][:max(0, cap - len(out))])
tar, total = io.BytesIO(), 0
with tarfile.open(fileobj=tar, mode="w:gz") as tf:
    for name in sorted(os.listdir("/out")):
        path = os.path.join("/out", name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            if not (st.st_mode & 0o170000 == 0o100000) or st.st_nlink != 1:
                continue
            data = fh.read(lim["out_cap"] - total + 1)
            total += len(data)
            if total > lim["out_cap"]:
                break
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
oom = 0
for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"),
                  ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")):
    try:
        for row in open(path).read().splitlines():
            if row.split()[:1] == [key]:
                oom += int(row.split()[1])
    except (OSError, ValueError, IndexError):
        pass
print(json.dumps({"nonce": nonce, "exit": status if status >= 0 else None, "oom": oom > 0,
                  "signal": -status if status < 0 else None, "timed_out": timed_out,
                  "overflow": overflow, "wall_s": time.monotonic() - start,
                  "out_truncated": total > lim["out_cap"],
                  "stdout": base64.b64encode(out).decode(), "stderr": base64.b64encode(err).decode(),
                  "out_tar": base64.b64encode(tar.getvalue()).decode()}), flush=True)
"""

UNPACK = r"""
import os, sys, tarfile
for i, dest in enumerate(sys.argv[1:]):
    with tarfile.open(f"/sf-inputs/input-{i}.tar.gz") as tf:
        tf.extractall(dest, filter="data")
"""


def _image_argv(req: RunRequest) -> list[str]:
    return _argv(req, stdin_file=False)


def _input_mounts(req: RunRequest) -> list[Mount]:
    """The request's inputs minus the host interpreter mounts (the image has its own)."""

    skip = _python_sources() | {str(m.source) for m in python_mounts()}
    kept = []
    for m in req.inputs:
        src = str(Path(m.source).resolve())
        if src in skip or any(src.startswith(s + "/") for s in _python_sources()):
            continue
        kept.append(m)
    return kept


def _pack(source: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(str(source), arcname=".", recursive=True)
    return buf.getvalue()


def configmap_manifest(req: RunRequest, namespace: str, name: str) -> dict[str, Any]:
    """The ConfigMap that carries the request's inputs and stdin (refused above ~900 KiB)."""
    data: dict[str, str] = {}
    for i, m in enumerate(_input_mounts(req)):
        if m.writable:
            raise ValueError(f"Condition failed: the kubernetes backend has no writable inputs "
                             f"({m.target}); write to /out instead")
        data[f"input-{i}.tar.gz"] = base64.b64encode(_pack(Path(m.source))).decode()
    if req.stdin is not None:
        data["stdin"] = base64.b64encode(req.stdin).decode()
    size = sum(len(v) for v in data.values())
    if size > CONFIGMAP_MAX_BYTES:
        raise ValueError(f"Condition failed: the inputs of {req.label!r} are {size:,} bytes "
                         f"encoded, over the ConfigMap budget of {CONFIGMAP_MAX_BYTES:,}: put "
                         "large inputs in the image or a read-only volume")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{name}-inputs", "namespace": namespace,
                         "labels": {RUN_LABEL: name}},
            "immutable": True, "binaryData": data}


def _security_context(seccomp: str) -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "privileged": False,
            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "runAsUser": SANDBOX_UID, "runAsGroup": SANDBOX_UID,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": _seccomp(seccomp)}


def _seccomp(seccomp: str) -> dict[str, str]:
    if seccomp == "RuntimeDefault":
        return {"type": "RuntimeDefault"}
    if seccomp.startswith("Localhost/"):  # a path relative to the kubelet's seccomp root
        return {"type": "Localhost", "localhostProfile": seccomp[len("Localhost/"):]}
    raise ValueError("Condition failed: seccomp must be 'RuntimeDefault' or "
                     f"'Localhost/<profile path>', was {seccomp!r}")


def job_manifest(req: RunRequest, namespace: str, name: str, *, image: str = DEFAULT_IMAGE,
                 cpus: float = 1.0, seccomp: str = "RuntimeDefault",
                 nonce: str = "0", ttl_s: int = 300) -> dict[str, Any]:
    """The Job that runs ``req`` (pure; the inputs ConfigMap is ``<name>-inputs``)."""
    lim = req.limits
    inputs = _input_mounts(req)
    input_mb = 64  # per unpacked input; the ConfigMap caps the packed size far below
    storage_mb = lim.scratch_mb + lim.file_size_mb + input_mb * len(inputs) + 16
    resources = {"cpu": f"{int(cpus * 1000)}m", "memory": f"{lim.memory_mb}Mi",
                 "ephemeral-storage": f"{storage_mb}Mi"}
    env = [{"name": "PATH", "value": BASE_PATH}, {"name": "HOME", "value": "/tmp"},
           {"name": "LANG", "value": "C.UTF-8"}]
    env += [{"name": k, "value": v} for k, v in req.env]
    wrapper_limits = {"cpu_s": lim.cpu_s, "fsize": lim.file_size_mb * MiB,
                      "nofile": lim.open_files, "wall_s": lim.wall_s,
                      "output": lim.output_bytes, "out_cap": lim.file_size_mb * MiB,
                      "stdin": f"{INPUTS_DIR}/stdin" if req.stdin is not None else ""}
    volumes: list[dict[str, Any]] = [
        {"name": "inputs", "configMap": {"name": f"{name}-inputs"}},
        {"name": "scratch", "emptyDir": {"sizeLimit": f"{lim.scratch_mb}Mi"}},
        {"name": "out", "emptyDir": {"sizeLimit": f"{lim.file_size_mb}Mi"}},
    ]
    main_mounts = [{"name": "scratch", "mountPath": "/tmp"},
                   {"name": "out", "mountPath": "/out"},
                   {"name": "inputs", "mountPath": INPUTS_DIR, "readOnly": True}]
    unpack_mounts = [{"name": "inputs", "mountPath": INPUTS_DIR, "readOnly": True}]
    unpack_dest = []
    for i, m in enumerate(inputs):
        volumes.append({"name": f"in-{i}", "emptyDir": {"sizeLimit": f"{input_mb}Mi"}})
        main_mounts.append({"name": f"in-{i}", "mountPath": str(m.target), "readOnly": True})
        unpack_mounts.append({"name": f"in-{i}", "mountPath": f"{UNPACK_DIR}/{i}"})
        unpack_dest.append(f"{UNPACK_DIR}/{i}")
    sc = _security_context(seccomp)
    containers = [{
        "name": "run", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": [IMAGE_PYTHON, "-I", "-c", WRAPPER, nonce,
                    json.dumps(wrapper_limits, sort_keys=True), *_image_argv(req)],
        "workingDir": str(req.workdir), "env": env,
        "resources": {"limits": resources, "requests": resources},
        "securityContext": sc, "volumeMounts": main_mounts,
    }]
    init = [{
        "name": "unpack", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": [IMAGE_PYTHON, "-I", "-c", UNPACK, *unpack_dest],
        "env": env[:3],
        "resources": {"limits": resources, "requests": resources},
        "securityContext": sc, "volumeMounts": unpack_mounts,
    }] if inputs else []
    deadline = int(math.ceil(lim.wall_s)) + 60  # pod start and image pull; the wrapper holds wall_s
    labels = {RUN_LABEL: name, "app.kubernetes.io/part-of": "stratforge",
              "app.kubernetes.io/component": "sandbox"}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False, "hostPID": False, "hostIPC": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": SANDBOX_UID,
                            "runAsGroup": SANDBOX_UID, "fsGroup": SANDBOX_UID,
                            "seccompProfile": _seccomp(seccomp)},
        "terminationGracePeriodSeconds": 0,
        "activeDeadlineSeconds": deadline,
        "containers": containers,
        "volumes": volumes,
    }
    if init:
        pod_spec["initContainers"] = init
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": deadline,
                 "ttlSecondsAfterFinished": ttl_s,
                 "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
    }


def network_policy_manifest(namespace: str, name: str) -> dict[str, Any]:
    """Deny every ingress and egress connection of the run's pod (needs an enforcing CNI)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"{name}-deny-all", "namespace": namespace,
                         "labels": {RUN_LABEL: name}},
            "spec": {"podSelector": {"matchLabels": {RUN_LABEL: name}},
                     "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}}


def parse_log(log: bytes, nonce: str, out_dir: Path | None, lim: Limits,
              pod_reason: str = "", wall_s: float = 0.0) -> RunResult:
    """The :class:`RunResult` from the wrapper's final JSON line; unpack /out into ``out_dir``."""
    line = None
    for raw in reversed(log.splitlines()):
        if nonce.encode() in raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("nonce") == nonce:
                line = doc
                break
    if pod_reason == "OOMKilled":
        return RunResult(Reason.SANDBOX_MEMORY, 137, 9, b"", b"", wall_s, 0.0, _ENFORCED,
                         _detail(Reason.SANDBOX_MEMORY, lim))
    if line is None:
        reason = Reason.SANDBOX_TIMEOUT if pod_reason == "DeadlineExceeded" else Reason.SANDBOX_SETUP
        return RunResult(reason, None, None, b"", b"", wall_s, 0.0, _ENFORCED,
                         f"no result from the pod ({pod_reason or 'log without a result line'})")
    out = base64.b64decode(line["stdout"])[: lim.output_bytes]
    err = base64.b64decode(line["stderr"])[: max(0, lim.output_bytes - len(out))]
    sig = line.get("signal")
    code = line.get("exit")
    exit_code = 128 + sig if sig else code
    reason = classify(exit_code, bool(line.get("oom")), bool(line["timed_out"]), bool(line["overflow"]),
                      float(line.get("wall_s", wall_s)), lim, err)
    if out_dir is not None and line.get("out_tar"):
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(line["out_tar"])), mode="r:gz") as tf:
            for member in tf.getmembers():
                if member.isfile() and "/" not in member.name and member.name not in (".", ".."):
                    data = tf.extractfile(member)
                    if data is not None:
                        fd = os.open(out_dir / member.name,
                                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                        with os.fdopen(fd, "wb") as fh:
                            fh.write(data.read(lim.file_size_mb * MiB))
    return RunResult(reason, code, sig, out, err, float(line.get("wall_s", wall_s)), 0.0,
                     _ENFORCED, _detail(reason, lim))


_ENFORCED = ("memory=k8s-limits", "pids=kubelet-podPidsLimit", "seccomp=k8s-profile",
             "network=NetworkPolicy")


def _run_name(label: str) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", label.lower())[:30].strip("-") or "run"
    return f"sf-{base}-{secrets.token_hex(4)}"


class KubernetesBackend:
    """Runs each request as a Job in ``namespace`` through the kubernetes client."""

    name = "kubernetes"

    def __init__(self, namespace: str = "stratforge-sandbox", image: str = DEFAULT_IMAGE,
                 cpus: float = 1.0, seccomp: str = "RuntimeDefault", context: str | None = None):
        self.namespace, self.image, self.cpus, self.seccomp = namespace, image, cpus, seccomp
        self.context = context
        self._api: Any = None

    def _clients(self) -> Any:
        if self._api is None:
            self._api = api_client(self.context)
        return self._api

    def available(self) -> tuple[bool, str]:
        try:
            import kubernetes
        except ImportError:
            return False, "the kubernetes Python package is missing: pip install 'stratforge[k8s]'"
        try:
            api = self._clients()
            kubernetes.client.CoreV1Api(api).read_namespace(self.namespace, _request_timeout=10)
        except Exception as err:
            return False, (f"no Kubernetes cluster is reachable, or namespace {self.namespace!r} "
                           f"is missing (KUBECONFIG={os.environ.get('KUBECONFIG', 'unset')}): "
                           f"{str(err).splitlines()[0] if str(err) else type(err).__name__}")
        return True, "ok"

    def run(self, req: RunRequest) -> RunResult:
        try:
            import kubernetes

            api = self._clients()
        except Exception as err:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, _ENFORCED,
                             f"kubernetes is not usable here: {err}")
        core, batch = kubernetes.client.CoreV1Api(api), kubernetes.client.BatchV1Api(api)
        net = kubernetes.client.NetworkingV1Api(api)
        name, nonce, ns = _run_name(req.label), secrets.token_hex(16), self.namespace
        start = time.monotonic()
        try:
            cm = configmap_manifest(req, ns, name)
        except ValueError as err:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, _ENFORCED, str(err))
        try:
            net.create_namespaced_network_policy(ns, network_policy_manifest(ns, name))
            core.create_namespaced_config_map(ns, cm)
            batch.create_namespaced_job(ns, job_manifest(req, ns, name, image=self.image,
                                                          cpus=self.cpus, seccomp=self.seccomp,
                                                          nonce=nonce))
            pod, reason = self._wait(core, batch, name, req.limits.wall_s + 90)
            log = b""
            if pod is not None:
                log = core.read_namespaced_pod_log(
                    pod, ns, container="run", limit_bytes=self._log_cap(req.limits),
                    _preload_content=False).data
            return parse_log(log, nonce, req.output_dir, req.limits, reason,
                             time.monotonic() - start)
        except Exception as err:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", time.monotonic() - start,
                             0.0, _ENFORCED, f"kubernetes run failed: {err}")
        finally:
            for delete in (lambda: batch.delete_namespaced_job(name, ns, propagation_policy="Background"),
                           lambda: core.delete_namespaced_config_map(f"{name}-inputs", ns),
                           lambda: net.delete_namespaced_network_policy(f"{name}-deny-all", ns)):
                try:
                    delete()
                except Exception:
                    pass

    @staticmethod
    def _log_cap(lim: Limits) -> int:
        # the one JSON line: base64 (4/3) of capped stdout+stderr and of /out, plus headroom
        return (lim.output_bytes + lim.file_size_mb * MiB) * 4 // 3 + 65536

    def _wait(self, core: Any, batch: Any, name: str, timeout: float) -> tuple[str | None, str]:
        """The pod's name once its main container terminated, and the reason reported."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pods = core.list_namespaced_pod(self.namespace, label_selector=f"{RUN_LABEL}={name}").items
            for pod in pods:
                for cs in (pod.status.container_statuses or []):
                    term = cs.state.terminated if cs.state else None
                    if cs.name == "run" and term is not None:
                        return pod.metadata.name, term.reason or ""
                if pod.status.phase == "Failed":
                    return pod.metadata.name, pod.status.reason or "Failed"
            job = batch.read_namespaced_job_status(name, self.namespace)
            for cond in (job.status.conditions or []):
                if cond.type == "Failed" and cond.status == "True":
                    return (pods[0].metadata.name if pods else None), cond.reason or "Failed"
            time.sleep(1.0)
        return None, "DeadlineExceeded"
