"""resolve_plugin: the one place that finds and checks a version's tested plugin from its
scorecard provenance, for the local and the Kubernetes deployer alike. Each way a bundle can be
wrong is planted and must be refused with a message naming the file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from control_kit import make_bundle

from stratforge.core.errors import UserInputError
from stratforge.runtime.control.plugin import PluginFile, resolve_plugin
from stratforge.runtime.deploy.k8s import plugin_from_bundle

S = "kappa-drift"


@dataclass(frozen=True)
class T:
    strategy: str
    build_id: str
    bundle: str


def _card(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "scorecard.json").read_text())


def _write(bundle: Path, doc: Any) -> None:
    (bundle / "scorecard.json").write_text(json.dumps(doc))


def test_the_tested_plugin_and_its_hash(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, S, "h1")
    got = resolve_plugin(bundle, tmp_path / "build", "h1")
    so = tmp_path / "build" / S / "h1" / "strategy.so"
    assert got == PluginFile(so, hashlib.sha256(so.read_bytes()).hexdigest())
    # an absolute plugin path needs no build root
    doc = _card(bundle)
    doc["provenance"]["plugin"] = str(so)
    _write(bundle, doc)
    assert resolve_plugin(bundle, None, "h1") == got


def _no_scorecard(bundle: Path, build_root: Path) -> None:
    (bundle / "scorecard.json").unlink()


def _not_json(bundle: Path, build_root: Path) -> None:
    (bundle / "scorecard.json").write_text("{provenance: ")


def _not_an_object(bundle: Path, build_root: Path) -> None:
    _write(bundle, ["provenance"])


def _provenance(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path, Path], None]:
    """A planting that edits the scorecard's provenance in place (``edit`` may return a new
    provenance: None removes it)."""
    def plant(bundle: Path, build_root: Path) -> None:
        doc = _card(bundle)
        out = edit(doc["provenance"])
        if out is not doc["provenance"]:
            doc.pop("provenance")
            if out is not None:
                doc["provenance"] = out
        _write(bundle, doc)
    return plant


_no_provenance = _provenance(lambda p: None)
_no_plugin = _provenance(lambda p: p.pop("plugin_sha256") and p)
_other_build = _provenance(lambda p: p.update(build_id="h9") or p)
_no_build_id = _provenance(lambda p: p.pop("build_id") and p)


def _missing_file(bundle: Path, build_root: Path) -> None:
    (build_root / S / "h1" / "strategy.so").unlink()


def _sha_mismatch(bundle: Path, build_root: Path) -> None:
    (build_root / S / "h1" / "strategy.so").write_bytes(b"\x7fELF rebuilt after the test run")


PLANTED: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "no-scorecard": (_no_scorecard, r"scorecard\.json does not exist"),
    "not-json": (_not_json, r"scorecard\.json is not JSON"),
    "not-an-object": (_not_an_object, r"scorecard\.json: a scorecard is a JSON object"),
    "no-provenance": (_no_provenance, r"scorecard\.json: no provenance"),
    "no-plugin": (_no_plugin, r"scorecard\.json: provenance names no tested plugin"),
    "other-build": (_other_build, r"provenance\.build_id is 'h9', the registry's version is 'h1'"),
    "no-build-id": (_no_build_id, r"provenance\.build_id is None, the registry's version is 'h1'"),
    "missing-file": (_missing_file, r"the tested plugin of h1 is gone: .*strategy\.so"),
    "sha-mismatch": (_sha_mismatch, r"strategy\.so changed since it was tested: SHA-256 "
                                    r"[0-9a-f]{64}, the scorecard .* recorded [0-9a-f]{64}"),
}


@pytest.mark.parametrize(("plant", "message"), PLANTED.values(), ids=PLANTED.keys())
def test_each_defect_is_refused_by_both_deployers_with_the_same_message(
        tmp_path: Path, plant: Callable[[Path, Path], None], message: str) -> None:
    bundle = make_bundle(tmp_path, S, "h1")
    plant(bundle, tmp_path / "build")
    with pytest.raises(UserInputError, match=message) as local:
        resolve_plugin(bundle, tmp_path / "build", "h1")
    with pytest.raises(UserInputError, match=message) as k8s:
        plugin_from_bundle(T(S, "h1", str(bundle)), tmp_path / "build")
    assert str(local.value) == str(k8s.value)


def test_a_relative_plugin_without_a_build_root_is_refused(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, S, "h1")
    with pytest.raises(UserInputError, match=r"relative to the workspace build root"):
        resolve_plugin(bundle, None, "h1")
