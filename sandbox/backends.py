"""Choosing a sandbox backend by name: ``local`` (bubblewrap on this machine), ``docker`` (a
container per run) or ``kubernetes`` (a Job per run). Each is checked before use, so a missing
engine or cluster is one clear line, never a traceback half-way through a build."""

from __future__ import annotations

from typing import Literal

from stratforge.sandbox.base import Backend
from stratforge.sandbox.docker_backend import DockerBackend
from stratforge.sandbox.kubernetes_backend import KubernetesBackend
from stratforge.sandbox.local import LocalBackend

BackendName = Literal["local", "docker", "kubernetes"]
BACKEND_NAMES: tuple[BackendName, ...] = ("local", "docker", "kubernetes")


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run a sandbox here; the message says why and how to fix it."""


def make_backend(name: str, *, image: str | None = None, namespace: str | None = None) -> Backend:
    """A backend instance by name (not yet checked: see :func:`ready_backend`)."""
    if name == "local":
        return LocalBackend()
    if name == "docker":
        return DockerBackend(**({"image": image} if image else {}))
    if name == "kubernetes":
        opts = {k: v for k, v in (("image", image), ("namespace", namespace)) if v}
        return KubernetesBackend(**opts)
    raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def ready_backend(name: str, *, image: str | None = None, namespace: str | None = None) -> Backend:
    """A backend that has just shown it can start a sandbox; else :class:`BackendUnavailable`."""
    backend = make_backend(name, image=image, namespace=namespace)
    ok, why = backend.available()
    if not ok:
        raise BackendUnavailable(f"the {name} sandbox is not available: {why}")
    return backend
