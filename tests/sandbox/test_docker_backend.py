"""The docker backend's container specification, seccomp profile, classification and run loop.

No Docker engine runs on the development machines, so the default tests check the exact
specification that :func:`container_config` hands to ``client.containers.run`` and drive
:meth:`DockerBackend.run` with a fake client; ``-m docker`` runs the real thing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from resource_kit import missing

from stratforge.sandbox import Limits, Mount, Reason, RunRequest
from stratforge.sandbox.docker_backend import (IMAGE_PYTHON, SECCOMP_PATH, STDIN_PATH,
                                               DockerBackend, classify, container_config,
                                               seccomp_profile)
from stratforge.sandbox.local import _DENIED_SYSCALLS

LIMITS = Limits(wall_s=7, cpu_s=5, memory_mb=256, pids=48, file_size_mb=8, open_files=64,
                output_bytes=100_000, scratch_mb=32)


def _req(tmp_path: Path, **kw: Any) -> RunRequest:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    base: dict[str, Any] = dict(argv=("g++", "-c", "/job/a.cpp"), inputs=(Mount(src, PurePosixPath("/job")),),
                                output_dir=out, workdir=PurePosixPath("/job"), limits=LIMITS,
                                env=(("SF_MODE", "test"),), label="compile")
    base.update(kw)
    return RunRequest(**base)


def test_container_config_is_locked_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", "must-not-leak")
    cfg = container_config(_req(tmp_path), image="img:1", cpus=1.5)
    seccomp = [o for o in cfg["security_opt"] if o.startswith("seccomp=")]
    assert json.loads(seccomp[0][len("seccomp="):]) == seccomp_profile()
    del cfg["security_opt"]
    assert cfg == {
        "image": "img:1",
        "command": ["g++", "-c", "/job/a.cpp"],
        "detach": True, "stdin_open": False, "tty": False,
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=32m,mode=1777"},
        "volumes": {str((tmp_path / "src").resolve()): {"bind": "/job", "mode": "ro"},
                    str((tmp_path / "out").resolve()): {"bind": "/out", "mode": "rw"}},
        "working_dir": "/job",
        "user": "65534:65534",
        "environment": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
                        "LANG": "C.UTF-8", "SF_MODE": "test"},
        "hostname": "sandbox",
        "cap_drop": ["ALL"],
        "ipc_mode": "private",
        "pids_limit": 48,
        "mem_limit": "256m", "memswap_limit": "256m",
        "nano_cpus": 1_500_000_000,
        "ulimits": [{"Name": "cpu", "Soft": 5, "Hard": 6},
                    {"Name": "fsize", "Soft": 8 << 20, "Hard": 8 << 20},
                    {"Name": "nofile", "Soft": 64, "Hard": 64},
                    {"Name": "core", "Soft": 0, "Hard": 0}],
        "log_config": {"Type": "json-file", "Config": {"max-size": "200000", "max-file": "1"}},
        "labels": {"io.stratforge.sandbox": "compile"},
        "auto_remove": False,
    }


def test_security_opts_and_no_host_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", "must-not-leak")
    cfg = container_config(_req(tmp_path))
    assert cfg["security_opt"][0] == "no-new-privileges"
    assert "must-not-leak" not in json.dumps(cfg)


def test_host_python_is_replaced_by_the_image_interpreter(tmp_path: Path) -> None:
    prefix = Path(sys.prefix).resolve()
    req = _req(tmp_path, argv=(sys.executable, "-I", "-m", "pytest"),
               inputs=(Mount(tmp_path / "src", PurePosixPath("/job")),
                       Mount(prefix, PurePosixPath(str(prefix)))))
    cfg = container_config(req)
    assert cfg["command"][0] == IMAGE_PYTHON
    assert str(prefix) not in cfg["volumes"]


def test_stdin_arrives_as_a_read_only_file(tmp_path: Path) -> None:
    stdin = tmp_path / "stdin"
    stdin.write_bytes(b"tape")
    cfg = container_config(_req(tmp_path, argv=("/job/harness", "x")), stdin_path=stdin)
    assert cfg["command"] == ["/bin/sh", "-c", f'exec "$@" < {STDIN_PATH}', "sh", "/job/harness", "x"]
    assert cfg["volumes"][str(stdin)] == {"bind": STDIN_PATH, "mode": "ro"}


def test_writable_input_mounts_stay_explicit(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    req = _req(tmp_path, inputs=(Mount(tmp_path / "cache", PurePosixPath("/cache"), writable=True),))
    assert container_config(req)["volumes"][str((tmp_path / "cache").resolve())]["mode"] == "rw"


def test_seccomp_json_matches_the_local_rules() -> None:
    on_disk = json.loads(SECCOMP_PATH.read_text())
    assert on_disk == seccomp_profile(), "regenerate: python -c 'from stratforge.sandbox." \
                                         "docker_backend import write_seccomp_json as w; w()'"
    assert on_disk["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = {n for r in on_disk["syscalls"] if "args" not in r and r["errnoRet"] == 1
              for n in r["names"]}
    assert denied == set(_DENIED_SYSCALLS)
    families = {r["args"][0]["value"] for r in on_disk["syscalls"] if r["names"] == ["socket"]}
    assert families == {2, 10, 16, 17}  # AF_INET, AF_INET6, AF_NETLINK, AF_PACKET
    clone = [r for r in on_disk["syscalls"] if r["names"] == ["clone"]][0]
    assert clone["args"][0] == {"index": 0, "value": 0x10000000, "valueTwo": 0x10000000,
                                "op": "SCMP_CMP_MASKED_EQ"}


@pytest.mark.parametrize("exit_code,oom,timed_out,overflow,wall,stderr,expected", [
    (0, False, False, False, 1.0, b"", Reason.OK),
    (1, False, False, False, 1.0, b"error", Reason.NONZERO_EXIT),
    (None, False, True, False, 7.0, b"", Reason.SANDBOX_TIMEOUT),
    (137, False, False, True, 1.0, b"", Reason.SANDBOX_OUTPUT_LIMIT),
    (137, True, False, False, 1.0, b"", Reason.SANDBOX_MEMORY),
    (152, False, False, False, 5.0, b"", Reason.SANDBOX_CPU),     # SIGXCPU
    (137, False, False, False, 6.2, b"", Reason.SANDBOX_CPU),     # hard RLIMIT_CPU
    (137, False, False, False, 0.5, b"", Reason.SANDBOX_SIGNAL),  # SIGKILL from elsewhere
    (153, False, False, False, 1.0, b"", Reason.SANDBOX_FILE_SIZE),
    (139, False, False, False, 1.0, b"", Reason.SANDBOX_SIGNAL),  # SIGSEGV
    (2, False, False, False, 1.0, b"fork: Resource temporarily unavailable", Reason.SANDBOX_PIDS),
    (1, False, False, False, 1.0, b"write: No space left on device", Reason.SANDBOX_FILE_SIZE),
    (1, False, False, False, 1.0, b"MemoryError", Reason.SANDBOX_MEMORY),
])
def test_classify(exit_code: int | None, oom: bool, timed_out: bool, overflow: bool, wall: float,
                  stderr: bytes, expected: Reason) -> None:
    assert classify(exit_code, oom, timed_out, overflow, wall, LIMITS, stderr) is expected


def test_available_reports_a_missing_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    ok, why = DockerBackend().available()
    assert not ok and "no Docker engine is reachable" in why and "no-such.sock" in why


# --- run() against a fake client -------------------------------------------------------------


class _FakeContainer:
    def __init__(self, status: int | None, oom: bool) -> None:
        self.id = "c1"
        self.status, self.oom = status, oom
        self.killed = self.removed = False
        self.attrs: dict[str, Any] = {}

    def wait(self, timeout: float) -> dict[str, int]:
        if self.status is None:
            raise TimeoutError("read timed out")
        return {"StatusCode": self.status}

    def kill(self) -> None:
        self.killed = True

    def reload(self) -> None:
        self.attrs = {"State": {"OOMKilled": self.oom, "ExitCode": self.status or 137}}

    def remove(self, force: bool) -> None:
        self.removed = force


class _FakeClient:
    def __init__(self, container: _FakeContainer, chunks: list[tuple[bytes | None, bytes | None]]):
        self.container, self.chunks, self.kwargs = container, chunks, {}
        outer = self

        class Containers:
            def run(self, **kw: Any) -> _FakeContainer:
                outer.kwargs = kw
                return outer.container

        class Api:
            def attach(self, *a: Any, **kw: Any):  # noqa: ANN202
                assert kw["demux"] and kw["stream"]
                return iter(outer.chunks)

        self.containers, self.api = Containers(), Api()


@pytest.mark.parametrize("status,oom,chunks,expected", [
    (0, False, [(b"hello\n", None)], Reason.OK),
    (137, True, [], Reason.SANDBOX_MEMORY),
    (None, False, [], Reason.SANDBOX_TIMEOUT),
    (0, False, [(b"x" * 60_000, None), (None, b"y" * 60_000)], Reason.SANDBOX_OUTPUT_LIMIT),
])
def test_run_with_a_fake_client(tmp_path: Path, status: int | None, oom: bool,
                                chunks: list[tuple[bytes | None, bytes | None]],
                                expected: Reason) -> None:
    container = _FakeContainer(status, oom)
    client = _FakeClient(container, chunks)
    res = DockerBackend(image="img", client=client).run(_req(tmp_path, stdin=b"tape"))
    assert res.reason is expected
    assert container.removed
    assert client.kwargs["network_mode"] == "none" and client.kwargs["command"][0] == "/bin/sh"
    assert len(res.stdout) + len(res.stderr) <= LIMITS.output_bytes
    if expected in (Reason.SANDBOX_TIMEOUT, Reason.SANDBOX_OUTPUT_LIMIT):
        assert container.killed


# --- a real engine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> DockerBackend:
    backend = DockerBackend()
    ok, why = backend.available()
    if not ok:
        missing("docker", why)
    return backend


@pytest.mark.docker
@pytest.mark.parametrize("argv,limits,expected", [
    (("/bin/true",), LIMITS, Reason.OK),
    (("python3", "-c", "import socket; socket.socket().connect(('127.0.0.1', 22))"), LIMITS,
     Reason.NONZERO_EXIT),
    (("python3", "-c", "import os; os.unshare(os.CLONE_NEWNS)"), LIMITS, Reason.NONZERO_EXIT),
    (("/bin/sleep", "60"), Limits(wall_s=2), Reason.SANDBOX_TIMEOUT),
    (("python3", "-c", "x = bytearray(1 << 31)"), Limits(memory_mb=128), Reason.SANDBOX_MEMORY),
    (("python3", "-c", "while True: pass"), Limits(cpu_s=1, wall_s=20), Reason.SANDBOX_CPU),
    (("/bin/sh", "-c", "dd if=/dev/zero of=/tmp/f bs=1M count=64"), Limits(scratch_mb=8),
     Reason.SANDBOX_FILE_SIZE),
    (("python3", "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"),
     Limits(output_bytes=100_000, wall_s=20), Reason.SANDBOX_OUTPUT_LIMIT),
])
def test_engine_holds_the_limits(engine: DockerBackend, argv: tuple[str, ...], limits: Limits,
                                 expected: Reason, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", "sf-docker-secret")
    res = engine.run(RunRequest(argv=argv, limits=limits))
    assert res.reason is expected, res.text()
    assert b"sf-docker-secret" not in res.stdout + res.stderr
