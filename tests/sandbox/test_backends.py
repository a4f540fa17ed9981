"""The backend registry."""

from __future__ import annotations

import pytest

from stratforge.sandbox.backends import BACKENDS, get_backend, list_backends


def test_registry_names_every_backend() -> None:
    assert list(BACKENDS) == ["local", "docker", "kubernetes"]
    for name in BACKENDS:
        assert get_backend(name).name == name


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="local, docker, kubernetes"):
        get_backend("chroot")


def test_availability_is_reported_for_each(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    status = {s.name: s for s in list_backends()}
    assert status["local"].available, status["local"].detail
    assert not status["docker"].available and status["docker"].detail
    assert not status["kubernetes"].available and status["kubernetes"].detail
