"""Optional resources of the test suite: where they are, how to get them, and one way to skip.

A test that cannot run without something outside the repository (the real data in ../shared,
a C++ compiler, the bubblewrap sandbox, Chromium, a Docker engine, a cluster, the bundled model)
calls :func:`missing` (or relies on the ``shared_data`` marker, which the root conftest turns into
a skip before any fixture runs). The skip message names the resource and how to get it.

CI lists the resources its machine must have in ``STRATFORGE_TEST_REQUIRE`` (comma-separated
names, or ``all``): for those, a missing resource fails the test instead of skipping it, so a
green CI cannot hide a test that quietly stopped running.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

#: resource -> how to get it
HOW_TO_GET = {
    "shared_data": "the project's shared/ folder beside the repository (../shared/data)",
    "compiler": "a C++20 compiler: `apt-get install build-essential` (scripts/setup.sh does it)",
    "sandbox": "bubblewrap with user namespaces: `apt-get install bubblewrap` "
               "(scripts/setup.sh does it)",
    "chromium": "headless Chromium: `apt-get install chromium` (scripts/setup.sh dev does it)",
    "docker": "a reachable Docker engine (DOCKER_HOST or /var/run/docker.sock)",
    "k8s": "a kubeconfig and a cluster (KUBECONFIG), and `pip install '.[k8s]'`",
    "postgresql": "a PostgreSQL database the registry tests may wipe, named by "
                  "STRATFORGE_TEST_PG_URL (.ci/run starts one from Debian's postgresql)",
    "llm": "the bundled model: `stratforge model install 0.5b` and "
           "`pip install '.[local-llm]'` (docs/llm.md)",
    "transformers": "transformers and torch: `pip install '.[transformers]'` (docs/llm.md)",
}


def required() -> set[str]:
    """Resources that must be present here (``STRATFORGE_TEST_REQUIRE``)."""
    names = {n.strip() for n in os.environ.get("STRATFORGE_TEST_REQUIRE", "").split(",")}
    names.discard("")
    return set(HOW_TO_GET) if "all" in names else names


def missing(resource: str, detail: str = "") -> NoReturn:
    """Skip the calling test for want of ``resource`` (fail when CI requires it)."""
    if resource not in HOW_TO_GET:
        raise ValueError(f"unknown test resource {resource!r}; add it to HOW_TO_GET")
    what = f"needs {resource}" + (f" ({detail})" if detail else "") + f": {HOW_TO_GET[resource]}"
    if resource in required():
        pytest.fail(f"{what} — required here by STRATFORGE_TEST_REQUIRE", pytrace=False)
    pytest.skip(what)


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skips (or fails when required) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        missing("shared_data", f"{'/'.join(parts)} is not there")
    return path
