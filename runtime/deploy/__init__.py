"""Deployers of the live runtime that run outside this machine's processes (Kubernetes).

The local deployer lives with the control plane (runtime/control/deployer.py); both implement the
registry's ``Deployer`` protocol structurally — the runtime never imports the registry.
"""

from .k8s import KubernetesDeployer, KubernetesDeployError, PluginFile, render_manifests

__all__ = ["KubernetesDeployer", "KubernetesDeployError", "PluginFile", "render_manifests"]
