"""The sandbox backends by name, with whether each can run here.

``get_backend("local" | "docker" | "kubernetes", **options)`` builds one; ``list_backends()``
says which are available and why not; ``ready_backend(name, ...)`` builds one and checks that it
can start a sandbox, so a missing engine or cluster is one clear line (:class:`BackendUnavailable`)
before anything runs. The docker and kubernetes client packages are imported only when those
backends run (optional extras ``docker`` and ``k8s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from stratforge.sandbox.base import Backend
from stratforge.sandbox.docker_backend import DockerBackend
from stratforge.sandbox.kubernetes_backend import KubernetesBackend
from stratforge.sandbox.local import LocalBackend

BACKENDS: dict[str, Callable[..., Backend]] = {
    "local": LocalBackend,            # bubblewrap + cgroups + rlimits + seccomp on this machine
    "docker": DockerBackend,          # a container per run (docker SDK; image from sandbox/image/)
    "kubernetes": KubernetesBackend,  # a Job per run (kubernetes client): fan-out beyond one host
}
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run a sandbox here; the message says why and how to fix it."""


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    detail: str


def get_backend(name: str, **options: Any) -> Backend:
    """The backend called ``name``; unknown names list the known ones."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"Condition failed: unknown sandbox backend {name!r}; choose one of "
                         f"{', '.join(BACKENDS)}") from None
    return factory(**options)


def make_backend(name: str, *, image: str | None = None, namespace: str | None = None) -> Backend:
    """A backend from the machine settings' image and namespace (each only where it applies)."""
    options: dict[str, Any] = {}
    if image and name in ("docker", "kubernetes"):
        options["image"] = image
    if namespace and name == "kubernetes":
        options["namespace"] = namespace
    return get_backend(name, **options)


def ready_backend(name: str, *, image: str | None = None, namespace: str | None = None) -> Backend:
    """A backend that has just shown it can start a sandbox; else :class:`BackendUnavailable`."""
    backend = make_backend(name, image=image, namespace=namespace)
    ok, why = backend.available()
    if not ok:
        raise BackendUnavailable(f"the {name} sandbox is not available: {why}")
    return backend


def list_backends() -> list[BackendStatus]:
    """Every backend with its availability here (``local`` runs a probe sandbox)."""
    out = []
    for name in BACKENDS:
        try:
            ok, why = get_backend(name).available()
        except Exception as err:  # a broken optional dependency must not hide the others
            ok, why = False, f"{type(err).__name__}: {err}"
        out.append(BackendStatus(name, ok, why))
    return out
