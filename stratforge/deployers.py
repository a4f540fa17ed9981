"""Which ``Deployer`` the registry drives: ``STRATFORGE_DEPLOYER=local|kubernetes``.

The shell's one choice point (the registry never imports the runtime): the CLI calls
:func:`make_deployer` with the settings and hands the result to ``Registry.open(deployer=...)``.
"""

from __future__ import annotations

from pathlib import Path

from stratforge.core.errors import StratforgeError
from stratforge.registry.deployer import Deployer
from stratforge.runtime.deploy import KubernetesDeployer
from stratforge.runtime.deploy.k8s import DEFAULT_IMAGE
from stratforge.settings import Settings


def make_deployer(settings: Settings, *, build_root: Path | None = None,
                  namespace: str | None = None, image: str | None = None) -> Deployer:
    """The deployer the settings select (``namespace``/``image``: command-line overrides)."""
    if settings.deployer == "kubernetes":
        return KubernetesDeployer(namespace or settings.k8s_namespace, None,
                                  image or settings.k8s_image or DEFAULT_IMAGE,
                                  build_root=build_root, plugin_claim=settings.k8s_plugin_claim)
    # the local deployer belongs to the control plane (runtime/control/deployer.py, helper
    # "control"): wired here when that branch is merged
    raise StratforgeError("the local deployer is not available in this build (it comes with the "
                          "control plane, runtime/control); set STRATFORGE_DEPLOYER=kubernetes or "
                          "use `stratforge runtime serve`")
