"""The local (bubblewrap) backend holds its limits and leaks nothing of the host."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

import pytest

from resource_kit import missing

from stratforge.sandbox import Limits, LocalBackend, Mount, Reason, RunRequest

SECRET = "sf-host-secret-7f3a9c"


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        missing("sandbox", why)
    return b


@pytest.fixture(autouse=True)
def host_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", SECRET)


def py(code: str) -> tuple[str, ...]:
    return ("python3", "-c", code)


def test_environment_is_scrubbed(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=("/bin/sh", "-c", "env; cat /proc/1/environ; id -u")))
    assert res.ok, res.text()
    assert SECRET.encode() not in res.stdout + res.stderr
    assert res.stdout.strip().endswith(b"65534")


@pytest.mark.parametrize("family,addr", [("AF_INET", "('127.0.0.1', 22)"),
                                         ("AF_INET6", "('::1', 22)")])
def test_no_network(backend: LocalBackend, family: str, addr: str) -> None:
    code = f"import socket; s = socket.socket(socket.{family}); s.connect({addr})"
    res = backend.run(RunRequest(argv=py(code)))
    assert res.reason is Reason.NONZERO_EXIT
    assert b"Operation not permitted" in res.stderr or b"unreachable" in res.stderr


def test_host_files_are_absent(backend: LocalBackend, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(SECRET)
    res = backend.run(RunRequest(argv=("/bin/sh", "-c", f"cat {canary}; ls /root /home; "
                                       f"echo x > {tmp_path}/planted")))
    assert SECRET.encode() not in res.stdout + res.stderr
    assert not (tmp_path / "planted").exists()
    assert canary.read_text() == SECRET


def test_inputs_are_read_only_and_out_is_writable(backend: LocalBackend, tmp_path: Path) -> None:
    src = tmp_path / "bundle"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    out = tmp_path / "out"
    out.mkdir()
    res = backend.run(RunRequest(
        argv=("/bin/sh", "-c", "cat /job/a.txt > /out/copy.txt; echo no > /job/a.txt"),
        inputs=(Mount(src, PurePosixPath("/job")),), output_dir=out))
    assert (out / "copy.txt").read_text() == "hello"
    assert (src / "a.txt").read_text() == "hello"
    assert res.reason is Reason.NONZERO_EXIT  # the write to /job failed


def test_wall_clock_timeout(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=("/bin/sleep", "60"), limits=Limits(wall_s=1)))
    assert res.reason is Reason.SANDBOX_TIMEOUT and res.wall_s < 10


def test_cpu_limit(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=py("while True: pass"), limits=Limits(cpu_s=1, wall_s=20)))
    assert res.reason is Reason.SANDBOX_CPU


def test_memory_limit(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=py("x = bytearray(1 << 31); print(len(x))"),
                                 limits=Limits(memory_mb=128)))
    assert res.reason is Reason.SANDBOX_MEMORY


def test_output_limit(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=py("import sys\nwhile True: sys.stdout.write('x' * 65536)"),
                                 limits=Limits(output_bytes=100_000, wall_s=20)))
    assert res.reason is Reason.SANDBOX_OUTPUT_LIMIT
    assert len(res.stdout) + len(res.stderr) <= 100_000


def test_fork_bomb(backend: LocalBackend) -> None:
    code = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass"
    res = backend.run(RunRequest(argv=py(code), limits=Limits(pids=32, wall_s=3)))
    assert res.reason in (Reason.SANDBOX_PIDS, Reason.SANDBOX_TIMEOUT)
    # the host can still start processes, and the run's processes are gone
    assert backend.run(RunRequest(argv=("/bin/true",))).ok


def test_scratch_is_capped(backend: LocalBackend) -> None:
    res = backend.run(RunRequest(argv=("/bin/sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1M count=100"),
                                 limits=Limits(scratch_mb=8)))
    assert res.reason is Reason.SANDBOX_FILE_SIZE


@pytest.mark.parametrize("call", ["os.unshare(os.CLONE_NEWNS)", "os.setns(0, 0)"])
def test_namespace_syscalls_denied(backend: LocalBackend, call: str) -> None:
    res = backend.run(RunRequest(argv=py(f"import os; {call}")))
    assert res.reason is Reason.NONZERO_EXIT
    assert b"Error" in res.stderr


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="wall_s"):
        Limits(wall_s=0)


def test_output_folder_total_is_capped(backend: LocalBackend, tmp_path: Path) -> None:
    """Many files, each under the per-file limit, cannot fill the host disk through /out."""
    out = tmp_path / "out"
    out.mkdir()
    script = "i=0; while true; do head -c 1048576 /dev/zero > /out/f$i; i=$((i+1)); done"
    res = backend.run(RunRequest(argv=("/bin/sh", "-c", script), output_dir=out,
                                 limits=Limits(out_dir_mb=8, file_size_mb=2, wall_s=20)))
    assert res.reason is Reason.SANDBOX_FILE_SIZE
    assert "output folder" in res.detail
    written = sum(p.stat().st_size for p in out.iterdir())
    assert written < 64 * 1024 * 1024, written  # stopped within one poll of the cap
