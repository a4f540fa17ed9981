"""The ``local`` sandbox backend: bubblewrap + cgroups + rlimits + seccomp.

Layers, each holding if another fails (measured on this machine kind: shared/SANDBOX.md):

1. cgroups per run — memory (with swap) and pids — joined by the child before exec. v1 and v2
   hierarchies are detected at run time; where neither can be written, RLIMIT_AS (except for
   sanitizer runs, which reserve terabytes of shadow memory) and RLIMIT_NPROC stand in, and
   :attr:`RunResult.enforced` says which mechanism held each limit.
2. The launcher: bubblewrap itself starts with a scrubbed environment (its PID 1 environment
   is readable inside), stdin from a pipe or /dev/null, all other descriptors closed, a new
   session, and rlimits for CPU, file size, open files and core dumps.
3. bubblewrap: every namespace unshared (no network at all), a read-only /usr, a private
   size-capped /tmp, only the declared inputs bound read-only and ``/out`` writable,
   uid/gid 65534, all capabilities dropped, no nested user namespaces.
4. seccomp (default allow; EPERM for): IP and packet sockets, ptrace and cross-process memory
   access, unshare/setns/mount/pivot_root, keyrings, bpf, perf, userfaultfd, io_uring,
   kexec and module loading, clone with CLONE_NEWUSER.
5. The parent: a wall-clock deadline, then SIGKILL to the process group and to everything left
   in the cgroup; a hard cap on stdout+stderr bytes; cgroups removed afterwards.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stratforge.core.tools import which
from stratforge.sandbox.base import Limits, Reason, RunRequest, RunResult

MiB = 1024 * 1024
SANDBOX_UID = 65534
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


# --- cgroups ----------------------------------------------------------------------------------


@dataclass
class _Cgroups:
    """The per-run cgroups (v1 or v2) that hold memory and pids; empty when unavailable."""

    version: int = 0
    dirs: list[Path] = field(default_factory=list)
    memory_dir: Path | None = None
    pids_dir: Path | None = None
    cpu_dir: Path | None = None  # CPU accounting of the whole tree (rusage misses bwrap's children)

    @classmethod
    def create(cls, root: Path, run_id: str, limits: Limits) -> "_Cgroups":
        mem = limits.memory_mb * MiB
        try:
            if (root / "cgroup.controllers").is_file():
                return cls._create_v2(root, run_id, mem, limits.pids)
            if (root / "memory" / "memory.limit_in_bytes").is_file():
                return cls._create_v1(root, run_id, mem, limits.pids)
        except OSError:
            pass
        return cls()

    @classmethod
    def _create_v1(cls, root: Path, run_id: str, mem: int, pids: int) -> "_Cgroups":
        cg = cls(version=1)
        try:
            mdir = root / "memory" / "stratforge" / run_id
            mdir.mkdir(parents=True)
            cg.dirs.append(mdir)
            (mdir / "memory.limit_in_bytes").write_text(str(mem))
            swap = mdir / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(mem))
            cg.memory_dir = mdir
            if (root / "pids").is_dir():
                pdir = root / "pids" / "stratforge" / run_id
                pdir.mkdir(parents=True)
                cg.dirs.append(pdir)
                (pdir / "pids.max").write_text(str(pids))
                cg.pids_dir = pdir
            if (root / "cpuacct" / "cpuacct.usage").is_file():
                cdir = root / "cpuacct" / "stratforge" / run_id
                cdir.mkdir(parents=True)
                cg.dirs.append(cdir)
                cg.cpu_dir = cdir
        except OSError:
            cg.remove()
            return cls()
        return cg

    @classmethod
    def _create_v2(cls, root: Path, run_id: str, mem: int, pids: int) -> "_Cgroups":
        parent = root / "stratforge"
        try:
            parent.mkdir(exist_ok=True)
            for d in (root, parent):
                (d / "cgroup.subtree_control").write_text("+memory +pids")
            run = parent / run_id
            run.mkdir()
        except OSError:
            return cls()
        cg = cls(version=2, dirs=[run], memory_dir=run, pids_dir=run, cpu_dir=run)
        try:
            (run / "memory.max").write_text(str(mem))
            if (run / "memory.swap.max").exists():
                (run / "memory.swap.max").write_text("0")
            (run / "pids.max").write_text(str(pids))
        except OSError:
            cg.remove()
            return cls()
        return cg

    def join_paths(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _event_count(self.memory_dir / name, "oom_kill") > 0

    def pids_exhausted(self) -> bool:
        if self.pids_dir is None:
            return False
        return _event_count(self.pids_dir / "pids.events", "max") > 0

    def cpu_seconds(self) -> float:
        """CPU time used by every process that ran in the cgroup (0.0 when not accounted)."""
        if self.cpu_dir is None:
            return 0.0
        try:
            if self.version == 1:
                return int((self.cpu_dir / "cpuacct.usage").read_text()) / 1e9
            return _event_count(self.cpu_dir / "cpu.stat", "usage_usec") / 1e6
        except (OSError, ValueError):
            return 0.0

    def kill_all(self) -> None:
        for d in self.dirs:
            kill_file = d / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                    continue
                except OSError:
                    pass
            try:
                for line in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(line), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
            except OSError:
                pass

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.02)

    def describe(self) -> list[str]:
        out = []
        if self.memory_dir is not None:
            out.append(f"memory=cgroup-v{self.version}")
        if self.pids_dir is not None:
            out.append(f"pids=cgroup-v{self.version}")
        return out


def _event_count(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


# --- seccomp ----------------------------------------------------------------------------------

_DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns", "mount", "umount2",
    "pivot_root", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at",
    "fsopen", "fsmount", "move_mount", "open_tree",
)
_AF_INET, _AF_INET6, _AF_PACKET, _AF_NETLINK = 2, 10, 17, 16
_CLONE_NEWUSER = 0x10000000


def _seccomp_program() -> tuple[int | None, str]:
    """A BPF program in an unlinked temp file (its fd goes to bwrap --seccomp)."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as err:  # libseccomp missing
        return None, f"seccomp=unavailable ({err})"
    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    for name in _DENIED_SYSCALLS:
        try:
            flt.add_rule(eperm, name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a syscall on this architecture / libseccomp version
    for family in (_AF_INET, _AF_INET6, _AF_PACKET, _AF_NETLINK):
        flt.add_rule(eperm, "socket", sc.Arg(0, sc.EQ, family))
    flt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER))
    try:
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # flags live in memory: make libc fall back to clone
    except (RuntimeError, ValueError, OSError):
        pass
    tmp = tempfile.TemporaryFile()
    flt.export_bpf(tmp)
    tmp.flush()
    fd = os.dup(tmp.fileno())
    tmp.close()
    os.lseek(fd, 0, os.SEEK_SET)
    return fd, "seccomp=bpf"


# --- the backend ------------------------------------------------------------------------------


class LocalBackend:
    """Runs requests under bubblewrap on this machine."""

    name = "local"

    def __init__(self, bwrap: str | None = None, cgroup_root: Path = Path("/sys/fs/cgroup")):
        self.bwrap = bwrap or str(which("bwrap") or "")
        self.cgroup_root = cgroup_root

    def available(self) -> tuple[bool, str]:
        if not self.bwrap:
            return False, ("bubblewrap (bwrap) is not installed: run `bash scripts/setup.sh` or "
                           "`apt-get install bubblewrap`")
        probe = self.run(RunRequest(argv=("/bin/true",), limits=Limits(wall_s=20), label="probe"))
        if not probe.ok:
            return False, (f"bubblewrap cannot start a sandbox here ({probe.reason.value}): "
                           f"{probe.text()}")
        return True, "ok"

    # The bwrap command line for a request (also what tests inspect).
    def command(self, req: RunRequest, seccomp_fd: int | None) -> list[str]:
        lim = req.limits
        cmd = [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
               "--die-with-parent", "--new-session", "--clearenv",
               "--setenv", "PATH", BASE_PATH, "--setenv", "HOME", "/tmp",
               "--setenv", "LANG", "C.UTF-8",
               "--ro-bind", "/usr", "/usr"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                cmd += ["--symlink", os.readlink(host), f"/{top}"]
            elif host.is_dir():
                cmd += ["--ro-bind", str(host), f"/{top}"]
        for etc in ("/etc/ld.so.cache", "/etc/alternatives"):
            if os.path.exists(etc):
                cmd += ["--ro-bind", etc, etc]
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--size", str(lim.scratch_mb * MiB), "--tmpfs", "/tmp"]
        for mount in req.inputs:
            flag = "--bind" if mount.writable else "--ro-bind"
            cmd += [flag, str(mount.source), str(mount.target)]
        if req.output_dir is not None:
            cmd += ["--bind", str(req.output_dir), "/out"]
        for key, value in req.env:
            cmd += ["--setenv", key, value]
        cmd += ["--chdir", str(req.workdir), "--hostname", "sandbox",
                "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
        if seccomp_fd is not None:
            cmd += ["--seccomp", str(seccomp_fd)]
        return cmd + ["--", *req.argv]

    def run(self, req: RunRequest) -> RunResult:
        if not self.bwrap:
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0, (),
                             "bubblewrap (bwrap) is not installed")
        run_id = f"{req.label[:20]}-{uuid.uuid4().hex[:12]}"
        cgroups = _Cgroups.create(self.cgroup_root, run_id, req.limits)
        seccomp_fd, seccomp_note = _seccomp_program()
        enforced = cgroups.describe() + [seccomp_note]
        lim = req.limits
        use_as = cgroups.memory_dir is None and not req.sanitizer
        if use_as:
            enforced.append("memory=rlimit-as")
        if cgroups.pids_dir is None:
            enforced.append("pids=rlimit-nproc")
        join = cgroups.join_paths()

        def preexec() -> None:  # runs in the child between fork and exec
            for path in join:
                with open(path, "w") as fh:
                    fh.write(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 1))
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_size_mb * MiB,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim.open_files,) * 2)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if use_as:
                resource.setrlimit(resource.RLIMIT_AS, (lim.memory_mb * MiB,) * 2)
            if not join or cgroups.pids_dir is None:
                resource.setrlimit(resource.RLIMIT_NPROC, (lim.pids,) * 2)

        cmd = self.command(req, seccomp_fd)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE if req.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": BASE_PATH},
                close_fds=True, pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
                start_new_session=True, preexec_fn=preexec, cwd="/")
        except OSError as err:
            cgroups.remove()
            if seccomp_fd is not None:
                os.close(seccomp_fd)
            return RunResult(Reason.SANDBOX_SETUP, None, None, b"", b"", 0.0, 0.0,
                             tuple(enforced), f"cannot start bubblewrap: {err}")
        finally:
            pass
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        try:
            out, err, timed_out, overflow, out_full = _pump(
                proc, req.stdin, start + lim.wall_s, lim.output_bytes, cgroups,
                req.output_dir, lim.out_dir_mb * MiB)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            _kill_group(proc.pid)
            cgroups.kill_all()
        wall = time.monotonic() - start
        # wait4 sees only bwrap itself: the payload's CPU time comes from the cgroup, so a
        # payload that ignores SIGXCPU and dies by the hard limit's SIGKILL is SANDBOX_CPU
        cpu = max(usage.ru_utime + usage.ru_stime, cgroups.cpu_seconds())
        exit_code, sig = _decode_status(status)
        reason = _classify(exit_code, sig, timed_out, overflow, cgroups, cpu, lim, err)
        if out_full and reason is not Reason.SANDBOX_TIMEOUT:
            reason = Reason.SANDBOX_FILE_SIZE
        cgroups.remove()
        return RunResult(reason, exit_code, sig, out, err, wall, cpu, tuple(enforced),
                         _detail(reason, lim))


def dir_bytes(root: Path, stop_above: int) -> int:
    """Bytes under ``root`` (files' sizes, links not followed); stops counting past ``stop_above``."""
    total = 0
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += st.st_size
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    if total > stop_above:
                        return total
        except OSError:
            continue
    return total


def _pump(proc: subprocess.Popen, stdin: bytes | None, deadline: float, cap: int,
          cgroups: _Cgroups, out_dir: Path | None = None,
          out_cap: int = 0) -> tuple[bytes, bytes, bool, bool, bool]:
    """Collect stdout/stderr until both close, the deadline passes, the byte cap is hit or the
    output folder grows past ``out_cap`` (polled every 0.1 s; each file is also capped by
    RLIMIT_FSIZE, which bounds what one poll interval can add)."""
    sel = selectors.DefaultSelector()
    bufs = {"out": bytearray(), "err": bytearray()}
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    if stdin is not None and proc.stdin is not None:
        # fed from a thread: a child that writes much output before reading all its input
        # would otherwise deadlock against a blocking write here (the deadline never checked)
        def feed(pipe=proc.stdin) -> None:
            try:
                pipe.write(stdin)
                pipe.close()
            except OSError:
                pass

        threading.Thread(target=feed, name="sandbox-stdin", daemon=True).start()
    timed_out = overflow = out_full = False
    open_streams = 2
    while open_streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if out_dir is not None and dir_bytes(out_dir, out_cap) > out_cap:
            out_full = True
            break
        for key, _ in sel.select(timeout=min(remaining, 0.1)):
            chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            bufs[key.data] += chunk
            if len(bufs["out"]) + len(bufs["err"]) > cap:
                overflow = True
                break
        if overflow:
            break
    if timed_out or overflow or out_full:
        _kill_group(proc.pid)
        cgroups.kill_all()
    if not out_full and out_dir is not None and dir_bytes(out_dir, out_cap) > out_cap:
        out_full = True  # grew past the cap after the streams closed
    sel.close()
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    total = bytes(bufs["out"]), bytes(bufs["err"])
    if overflow:  # keep the cap: what was read beyond it is dropped
        out = total[0][:cap]
        return out, total[1][: max(0, cap - len(out))], timed_out, overflow, out_full
    return total[0], total[1], timed_out, overflow, out_full


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _decode_status(status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    # bubblewrap reports a child killed by a signal as exit 128 + signal number
    if code > 128 and code - 128 < 65:
        return code, code - 128
    return code, None


def _classify(exit_code: int | None, sig: int | None, timed_out: bool, overflow: bool,
              cgroups: _Cgroups, cpu: float, lim: Limits, stderr: bytes) -> Reason:
    if timed_out:
        return Reason.SANDBOX_TIMEOUT
    if overflow:
        return Reason.SANDBOX_OUTPUT_LIMIT
    if cgroups.oom_killed():
        return Reason.SANDBOX_MEMORY
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= lim.cpu_s):
        return Reason.SANDBOX_CPU
    if sig == signal.SIGXFSZ:
        return Reason.SANDBOX_FILE_SIZE
    if cgroups.pids_exhausted() and exit_code != 0:
        return Reason.SANDBOX_PIDS
    if sig is not None:
        return Reason.SANDBOX_SIGNAL
    if exit_code == 0:
        return Reason.OK
    if b"bwrap:" in stderr[:2000] and exit_code == 1:
        return Reason.SANDBOX_SETUP
    if b"MemoryError" in stderr or b"std::bad_alloc" in stderr or b"Cannot allocate memory" in stderr:
        return Reason.SANDBOX_MEMORY
    if b"No space left on device" in stderr or b"File too large" in stderr:
        return Reason.SANDBOX_FILE_SIZE
    return Reason.NONZERO_EXIT


def _detail(reason: Reason, lim: Limits) -> str:
    return {
        Reason.SANDBOX_TIMEOUT: f"wall-clock limit of {lim.wall_s:g} s reached; process group killed",
        Reason.SANDBOX_CPU: f"CPU-time limit of {lim.cpu_s} s reached",
        Reason.SANDBOX_MEMORY: f"memory limit of {lim.memory_mb} MiB reached",
        Reason.SANDBOX_PIDS: f"process limit of {lim.pids} reached",
        Reason.SANDBOX_FILE_SIZE: f"file-size limit ({lim.file_size_mb} MiB), scratch "
                                  f"({lim.scratch_mb} MiB) or output folder "
                                  f"({lim.out_dir_mb} MiB) reached",
        Reason.SANDBOX_OUTPUT_LIMIT: f"output beyond {lim.output_bytes:,} bytes; run killed",
    }.get(reason, "")
