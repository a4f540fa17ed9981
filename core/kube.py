"""The Kubernetes API client both Kubernetes users share (the sandbox's Job backend and the
runtime's deployer): kubeconfig first (optionally one context of it), in-cluster config otherwise.
``kubernetes`` is the optional extra ``k8s``, imported only when a client is asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["api_client"]


def api_client(context: str | None = None) -> Any:
    """A ``kubernetes.client.ApiClient`` for ``context`` of the kubeconfig, or for the cluster this
    process runs in when there is no kubeconfig."""
    import kubernetes  # optional extra: pip install 'stratforge[k8s]'

    try:
        kubernetes.config.load_kube_config(context=context)
    except Exception:  # no kubeconfig (or not that context): the in-cluster service account
        kubernetes.config.load_incluster_config()
    return kubernetes.client.ApiClient()
