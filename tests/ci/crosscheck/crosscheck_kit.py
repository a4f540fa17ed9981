"""Helpers of the cross-check tests (importable by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

from stratforge.sandbox.replay import run_replay


def bar_replay(backend, spec, build: Path, bundle: Path, data: Path, out: Path) -> dict:
    """sf-replay in bar mode over ``data`` inside the sandbox; the results document."""
    run = run_replay(backend, spec, plugin=build / "strategy.so", params=bundle / "params.txt",
                            data=data, out_dir=out, bar_mode=True, tape=False)
    assert run.ok, run.message
    return run.results
