"""Shared test helpers: repository paths, the optional shared data folder, and the rule that a
test needing ../shared skips before anything else of it runs."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from resource_kit import REPO, SHARED_DATA, missing, shared_path  # noqa: E402

#: fixtures that read ../shared: a test using one must carry the ``shared_data`` marker
SHARED_FIXTURES = frozenset({"shared", "shared_data", "shared_bars"})


def pytest_configure(config: pytest.Config) -> None:
    """Builds register their versions (ci/register.py): the tests' go into a registry of this
    run, never the user's (``~/.local/share/stratforge``), also from CLI subprocesses."""
    home = Path(tempfile.mkdtemp(prefix="stratforge-test-registry-"))
    os.environ["STRATFORGE_DB_URL"] = f"sqlite:///{home / 'registry.db'}"
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    for name in ("STRATFORGE_USER", "STRATFORGE_TOKEN"):
        os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """``shared_data`` tests skip here, before any fixture or line of the test runs."""
    marked = item.get_closest_marker("shared_data") is not None
    uses = SHARED_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if uses and not marked:
        pytest.fail(f"{item.nodeid} uses {', '.join(sorted(uses))} but is not marked "
                    "@pytest.mark.shared_data", pytrace=False)
    if marked and not SHARED_DATA.is_dir():
        missing("shared_data")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared market-data folder (the ``shared_data`` marker skips when it is absent)."""
    if not SHARED_DATA.is_dir():
        missing("shared_data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared():
    """``shared(*parts)``: a path under ../shared/data; skips when that file is absent."""
    return shared_path
