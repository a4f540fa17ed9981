"""The real bundled model end to end (``-m llm``): skipped unless installed with llama-cpp-python.

Run alone (not in parallel workers): on 2 cores anything beside it slows generation several-fold.
These tests check that the pipeline works with a real model, not that a small model is right:
the answer must pass the same checks as any other, or the loop must report why it stopped.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from resource_kit import missing

from stratforge.generator.llm import Recorder, bundled, get_provider, logic_to_signals

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def _need_model() -> None:
    if not bundled.installed_models():
        missing("llm", "no bundled model is installed")
    if importlib.util.find_spec("llama_cpp") is None:
        missing("llm", "llama-cpp-python is not installed")


def _check(result) -> None:
    assert result.rounds, "no round ran"
    if result.accepted:
        for role in ("entry_long", "exit_long", "entry_short", "exit_short"):
            assert role in result.signals
    else:
        assert result.stop_reason in ("max_rounds", "repeated_error")
        assert all(r.errors for r in result.rounds)


def test_spy_logic_to_signals_local(spy_spec, tmp_path) -> None:
    _need_model()
    provider = get_provider("local")
    result = logic_to_signals(spy_spec, provider, Recorder(tmp_path / "llm"), raise_on_failure=False)
    print(result.report())
    _check(result)
    # the recording replays to the same result
    again = logic_to_signals(spy_spec, get_provider("replay", path=str(tmp_path / "llm")),
                             Recorder(tmp_path / "llm2"), raise_on_failure=False)
    assert again.signals == result.signals


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spy_logic_to_signals_openai_against_model_serve(spy_spec, tmp_path) -> None:
    _need_model()
    if importlib.util.find_spec("llama_cpp.server") is None:
        missing("llm", "llama-cpp-python[server] is not installed")
    from stratforge.generator.llm.cli import server_command

    path = bundled.resolve_model(None)
    port = _free_port()
    proc = subprocess.Popen(server_command(str(path), port=port, n_ctx=4096,
                                           threads=os.cpu_count() or 1),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("stratforge model serve did not come up")
                time.sleep(1)
        provider = get_provider("openai", base_url=f"http://127.0.0.1:{port}/v1",
                                model=path.stem, timeout=600.0)
        result = logic_to_signals(spy_spec, provider, Recorder(tmp_path / "llm"),
                                  raise_on_failure=False)
        print(result.report())
        _check(result)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_code_mode_generate_through_local(tmp_path) -> None:
    """`generate` end to end with the real model writing code regions: a bundle, or a clear
    report of every rejected round — never anything half-written."""
    _need_model()
    from pathlib import Path

    from stratforge.generator.generate import BuildFailed, generate
    from stratforge.core.spec import load_spec
    from stratforge.sandbox import LocalBackend
    from stratforge.sandbox.verify import SandboxVerifier

    spec = Path(__file__).resolve().parents[1] / "fixtures" / "spy-code-mode.yaml"
    verifier = SandboxVerifier(LocalBackend(), tmp_path / "cache")
    started = time.monotonic()
    try:
        result = generate(load_spec(spec), verifier=verifier, out_root=tmp_path / "strategies",
                          build_root=tmp_path / "build", provider=get_provider("local"))
    except BuildFailed as err:
        report = err.result.llm_report
        print(f"not accepted after {time.monotonic() - started:.0f} s\n{report}")
        assert "round 1" in report and ("max_rounds" in report or "repeated_error" in report)
        assert not (tmp_path / "strategies" / "spy-code-mode").exists()
        return
    print(f"accepted after {time.monotonic() - started:.0f} s\n{result.llm_report}")
    assert (result.bundle / "manifest.json").is_file()
