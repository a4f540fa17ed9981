"""Which ``Deployer`` the registry drives: ``STRATFORGE_DEPLOYER=local|kubernetes``.

The shell's one choice point (the registry never imports the runtime): the CLI calls
:func:`make_deployer` with the settings and hands the result to ``Registry.open(deployer=...)``.
"""

from __future__ import annotations

from pathlib import Path

from stratforge.ci.build import Workspace
from stratforge.registry.deployer import Deployer
from stratforge.runtime.control import LocalDeployer, Runtime, StateStore, default_state_dir
from stratforge.runtime.deploy import KubernetesDeployer
from stratforge.runtime.deploy.k8s import DEFAULT_IMAGE
from stratforge.settings import Settings


def make_deployer(settings: Settings, *, build_root: Path | None = None,
                  namespace: str | None = None, image: str | None = None,
                  state_dir: Path | None = None) -> Deployer:
    """The deployer the settings select (``namespace``/``image``: command-line overrides;
    ``state_dir``: the local runtime's folder, default ``STRATFORGE_RUNTIME_DIR`` or
    ``~/.local/share/stratforge/runtime``)."""
    if settings.deployer == "kubernetes":
        return KubernetesDeployer(namespace or settings.k8s_namespace, None,
                                  image or settings.k8s_image or DEFAULT_IMAGE,
                                  build_root=build_root, plugin_claim=settings.k8s_plugin_claim)
    state = (state_dir or default_state_dir()).resolve()
    rt = Runtime(state)
    return LocalDeployer(rt.client, StateStore(state), rt.paths.plugins,
                         build_root=build_root or Workspace.default().build_root)
