"""The sandbox backends by name, with whether each can run here.

``get_backend("local" | "docker" | "kubernetes", **options)`` builds one; ``list_backends()``
says which are available and why not. The docker and kubernetes client packages are imported
only when those backends are used (optional extras ``docker`` and ``k8s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from stratforge.sandbox.base import Backend


def _local(**kw: Any) -> Backend:
    from stratforge.sandbox.local import LocalBackend

    return LocalBackend(**kw)


def _docker(**kw: Any) -> Backend:
    from stratforge.sandbox.docker_backend import DockerBackend

    return DockerBackend(**kw)


def _kubernetes(**kw: Any) -> Backend:
    from stratforge.sandbox.kubernetes_backend import KubernetesBackend

    return KubernetesBackend(**kw)


BACKENDS: dict[str, Callable[..., Backend]] = {
    "local": _local,            # bubblewrap + cgroups + rlimits + seccomp on this machine
    "docker": _docker,          # a container per run (docker SDK; image from sandbox/image/)
    "kubernetes": _kubernetes,  # a Job per run (kubernetes client): fan-out beyond one host
}


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
