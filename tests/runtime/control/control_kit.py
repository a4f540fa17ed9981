"""Test kit of the control plane's tests: bundles of this suite's own specs (never an example
spec's numbers) with a plugin file and a scorecard naming it."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "generator" / "render"))
import userspecs as u  # noqa: E402


def make_bundle(root: Path, strategy: str, build_id: str, plugin_bytes: bytes | None = None,
                build_root: Path | None = None) -> Path:
    """A registry bundle: spec.yaml, params.txt and a scorecard naming the tested plugin
    (``<build_root>/<strategy>/<build_id>/strategy.so``, written here)."""
    bundle = root / "bundles" / strategy / build_id
    if (bundle / "scorecard.json").is_file():
        return bundle
    bundle.mkdir(parents=True)
    d = u.spec_dict(strategy, "momentum", {"fast_window": 4, "slow_window": 17, "order_qty": 3,
                                           "sides": "both"})
    (bundle / "spec.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    (bundle / "params.txt").write_text("fast_window=4\nslow_window=17\n")
    build_root = build_root or root / "build"
    so = build_root / strategy / build_id / "strategy.so"
    so.parent.mkdir(parents=True)
    so.write_bytes(plugin_bytes or f"plugin {strategy} {build_id}".encode())
    (bundle / "scorecard.json").write_text(json.dumps({"verdict": "PASS", "provenance": {
        "build_id": build_id, "plugin": f"{strategy}/{build_id}/strategy.so",
        "plugin_sha256": hashlib.sha256(so.read_bytes()).hexdigest()}}))
    return bundle
