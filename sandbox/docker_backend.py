"""The ``docker`` sandbox backend: one throw-away container per :class:`RunRequest`.

The container specification is a pure function, :func:`container_config`, so it is reviewed and
tested without an engine; :meth:`DockerBackend.run` passes it unchanged to
``client.containers.run(**config)``. Layers (compare ``local.py`` and docs/sandbox.md):

* no network at all (``network_mode="none"``), a read-only root file system from the sandbox
  image (sandbox/image/Dockerfile), a size-capped ``/tmp`` tmpfs, inputs as read-only binds and
  the output folder as the only writable bind at ``/out``;
* uid/gid 65534, every capability dropped, ``no-new-privileges``, and the seccomp profile of
  sandbox/seccomp.json — the same default-allow/EPERM rules as the local backend's BPF program;
* cgroup limits: ``pids_limit``, ``mem_limit`` = ``memswap_limit`` (no swap), ``nano_cpus``;
  rlimits for CPU time, file size, open files and core dumps;
* environment ``PATH`` (plus ``HOME=/tmp``, ``LANG`` and the request's own variables) only;
* a capped json-file log, and on the client side a byte cap on what is read back, a
  wall-clock deadline then ``kill``, and ``remove(force=True)`` always.

``import docker`` happens only when a run starts (optional extra ``docker``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from stratforge.sandbox.base import Limits, Reason, RunRequest, RunResult
from stratforge.sandbox.local import (_AF_INET, _AF_INET6, _AF_NETLINK, _AF_PACKET,
                                      _CLONE_NEWUSER, _DENIED_SYSCALLS, BASE_PATH, SANDBOX_UID,
                                      _detail)

DEFAULT_IMAGE = "stratforge-sandbox:latest"
IMAGE_PYTHON = "/opt/stratforge/bin/python"  # the interpreter inside the image (Dockerfile)
SECCOMP_PATH = Path(__file__).resolve().parent / "seccomp.json"
STDIN_PATH = "/run/sf-stdin"
EPERM, ENOSYS = 1, 38
MiB = 1024 * 1024


def seccomp_profile() -> dict[str, Any]:
    """The Docker/OCI seccomp profile equal to the local backend's BPF rules.

    Default allow; EPERM for the listed syscalls, for ``socket`` with AF_INET, AF_INET6,
    AF_PACKET or AF_NETLINK, and for ``clone`` with CLONE_NEWUSER; ENOSYS for ``clone3`` (its
    flags live in memory where seccomp cannot see them, so libc falls back to ``clone``).
    sandbox/seccomp.json is this dict, written out; a test keeps the two equal.
    """
    rules: list[dict[str, Any]] = [
        {"names": sorted(_DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
    ]
    for family in (_AF_INET, _AF_INET6, _AF_NETLINK, _AF_PACKET):
        rules.append({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
                      "args": [{"index": 0, "value": family, "op": "SCMP_CMP_EQ"}]})
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
                  "args": [{"index": 0, "value": _CLONE_NEWUSER, "valueTwo": _CLONE_NEWUSER,
                            "op": "SCMP_CMP_MASKED_EQ"}]})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": rules,
    }


def _python_sources() -> set[str]:
    """Host interpreter paths: the image brings its own Python, so these are never bound."""
    return {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}


def _argv(req: RunRequest, stdin_file: bool) -> list[str]:
    argv = list(req.argv)
    if argv and Path(argv[0]).resolve() == Path(sys.executable).resolve():
        argv[0] = IMAGE_PYTHON  # runners use sys.executable; the image has its own
    if stdin_file:  # the request's stdin arrives as a read-only file
        argv = ["/bin/sh", "-c", f'exec "$@" < {STDIN_PATH}', "sh", *argv]
    return argv


def _binds(req: RunRequest, stdin_path: Path | None) -> dict[str, dict[str, str]]:
    skip = _python_sources()
    binds: dict[str, dict[str, str]] = {}
    for m in req.inputs:
        src = str(Path(m.source).resolve())
        if src in skip or any(src.startswith(s + "/") for s in skip):
            continue
        binds[src] = {"bind": str(m.target), "mode": "rw" if m.writable else "ro"}
    if req.output_dir is not None:
        binds[str(Path(req.output_dir).resolve())] = {"bind": "/out", "mode": "rw"}
    if stdin_path is not None:
        binds[str(stdin_path)] = {"bind": STDIN_PATH, "mode": "ro"}
    return binds


def container_config(req: RunRequest, *, image: str = DEFAULT_IMAGE, cpus: float = 1.0,
                     stdin_path: Path | None = None,
                     profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of ``client.containers.run`` for ``req`` (pure; no engine)."""
    lim = req.limits
    env = {"PATH": BASE_PATH, "HOME": "/tmp", "LANG": "C.UTF-8"}
    env.update(dict(req.env))
    mem = f"{lim.memory_mb}m"
    seccomp = json.dumps(profile if profile is not None else seccomp_profile(),
                         separators=(",", ":"), sort_keys=True)
    return {
        "image": image,
        "command": _argv(req, stdin_path is not None),
        "detach": True,
        "stdin_open": False,
        "tty": False,
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={lim.scratch_mb}m,mode=1777"},
        "volumes": _binds(req, stdin_path),
        "working_dir": str(req.workdir),
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "environment": env,
        "hostname": "sandbox",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges", f"seccomp={seccomp}"],
        "ipc_mode": "private",
        "pids_limit": lim.pids,
        "mem_limit": mem,
        "memswap_limit": mem,
        "nano_cpus": int(cpus * 1e9),
        # docker.types.Ulimit and LogConfig are dicts with these keys
        "ulimits": [{"Name": "cpu", "Soft": lim.cpu_s, "Hard": lim.cpu_s + 1},
                    {"Name": "fsize", "Soft": lim.file_size_mb * MiB,
                     "Hard": lim.file_size_mb * MiB},
                    {"Name": "nofile", "Soft": lim.open_files, "Hard": lim.open_files},
                    {"Name": "core", "Soft": 0, "Hard": 0}],
        "log_config": {"Type": "json-file",
                       "Config": {"max-size": str(max(lim.output_bytes * 2, 65536)),
                                  "max-file": "1"}},
        "labels": {"io.stratforge.sandbox": req.label},
        "auto_remove": False,  # removed by run() after its state (OOMKilled) has been read
    }


def classify(exit_code: int | None, oom_killed: bool, timed_out: bool, overflow: bool,
             wall_s: float, lim: Limits, stderr: bytes) -> Reason:
    """The reason code of a finished container (exit statuses > 128 are 128 + signal)."""
    if timed_out:
        return Reason.SANDBOX_TIMEOUT
    if overflow:
        return Reason.SANDBOX_OUTPUT_LIMIT
    if oom_killed:
        return Reason.SANDBOX_MEMORY
    sig = exit_code - 128 if exit_code is not None and 128 < exit_code < 128 + 65 else None
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and wall_s >= lim.cpu_s):
        return Reason.SANDBOX_CPU  # SIGKILL: RLIMIT_CPU's hard limit (CPU time <= wall time)
    if sig == signal.SIGXFSZ:
        return Reason.SANDBOX_FILE_SIZE
    if exit_code == 0:
        return Reason.OK
    if exit_code is None:
        return Reason.SANDBOX_SETUP
    if b"fork" in stderr and b"Resource temporarily unavailable" in stderr:
        return Reason.SANDBOX_PIDS  # the engine exposes no pids.events: stderr is the clue
    if sig is not None:
        return Reason.SANDBOX_SIGNAL
    if b"MemoryError" in stderr or b"std::bad_alloc" in stderr or b"Cannot allocate memory" in stderr:
        return Reason.SANDBOX_MEMORY
    if b"No space left on device" in stderr or b"File too large" in stderr:
        return Reason.SANDBOX_FILE_SIZE
    return Reason.NONZERO_EXIT


class DockerBackend:
    """Runs requests as containers of the sandbox image through the docker SDK."""

    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, cpus: float = 1.0, client: Any = None):
        self.image = image
        self.cpus = cpus
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import docker  # optional extra: pip install 'stratforge[docker]'

            self._client = docker.from_env(timeout=30)
        return self._client

    def available(self) -> tuple[bool, str]:
        try:
            client = self.client()
        except ImportError:
            return False, "the docker Python package is missing: pip install 'stratforge[docker]'"
        except Exception as err:  # docker.errors.DockerException: no engine, no socket
            return False, (f"no Docker engine is reachable (DOCKER_HOST="
                           f"{os.environ.get('DOCKER_HOST', 'unset')}): {err}")
        try:
            client.ping()
        except Exception as err:
            return False, f"the Docker engine does not answer: {err}"
        try:
            client.images.get(self.image)
        except Exception:
            return False, (f"the sandbox image {self.image} is missing: build it as described "
                           "in docs/sandbox.md (docker build -f sandbox/image/Dockerfile ...)")
        return True, "ok"

    def run(self, req: RunRequest) -> RunResult:
        try:
            client = self.client()
        except Exception as err:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, (),
                             f"docker is not usable here: {err}")
        with tempfile.TemporaryDirectory(prefix="sf-stdin-") as tmp:
            stdin_path = None
            if req.stdin is not None:
                stdin_path = Path(tmp) / "stdin"
                stdin_path.write_bytes(req.stdin)
                os.chmod(tmp, 0o755)
                os.chmod(stdin_path, 0o644)
            config = container_config(req, image=self.image, cpus=self.cpus, stdin_path=stdin_path)
            return self._run(client, req, config)

    def _run(self, client: Any, req: RunRequest, config: dict[str, Any]) -> RunResult:
        lim = req.limits
        enforced = ("memory=docker-cgroup", "pids=docker-cgroup", "seccomp=docker-profile",
                    "network=none")
        start = time.monotonic()
        try:
            container = client.containers.run(**config)
        except Exception as err:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, enforced,
                             f"cannot start the container: {err}")
        out, errb = bytearray(), bytearray()
        state = {"overflow": False}

        def pump() -> None:
            stream = client.api.attach(container.id, stdout=True, stderr=True, stream=True,
                                       logs=True, demux=True)
            for chunk_out, chunk_err in stream:
                out.extend(chunk_out or b"")
                errb.extend(chunk_err or b"")
                if len(out) + len(errb) > lim.output_bytes:
                    state["overflow"] = True
                    try:
                        container.kill()
                    except Exception:
                        pass
                    return

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        exit_code: int | None = None
        try:
            try:
                exit_code = int(container.wait(timeout=lim.wall_s)["StatusCode"])
            except Exception:  # requests' ReadTimeout / ConnectionError: the deadline passed
                timed_out = True
                try:
                    container.kill()
                except Exception:
                    pass
            reader.join(timeout=5)
            container.reload()
            st = container.attrs.get("State", {})
            oom = bool(st.get("OOMKilled"))
            if exit_code is None and not timed_out:
                exit_code = st.get("ExitCode")
        finally:
            try:
                container.remove(force=True)
            except Exception:
                pass
        wall = time.monotonic() - start
        stdout = bytes(out[: lim.output_bytes])
        stderr = bytes(errb[: max(0, lim.output_bytes - len(stdout))])
        reason = classify(exit_code, oom, timed_out, state["overflow"], wall, lim, stderr)
        sig = exit_code - 128 if exit_code is not None and 128 < exit_code < 193 else None
        return RunResult(reason, exit_code, sig, stdout, stderr, wall, 0.0, enforced,
                         _detail(reason, lim))


def write_seccomp_json(path: Path = SECCOMP_PATH) -> None:
    """Regenerate sandbox/seccomp.json from the local backend's rules."""
    path.write_text(json.dumps(seccomp_profile(), indent=2, sort_keys=True) + "\n")

