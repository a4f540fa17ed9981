"""The jobs that run generated code, each inside a sandbox backend.

* :func:`compile_plugin` — g++ builds the strategy plugin (release, or Debug with ASan+UBSan)
  and the generated C++ test; a hostile ``#include "/host/file"`` finds nothing because only
  /usr, the SDK headers and the bundle are visible.
* :func:`run_cpp_test` — the compiled generated C++ test.
* :func:`run_pytest` — the generated pytest file against the Python twin.

Paths inside the sandbox are fixed: the bundle at /job (read-only), the SDK headers at /sdk
(read-only), the writable output at /out, scratch at /tmp.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stratforge.core.tools import find_sdk_include as find_sdk
from stratforge.sandbox.base import Backend, Limits, Mount, RunRequest, RunResult

JOB = PurePosixPath("/job")
SDK = PurePosixPath("/sdk")
OUT = PurePosixPath("/out")

CXXFLAGS = ("-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fPIC",
            "-ffp-contract=off", "-fno-fast-math", "-fvisibility=hidden")
RELEASE_FLAGS = ("-O2", "-DNDEBUG")
SANITIZE_FLAGS = ("-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=all")

COMPILE_LIMITS = Limits(wall_s=180, cpu_s=180, memory_mb=2048, pids=64, output_bytes=400_000)
TEST_LIMITS = Limits(wall_s=60, cpu_s=60, memory_mb=1024, pids=64, output_bytes=400_000)


def find_sdk_include() -> Path:
    """The engine's public headers: the installed copy or the source tree's."""
    found = find_sdk()
    if found is None:
        raise FileNotFoundError("Invariant: the runtime SDK headers (sf/sdk.hpp) are not installed")
    return found


def python_mounts() -> tuple[Mount, ...]:
    """Read-only mounts that let the sandbox run this interpreter with stratforge importable."""
    paths: list[Path] = []
    for p in (Path(sys.base_prefix), Path(sys.prefix)):
        paths.append(p.resolve())
    for mod in ("stratforge", "stratforge.core", "stratforge.runtime", "pytest"):
        spec = importlib.util.find_spec(mod)
        if spec is not None and spec.origin:
            paths.append(Path(spec.origin).resolve().parent)
    unique: list[Path] = []
    for p in sorted(set(paths), key=lambda q: len(q.parts)):
        if not any(p.is_relative_to(u) for u in unique) and not str(p).startswith("/usr/"):
            unique.append(p)
    return tuple(Mount(p, PurePosixPath(str(p))) for p in unique)


@dataclass(frozen=True)
class CompileResult:
    result: RunResult
    artifact: Path | None  # the built file in out_dir, when the build succeeded


def compile_plugin(backend: Backend, bundle_cpp: Path, out_dir: Path, *, sanitize: bool = False,
                   build_id: str = "dev", spec_hash: str = "",
                   source: str = "strategy.cpp", output: str = "strategy.so",
                   shared: bool = True, extra: tuple[str, ...] = ()) -> CompileResult:
    """Compile ``bundle_cpp/source`` into ``out_dir/output`` inside the sandbox."""
    flags = CXXFLAGS + (SANITIZE_FLAGS if sanitize else RELEASE_FLAGS)
    argv = ("g++", *flags, *(("-shared",) if shared else ()), f"-I{SDK}",
            f'-DSF_BUILD_ID="{build_id}"', f'-DSF_SPEC_HASH="{spec_hash}"', *extra,
            str(JOB / source), "-o", str(OUT / output), *(() if shared else ("-ldl",)))
    req = RunRequest(argv=argv, inputs=(Mount(bundle_cpp, JOB), Mount(find_sdk_include(), SDK)),
                     output_dir=out_dir, workdir=JOB, limits=COMPILE_LIMITS, sanitizer=sanitize,
                     label="compile")
    res = backend.run(req)
    art = out_dir / output
    return CompileResult(res, art if res.ok and art.is_file() and not art.is_symlink() else None)


def run_cpp_test(backend: Backend, build_dir: Path, exe: str, args: tuple[str, ...] = (), *,
                 sanitize: bool = False, data: Path | None = None) -> RunResult:
    """Run a compiled test binary from ``build_dir`` (read-only at /job)."""
    inputs = [Mount(build_dir, JOB)]
    if data is not None:
        inputs.append(Mount(data, PurePosixPath("/data")))
    env = (("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0"),
           ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")) if sanitize else ()
    return backend.run(RunRequest(argv=(str(JOB / exe), *args), inputs=tuple(inputs), env=env,
                                  workdir=PurePosixPath("/tmp"), limits=TEST_LIMITS,
                                  sanitizer=sanitize, label="cpptest"))


def run_pytest(backend: Backend, bundle: Path, test_path: str = "tests") -> RunResult:
    """Run the generated pytest files of ``bundle`` against its Python twin."""
    argv = (sys.executable, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--import-mode=importlib", "-o", "addopts=", str(JOB / test_path))
    env = (("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONHASHSEED", "0"))
    return backend.run(RunRequest(argv=argv, inputs=(Mount(bundle, JOB), *python_mounts()),
                                  env=env, workdir=JOB, limits=TEST_LIMITS, label="pytest"))
