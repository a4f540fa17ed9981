"""The hostile-code corpus: each payload in tests/sandbox/hostile/ is contained by the sandbox.

Table-driven: every :class:`Case` names a payload, how it runs (the C attack program, a
strategy plugin driven through its callbacks by the parity harness, a generated pytest file, or
a compile), the limits, and the reason code the sandbox must report. For every case, and
whatever the payload did, the test also proves:

* the host's secret (an environment variable of this process, a file in ``$HOME``, a file
  beside the output folder) appears in no output: stdout, stderr or any file left in ``/out``;
* the host TCP listeners on 127.0.0.1 and ::1, the host Unix socket file and the abstract Unix
  socket received no connection;
* a canary file outside scratch is byte-for-byte and mtime unchanged;
* the next run in the same backend still works (the host and other runs are unaffected).

The C payloads are compiled once, inside the sandbox, into one program; the plugin once.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import pytest

from resource_kit import missing

from stratforge.sandbox import Limits, LocalBackend, Mount, Reason, RunRequest, RunResult
from stratforge.sandbox.results import ResultFileError, read_result_bytes, read_result_json
from stratforge.sandbox.runners import compile_plugin, run_pytest
from stratforge.sandbox.verify import SandboxVerifier

HOSTILE = Path(__file__).resolve().parent / "hostile"
SECRET = "sf-host-secret-51c0ffee"
JOB = PurePosixPath("/job")
RESULT_SCHEMA = {"type": "object", "required": ["pnl"], "properties": {"pnl": {"type": "number"}}}
# A small book update in the parity harness's tape format: one callback into on_book.
TAPE = b"book 1 1 0 1 1 0 0 100 5 101 5 1 1 0 0\n"


@dataclass
class Host:
    """Everything on the host side that a payload must not reach."""

    backend: LocalBackend
    bin_dir: Path      # compiled payloads (read-only at /job)
    home: Path
    home_secret: Path
    canary: Path
    canary_state: tuple[bytes, int]
    tcp4: socket.socket
    tcp6: socket.socket
    unix_path: Path
    unix: socket.socket
    abstract_name: str
    abstract: socket.socket
    harness: Path | None = None
    plugin: Path | None = None

    def listeners(self) -> list[tuple[str, socket.socket]]:
        return [("127.0.0.1", self.tcp4), ("::1", self.tcp6), ("unix file", self.unix),
                ("abstract unix", self.abstract)]


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                          # "c" | "plugin" | "pytest" | "compile-include"
    args: Callable[[Host], tuple[str, ...]] = lambda h: ()
    limits: Limits = field(default_factory=lambda: Limits(wall_s=10, cpu_s=5, memory_mb=128,
                                                          pids=32, output_bytes=200_000,
                                                          scratch_mb=16, file_size_mb=16))
    expect: Reason = Reason.NONZERO_EXIT
    exit_code: int | None = None       # when set, the exact exit status (1 = EPERM)
    stderr_has: bytes = b""
    stdout_has: bytes = b""
    check: Callable[[Host, RunResult, Path], None] | None = None


def _limits(**kw: float) -> Limits:
    base = dict(wall_s=10, cpu_s=5, memory_mb=128, pids=32, output_bytes=200_000,
                scratch_mb=16, file_size_mb=16)
    base.update(kw)
    return Limits(**base)  # type: ignore[arg-type]


def _port(sock: socket.socket) -> str:
    return str(sock.getsockname()[1])


def _links_refused(host: Host, res: RunResult, out: Path) -> None:
    """The result reader refuses everything the payload planted in /out."""
    assert (out / "results.json").is_symlink() and (out / "x").is_symlink()
    for name, why in (("results.json", "symbolic link"), ("x", "symbolic link"),
                      ("root", "symbolic link"), ("hard.json", "hard links"),
                      ("a.json", "hard links"), ("fifo.json", "FIFO")):
        with pytest.raises(ResultFileError, match=why):
            read_result_json(out, name, RESULT_SCHEMA)
    if (out / "dev.json").exists() or (out / "dev.json").is_symlink():
        with pytest.raises(ResultFileError):
            read_result_bytes(out, "dev.json")


def _no_proc1_leak(host: Host, res: RunResult, out: Path) -> None:
    assert b"env PATH=" in res.stdout  # the payload did run and print its environment
    assert b"env HOME=/tmp" in res.stdout  # the sandbox's HOME, not the host's
    # bwrap's own PID 1 is readable inside: its environment must be the scrubbed one
    assert b"== /proc/1/environ\nPATH=/usr/local/bin:/usr/bin:/bin\n\n" in res.stdout


def _output_capped(host: Host, res: RunResult, out: Path) -> None:
    assert len(res.stdout) + len(res.stderr) <= 200_000


def _out_file_capped(host: Host, res: RunResult, out: Path) -> None:
    assert (out / "big").stat().st_size <= 4 * 1024 * 1024


def _snoop_logged(host: Host, res: RunResult, out: Path) -> None:
    assert b'"op":"log"' in res.stdout and b"socket: Operation not permitted" in res.stdout


def _syscall(name: str) -> Case:
    return Case(f"syscall-{name}", "c", lambda h, n=name: ("syscall", n), exit_code=1,
                stderr_has=b"(EPERM)")


CASES: list[Case] = [
    Case("tcp-127.0.0.1", "c", lambda h: ("tcp4", _port(h.tcp4)), exit_code=1,
         stderr_has=b"socket: Operation not permitted (EPERM)"),
    Case("tcp-::1", "c", lambda h: ("tcp6", _port(h.tcp6)), exit_code=1,
         stderr_has=b"socket: Operation not permitted (EPERM)"),
    Case("unix-socket-file", "c", lambda h: ("unix", str(h.unix_path)), exit_code=2,
         stderr_has=b"No such file or directory"),
    Case("abstract-unix-socket", "c", lambda h: ("abstract", h.abstract_name), exit_code=2,
         stderr_has=b"Connection refused"),
    Case("secrets-env-proc-home", "c",
         lambda h: ("secrets", str(h.home_secret), str(h.canary), "/root/.bash_history",
                    "/etc/shadow"),
         exit_code=2, stderr_has=b"No such file or directory", check=_no_proc1_leak),
    Case("write-outside-scratch", "c",
         lambda h: ("write", str(h.canary), "/job/attacks", "/usr/bin/sf-planted",
                    "/etc/sf-planted", "/proc/sys/kernel/hostname"),
         exit_code=2, stderr_has=b"Read-only file system"),
    Case("symlinks-in-out", "c", lambda h: ("links", str(h.home_secret)), expect=Reason.OK,
         stdout_has=b"planted", check=_links_refused),
    Case("fork-bomb", "c", lambda h: ("forkbomb",), limits=_limits(pids=32),
         expect=Reason.SANDBOX_PIDS),
    Case("memory-bomb", "c", lambda h: ("membomb",), limits=_limits(memory_mb=64),
         expect=Reason.SANDBOX_MEMORY),
    Case("fill-scratch", "c", lambda h: ("fill", "/tmp/fill"), limits=_limits(scratch_mb=8),
         expect=Reason.SANDBOX_FILE_SIZE, stderr_has=b"No space left on device"),
    Case("fill-out-file", "c", lambda h: ("fill", "/out/big"), limits=_limits(file_size_mb=4),
         expect=Reason.SANDBOX_FILE_SIZE, check=_out_file_capped),
    Case("spin-cpu", "c", lambda h: ("spin",), limits=_limits(cpu_s=1),
         expect=Reason.SANDBOX_CPU),
    Case("spin-ignoring-SIGXCPU", "c", lambda h: ("spin-noxcpu",), limits=_limits(cpu_s=1),
         expect=Reason.SANDBOX_CPU),
    Case("sleep-forever", "c", lambda h: ("sleep",), limits=_limits(wall_s=1.5),
         expect=Reason.SANDBOX_TIMEOUT),
    Case("flood-stdout", "c", lambda h: ("flood",), expect=Reason.SANDBOX_OUTPUT_LIMIT,
         check=_output_capped),
    *[_syscall(n) for n in ("unshare", "clone-newuser", "ptrace", "mount", "setns", "bpf",
                            "io_uring_setup", "keyctl", "perf_event_open", "userfaultfd",
                            "process_vm_readv", "socket-packet", "socket-netlink")],
    Case("plugin-busy-on_book", "plugin", lambda h: ("mode=spin",), limits=_limits(cpu_s=1),
         expect=Reason.SANDBOX_CPU),
    Case("plugin-snoop-on_book", "plugin", lambda h: ("mode=snoop", f"port={_port(h.tcp4)}"),
         expect=Reason.OK, check=_snoop_logged),
    Case("pytest-exfiltrate", "pytest", expect=Reason.NONZERO_EXIT,
         stdout_has=b"exfiltrated"),
    Case("compile-include-host-secret", "compile-include", expect=Reason.NONZERO_EXIT,
         stderr_has=b"No such file or directory"),
]


# --- the host side ----------------------------------------------------------------------------


def _listen(family: int, addr: object) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(addr)
    s.listen(8)
    s.setblocking(False)
    return s


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    backend = LocalBackend()
    ok, why = backend.available()
    if not ok:
        missing("sandbox", why)
    root = tmp_path_factory.mktemp("hostile")
    home = root / "home"
    home.mkdir()
    home_secret = home / ".sf-secret"
    home_secret.write_text(SECRET + "\n")
    canary = root / "canary.txt"
    canary.write_text("canary: must stay untouched\n")
    st = canary.stat()
    unix_path = root / "host.sock"
    abstract_name = f"sf-hostile-{os.getpid()}"
    h = Host(backend, root / "bin", home, home_secret, canary, (canary.read_bytes(), st.st_mtime_ns),
             _listen(socket.AF_INET, ("127.0.0.1", 0)), _listen(socket.AF_INET6, ("::1", 0)),
             unix_path, _listen(socket.AF_UNIX, str(unix_path)), abstract_name,
             _listen(socket.AF_UNIX, "\0" + abstract_name))
    h.bin_dir.mkdir()
    # Build the C payloads once, inside the sandbox, like any untrusted source.
    res = backend.run(RunRequest(
        argv=("gcc", "-O1", "-Wall", "-o", "/out/attacks", "/job/attacks.c"),
        inputs=(Mount(HOSTILE, JOB),), output_dir=h.bin_dir, workdir=JOB,
        limits=Limits(wall_s=60, pids=64), label="hostile-cc"))
    assert res.ok, res.text()
    yield h
    for _, s in h.listeners():
        s.close()


@pytest.fixture(autouse=True)
def host_secrets(monkeypatch: pytest.MonkeyPatch, host: Host) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", SECRET)
    monkeypatch.setenv("HOME", str(host.home))


def _plugin(host: Host, tmp: Path) -> tuple[Path, Path]:
    if host.plugin is None:
        build = host.bin_dir / "plugin"
        src = build / "src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HOSTILE / "plugin.cpp", src / "strategy.cpp")
        comp = compile_plugin(host.backend, src, build)
        assert comp.artifact is not None, comp.result.text()
        host.plugin = comp.artifact
        host.harness = SandboxVerifier(host.backend, host.bin_dir / "cache").harness()
    assert host.harness is not None
    return host.harness, host.plugin


def run_case(case: Case, host: Host, tmp: Path, out: Path) -> RunResult:
    if case.kind == "c":
        return host.backend.run(RunRequest(
            argv=("/job/attacks", *case.args(host)), inputs=(Mount(host.bin_dir, JOB),),
            output_dir=out, limits=case.limits, label=case.name))
    if case.kind == "plugin":
        harness, plugin = _plugin(host, tmp)
        job = tmp / "job"
        job.mkdir()
        shutil.copy2(harness, job / "harness")
        shutil.copy2(plugin, job / "strategy.so")
        (job / "params.txt").write_text("\n".join(case.args(host)) + "\n")
        return host.backend.run(RunRequest(
            argv=("/job/harness", "/job/strategy.so", "/job/params.txt", "1", "X", "1", "1"),
            inputs=(Mount(job, JOB),), output_dir=out, stdin=TAPE * 3, limits=case.limits,
            label=case.name))
    if case.kind == "pytest":
        bundle = tmp / "bundle"
        (bundle / "tests").mkdir(parents=True)
        shutil.copy2(HOSTILE / "payload_pytest.py", bundle / "tests" / "test_strategy.py")
        (bundle / "tests" / "targets.json").write_text(json.dumps({
            "home_secret": str(host.home_secret), "canary": str(host.canary),
            "port4": host.tcp4.getsockname()[1], "port6": host.tcp6.getsockname()[1],
            "unix": str(host.unix_path)}))
        return run_pytest(host.backend, bundle)
    if case.kind == "compile-include":
        src = tmp / "src"
        src.mkdir()
        text = (HOSTILE / "include_secret.cpp.in").read_text()
        (src / "strategy.cpp").write_text(text.replace("@SECRET_PATH@", str(host.home_secret)))
        return compile_plugin(host.backend, src, out).result
    raise AssertionError(f"Invariant: unknown case kind {case.kind}")


def _files_under(out: Path) -> Iterator[bytes]:
    """Contents of the regular files the payload left in /out (never following links)."""
    for dirpath, _dirs, files in os.walk(out, followlinks=False):
        for name in files:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    yield fh.read(16 * 1024 * 1024)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(case: Case, host: Host, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    res = run_case(case, host, tmp_path, out)
    if os.environ.get("SF_HOSTILE_REPORT"):  # regenerate the table in docs/sandbox.md
        with open(os.environ["SF_HOSTILE_REPORT"], "a") as fh:
            fh.write(json.dumps({"case": case.name, "reason": res.reason.value,
                                 "exit": res.exit_code, "signal": res.signal,
                                 "wall_s": round(res.wall_s, 3), "cpu_s": round(res.cpu_s, 3),
                                 "stderr": res.text(limit=160).strip()[-160:]}) + "\n")

    assert res.reason is case.expect, (res.reason, res.exit_code, res.signal, res.text())
    if case.exit_code is not None:
        assert res.exit_code == case.exit_code, res.text()
    assert case.stderr_has in res.stderr, res.text()
    assert case.stdout_has in res.stdout, res.text("stdout")
    if case.check is not None:
        case.check(host, res, out)

    secret = SECRET.encode()
    assert secret not in res.stdout and secret not in res.stderr
    for content in _files_under(out):
        assert secret not in content
    for what, listener in host.listeners():
        with pytest.raises(BlockingIOError):
            conn, _ = listener.accept()
            conn.close()
            pytest.fail(f"a sandboxed payload reached the host's {what} listener")
    assert (host.canary.read_bytes(), host.canary.stat().st_mtime_ns) == host.canary_state
    assert host.home_secret.read_text() == SECRET + "\n"

    after = host.backend.run(RunRequest(argv=("/job/attacks", "hello"),
                                        inputs=(Mount(host.bin_dir, JOB),), label="after"))
    assert after.ok and after.stdout == b"hello\n", after.text()
