"""Every command that runs generated code takes ``--backend`` (and the
``STRATFORGE_SANDBOX_BACKEND`` setting); an unavailable backend is one clear line, and the
LLM test doubles are not offered to users."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import USER_PROVIDERS, main
from stratforge.generator.llm import provider_names
from stratforge.sandbox.backends import BACKEND_NAMES, BackendUnavailable, make_backend, ready_backend
from stratforge.sandbox.docker_backend import DockerBackend
from stratforge.sandbox.kubernetes_backend import KubernetesBackend
from stratforge.sandbox.local import LocalBackend
from stratforge.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tests" / "fixtures" / "specs" / "kc-gap-fade.yaml"
SANDBOX_COMMANDS = ("generate", "build", "test", "backtest", "score")


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize("command", SANDBOX_COMMANDS)
def test_every_sandbox_command_offers_each_backend(command: str) -> None:
    text = invoke(command, "--help").output
    assert "--backend" in text
    for name in BACKEND_NAMES:
        assert name in text


def test_backends_by_name() -> None:
    assert isinstance(make_backend("local"), LocalBackend)
    assert isinstance(make_backend("docker", image="img:1"), DockerBackend)
    k8s = make_backend("kubernetes", namespace="ns-a")
    assert isinstance(k8s, KubernetesBackend) and k8s.namespace == "ns-a"
    with pytest.raises(ValueError, match="unknown sandbox backend .chroot.; choose one of local, docker, kubernetes"):
        make_backend("chroot")


def test_unreachable_docker_is_refused_before_anything_runs(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(BackendUnavailable, match="the docker sandbox is not available"):
        ready_backend("docker")
    bundles = tmp_path / "bundles"
    sig = "    entry_long: \"mid < sma(mid, slow_window)\"\n"
    spec = tmp_path / "kc-gap-fade.yaml"
    spec.write_text(SPEC.read_text().replace("  logic: |", "  signals:\n" + sig + "  logic: |"))
    result = invoke("build", str(spec), "--backend", "docker", "--out", str(bundles),
                    "--build-dir", str(tmp_path / "b"), env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert result.exit_code != 0
    assert "the docker sandbox is not available" in result.output and "none.sock" in result.output
    assert "Traceback" not in result.output and not bundles.exists()


def test_setting_chooses_the_backend_and_option_wins(tmp_path: Path) -> None:
    env = {"STRATFORGE_SANDBOX_BACKEND": "kubernetes", "KUBECONFIG": str(tmp_path / "none")}
    result = invoke("test", str(tmp_path), env=env)  # not a bundle: the backend is chosen first
    assert "the kubernetes sandbox is not available" in result.output
    result = invoke("test", str(tmp_path), "--backend", "docker",
                    env=dict(env, DOCKER_HOST=f"unix://{tmp_path}/x.sock"))
    assert "the docker sandbox is not available" in result.output


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = invoke("test", str(tmp_path), env={"STRATFORGE_SANDBOX_BACKEND": "chroot"})
    assert result.exit_code != 0 and "STRATFORGE_SANDBOX_BACKEND" in result.output
    monkeypatch.setenv("STRATFORGE_SANDBOX_BACKEND", "docker")
    assert load_settings().sandbox_backend == "docker"


def test_test_doubles_are_not_offered_to_users() -> None:
    assert "scripted" in provider_names()  # registered for the test suite
    assert "scripted" not in USER_PROVIDERS
    for command in ("generate", "build"):
        assert "scripted" not in invoke(command, "--help").output
        result = invoke(command, str(SPEC), "--provider", "scripted")
        assert result.exit_code == 2 and "'scripted' is not one of" in result.output
