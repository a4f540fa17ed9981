"""The Kubernetes deployer's tests: kube_kit (an API server double at the client's HTTP boundary)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
