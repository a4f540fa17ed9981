"""The plugin a version deploys: exactly the file ``stratforge build`` tested.

``stratforge build`` records it in the scorecard's provenance: ``plugin`` (absolute, or relative
to the workspace build root: ``<strategy>/<build_id>/strategy.so``) and ``plugin_sha256``.
:func:`resolve_plugin` reads them back from a version's bundle and checks the file — the one
place that does, for every deployer (``LocalDeployer`` here, ``KubernetesDeployer`` in
``runtime.deploy.k8s``). Each way it can be wrong is a ``UserInputError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

from stratforge.core.errors import UserInputError

__all__ = ["PluginFile", "resolve_plugin", "sha256_of"]


class PluginFile(NamedTuple):
    """A version's tested plugin file and its SHA-256 (hex), checked against the scorecard."""

    path: Path
    sha256: str


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _scorecard(card: Path) -> dict[str, Any]:
    try:
        doc = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{card} does not exist: the registry's bundle of this version "
                             "has no scorecard (was it moved?); run `stratforge build` again") \
            from None
    except (ValueError, UnicodeDecodeError) as err:
        raise UserInputError(f"{card} is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise UserInputError(f"{card}: a scorecard is a JSON object, this is "
                             f"{type(doc).__name__}")
    return doc


def resolve_plugin(bundle: Path, build_root: Path | None, build_id: str) -> PluginFile:
    """The tested plugin of version ``build_id`` whose bundle is ``bundle``, from the scorecard's
    provenance, after checking that the provenance is this build's, names a plugin, that the
    file exists and that its SHA-256 is the recorded one. ``build_root``: the workspace build
    root a relative ``plugin`` is under."""
    card = Path(bundle) / "scorecard.json"
    prov = _scorecard(card).get("provenance")
    if not isinstance(prov, dict) or not prov:
        raise UserInputError(f"{card}: no provenance (build id, tested plugin): the scorecard "
                             "was not written by `stratforge build`; rebuild to deploy it")
    if prov.get("build_id") != build_id:
        raise UserInputError(f"{card}: provenance.build_id is {prov.get('build_id')!r}, the "
                             f"registry's version is {build_id!r}: the bundle is another build's")
    rel, digest = prov.get("plugin"), prov.get("plugin_sha256")
    if not rel or not digest or not isinstance(rel, str) or not isinstance(digest, str):
        raise UserInputError(f"{card}: provenance names no tested plugin "
                             "(plugin, plugin_sha256): the scorecard predates the runtime; "
                             "rebuild with `stratforge build` to deploy it")
    path = Path(rel)
    if not path.is_absolute():
        if build_root is None:
            raise UserInputError(f"{card}: the plugin {rel} is relative to the workspace build "
                                 "root, which this deployer was not given (--build-dir)")
        path = Path(build_root) / path
    if not path.is_file():
        raise UserInputError(f"the tested plugin of {build_id} is gone: {path} (scorecard "
                             f"{card}); rebuild with `stratforge build`")
    actual = sha256_of(path)
    if actual != digest:
        raise UserInputError(f"{path} changed since it was tested: SHA-256 {actual}, the "
                             f"scorecard {card} recorded {digest}; it is not the file that was "
                             "tested — rebuild with `stratforge build`")
    return PluginFile(path, digest)
