"""The suite's rules for optional resources, run on planted tests in a throw-away project that
carries the real tests/conftest.py and tests/resource_kit.py (and no ../shared beside it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

PLANTED = '''
import pytest

from resource_kit import missing

touched = []


@pytest.fixture
def costly():
    touched.append("fixture")
    raise AssertionError("a fixture of a shared-data test ran before the skip")


@pytest.mark.shared_data
def test_marked(costly, shared):
    raise AssertionError("the body of a shared-data test ran without ../shared")


def test_unmarked_uses_shared(shared):
    pass


def test_needs_chromium():
    missing("chromium", "to take a screenshot")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    tests = pytester.mkdir("tests")
    for name in ("conftest.py", "resource_kit.py"):
        shutil.copy(TESTS / name, tests / name)
    (tests / "test_planted.py").write_text(PLANTED)
    assert not (pytester.path.parent / "shared" / "data").exists()
    return pytester


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """test name -> its first outcome word on the verbose report lines (``path::name OUTCOME``)."""
    out: dict[str, str] = {}
    for line in result.outlines:
        if "::" not in line:
            continue
        name, _, rest = line.split("::", 1)[1].partition(" ")
        for word in ("PASSED", "FAILED", "SKIPPED", "ERROR"):
            if rest.startswith(word):
                out.setdefault(name, word)
    return out


def test_shared_data_skips_before_fixtures_and_body(project: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATFORGE_TEST_REQUIRE", raising=False)
    result = project.runpytest_subprocess("-v", "-rA", "-p", "no:cacheprovider", "tests")
    text = result.stdout.str()
    assert _outcomes(result)["test_marked"] == "SKIPPED", text
    assert "needs shared_data" in text and "../shared/data" in text
    assert "fixture of a shared-data test ran" not in text


def test_a_test_reading_shared_without_the_marker_fails(project: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATFORGE_TEST_REQUIRE", raising=False)
    result = project.runpytest_subprocess("-v", "-rA", "-p", "no:cacheprovider", "tests")
    assert _outcomes(result)["test_unmarked_uses_shared"] in ("FAILED", "ERROR")
    assert "is not marked @pytest.mark.shared_data" in result.stdout.str()


def test_skip_names_the_resource_and_how_to_get_it(project: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATFORGE_TEST_REQUIRE", raising=False)
    result = project.runpytest_subprocess("-v", "-rA", "-p", "no:cacheprovider", "tests")
    assert _outcomes(result)["test_needs_chromium"] == "SKIPPED"
    assert "needs chromium (to take a screenshot): headless Chromium: `apt-get install chromium`" \
        in result.stdout.str()


def test_required_resources_fail_instead_of_skipping(project: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATFORGE_TEST_REQUIRE", "shared_data,chromium")
    result = project.runpytest_subprocess("-v", "-rA", "-p", "no:cacheprovider", "tests")
    outcomes = _outcomes(result)
    assert outcomes["test_marked"] in ("FAILED", "ERROR"), result.stdout.str()
    assert outcomes["test_needs_chromium"] == "FAILED"
    assert "required here by STRATFORGE_TEST_REQUIRE" in result.stdout.str()
