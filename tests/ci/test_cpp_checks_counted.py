"""The generated C++ test reports each check on its own line, and the build counts them by name
(old: `_cpp_suite` reported the whole binary as exactly one pass or one fail, so a scorecard could
not say which check failed, or that eight ran)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resource_kit import missing

from stratforge.ci.build import cpp_suite
from stratforge.generator.render import render_sources
from stratforge.sandbox import LocalBackend
from stratforge.sandbox.runners import compile_plugin, run_cpp_test

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generator" / "render"))
import userspecs as u  # noqa: E402

#: The checks templates/tests/test_strategy.cpp.j2 makes, in order.
CHECKS = ["abi_version", "strategy_name", "spec_hash", "create", "unknown_parameter_refused",
          "callbacks_return_ok", "documented_behaviour_expects_something",
          "documented_behaviour_in_order"]


def test_lines_are_counted_per_check_and_failures_named():
    out = ("sf-check pass abi_version\nsf-check fail spec_hash: the plugin's spec hash is not the "
           "spec's\nnoise\nsf-check pass create\n")
    suite = cpp_suite(out, ok=False, what="exit 1")
    assert (suite.passed, suite.failed) == (2, 1)
    assert suite.failures == ("spec_hash: the plugin's spec hash is not the spec's",)


def test_a_run_that_dies_without_a_failing_line_is_one_named_failure():
    suite = cpp_suite("sf-check pass abi_version\n", ok=False, what="test_strategy: TIMEOUT")
    assert (suite.passed, suite.failed, suite.failures) == (1, 1, ("test_strategy: TIMEOUT",))
    assert cpp_suite("", ok=False, what="does not compile").failures == ("does not compile",)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The generated C++ test of a spec written for this test, compiled in the sandbox."""
    backend = LocalBackend()
    ok, why = backend.available()
    if not ok:
        missing("sandbox", why)
    root = tmp_path_factory.mktemp("cppchecks")
    d = u.spec_dict("cpp-check-count", "momentum",
                    {"fast_window": 4, "slow_window": 19, "order_qty": 10, "sides": "both"})
    loaded = u.write_spec(root, d)
    bundle = root / "bundle"
    for rel, text in render_sources(loaded, build_id="t1").items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(text)
    build = root / "build"
    build.mkdir()
    comp = compile_plugin(backend, bundle / "cpp", build, build_id="t1", spec_hash=loaded.hash,
                          source="test_strategy.cpp", output="test_strategy", shared=False)
    assert comp.artifact is not None, comp.result.stderr.decode()[-2000:]
    return backend, bundle, build


def _run(compiled, tape: str, params: str | None = None):
    backend, bundle, build = compiled
    data = build / f"data-{abs(hash((tape, params)))}"
    data.mkdir()
    (data / "scenario.tape").write_text(tape)
    (data / "params.txt").write_text(params if params is not None
                                     else (bundle / "params.txt").read_text())
    res = run_cpp_test(backend, build, "test_strategy", ("/data/scenario.tape", "/data/params.txt"),
                       data=data)
    return res, cpp_suite(res.stdout.decode(), res.ok, f"exit {res.exit_code}")


@pytest.mark.slow
def test_the_generated_test_passes_every_check_by_name(compiled):
    res, suite = _run(compiled, (compiled[1] / "tests" / "scenario.tape").read_text())
    assert res.ok, res.stderr.decode()
    assert (suite.passed, suite.failed) == (len(CHECKS), 0)
    assert [line.split()[2] for line in res.stdout.decode().splitlines()
            if line.startswith("sf-check")] == CHECKS


@pytest.mark.slow
def test_a_planted_failing_check_is_named(compiled):
    """An empty tape: the strategy sees no market, so the documented decisions never come."""
    res, suite = _run(compiled, "")
    assert not res.ok
    assert suite.failed == 1 and suite.passed == len(CHECKS) - 1
    assert suite.failures[0].startswith("documented_behaviour_in_order: 0 of ")


@pytest.mark.slow
def test_parameters_the_plugin_refuses_fail_the_create_check(compiled):
    res, suite = _run(compiled, (compiled[1] / "tests" / "scenario.tape").read_text(),
                      params="fast_window=oops\n")
    assert not res.ok
    assert [f.split(":")[0] for f in suite.failures] == ["create"]
