"""Markers of the sandbox tests and an optional report of the hostile corpus."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: needs a reachable Docker engine (DOCKER_HOST or "
                                       "/var/run/docker.sock) and the sandbox image")
    config.addinivalue_line("markers", "k8s: needs a Kubernetes cluster (a kubeconfig) and the "
                                       "sandbox image pushed where the cluster can pull it")
