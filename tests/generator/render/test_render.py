"""render_sources on the six example specs: determinism, regions, compile, generated tests, parity.

The C++ work (6 plugins, 6 generated test programs, 1 parity harness) is done once per session
by the ``built`` fixture, two compiler processes at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resource_kit import missing

from stratforge.generator.render import (MARKER, OUTPUT_FILES, REGIONS, TEMPLATE_VERSION, RegionCode, RegionError,
                                         render_context, render_sources, template_files, templates_hash)
from stratforge.core.spec import load_spec
from stratforge.runtime.twin import Instrument, create, encode_tape_text, replay, simulate

from stratforge.runtime.twin import market

import stratforge.sandbox as _sandbox

HARNESS_SRC = Path(_sandbox.__file__).resolve().parent / "harness" / "parity_harness.cpp"
from .cxx import CXX, CXXFLAGS, ENGINE_INCLUDE, REPO, needs_cxx

SPECS = sorted(p.stem for p in (REPO / "specs").glob("*.yaml"))
HERE = Path(__file__).resolve().parent


def _loaded(name: str):
    return load_spec(REPO / "specs" / f"{name}.yaml")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_six_examples_cover_every_type():
    assert len(SPECS) == 6
    assert {render_context(_loaded(s), build_id="x").type for s in SPECS} == set(REGIONS)


@pytest.mark.parametrize("name", SPECS)
def test_render_is_deterministic_and_complete(name):
    a = render_sources(_loaded(name), build_id="b1")
    b = render_sources(_loaded(name), build_id="b1")
    assert a == b and list(a) == sorted(a)
    assert set(OUTPUT_FILES) | {"params.txt", "tests/scenario.tape"} == set(a)
    for rel, text in a.items():
        assert str(REPO) not in text, f"{rel} contains an absolute path of this machine"
        assert text.endswith("\n")
    assert '// b1, spec' in a["cpp/strategy.cpp"] and _loaded(name).hash in a["cpp/strategy.cpp"]
    assert render_sources(_loaded(name), build_id="b2")["cpp/strategy.cpp"] != a["cpp/strategy.cpp"]


def test_template_identity():
    files = template_files()
    assert "cpp/strategy.cpp.j2" in files and "python/strategy.py.j2" in files and "tests/test_strategy.cpp.j2" in files
    h = templates_hash()
    assert len(h) == 64 and h == templates_hash()
    assert TEMPLATE_VERSION.count(".") == 2


def test_region_substitution_only_inside_regions():
    loaded = _loaded("spy-vwap-reversion")
    base = render_sources(loaded, build_id="x")
    code = RegionCode(cpp="if (pos > 100) { r.entry_long = false; }", python="if pos > 100:\n    r.entry_long = False")
    new = render_sources(loaded, build_id="x", regions={"custom_logic": code})
    cpp, py = new["cpp/strategy.cpp"], new["python/strategy.py"]
    assert "    if (pos > 100) { r.entry_long = false; }\n" in cpp
    assert "        if pos > 100:\n            r.entry_long = False\n" in py
    # everything outside the region is unchanged
    for rel in ("cpp/strategy.cpp", "python/strategy.py"):
        strip = lambda t: t.split(f"{MARKER} custom_logic")[0] + t.split(f"{MARKER} custom_logic")[2]  # noqa: E731
        assert strip(new[rel]) == strip(base[rel])
    compile(py, "strategy.py", "exec")


@pytest.mark.parametrize("cpp, python, fragment", [
    ("}\n// <<< stratforge:region custom_logic\nvoid evil() {", "pass", "marker"),
    ("r.entry_long = true; } void evil() { ", "pass", "closes"),
    ("}", "pass", "closes"),
    ("{", "pass", "open"),
    ("#define pos 0", "pass", "preprocessor"),
    ('const char* s = "}";  /* } */ r.entry_long = true; }', "pass", "closes"),
    ("r.entry_long = true;", "# >>> stratforge:region entry_exit", "marker"),
    ("r.entry_long = true;", "def (:", "parse"),
    ("/* unterminated", "pass", "unterminated"),
])
def test_region_injection_is_refused(cpp, python, fragment):
    with pytest.raises(RegionError, match=fragment):
        render_sources(_loaded("spy-vwap-reversion"), build_id="x", regions={"custom_logic": RegionCode(cpp, python)})


def test_unknown_region_is_refused():
    with pytest.raises(RegionError, match="unknown region"):
        render_sources(_loaded("btc-perp-avellaneda"), build_id="x", regions={"entry_exit": RegionCode("", "")})


def test_braces_inside_literals_and_comments_are_fine():
    code = RegionCode(cpp='// a } in a comment\nconst char* s = "{"; (void)s;', python="s = '}'")
    files = render_sources(_loaded("spy-vwap-reversion"), build_id="x", regions={"custom_logic": code})
    assert 'const char* s = "{"; (void)s;' in files["cpp/strategy.cpp"]


# ------------------------------------------------------------------------------------------------
# compiled


def _identity(name: str) -> list[str]:
    """The build sets the plugin's identity, as the pipeline does."""
    return [f'-DSF_BUILD_ID="test"', f'-DSF_SPEC_HASH="{_loaded(name).hash}"']


def _cmd(src: list[Path], out: Path, *, shared: bool, includes: list[Path],
         extra: list[str] = ()) -> list[str]:
    cmd = [str(CXX), *CXXFLAGS, "-I", str(ENGINE_INCLUDE), *extra]
    for inc in includes:
        cmd += ["-I", str(inc)]
    if shared:
        cmd += ["-fPIC", "-shared"]
    return cmd + [str(s) for s in src] + ["-o", str(out)] + ([] if shared else ["-ldl"])


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every example rendered into a bundle folder, its plugin and C++ test compiled, plus the harness."""
    if CXX is None:
        missing("compiler")
    root = tmp_path_factory.mktemp("bundles")
    jobs: list[list[str]] = []
    for name in SPECS:
        b = root / name
        _write(b, render_sources(_loaded(name), build_id="test"))
        jobs.append(_cmd([b / "cpp" / "strategy.cpp"], b / "plugin.so", shared=True, includes=[],
                         extra=_identity(name)))
        jobs.append(_cmd([b / "cpp" / "test_strategy.cpp"], b / "test_strategy", shared=False,
                         includes=[b / "cpp"], extra=_identity(name)))
    jobs.append(_cmd([HARNESS_SRC], root / "parity_harness", shared=False, includes=[]))
    running: list[tuple[list[str], subprocess.Popen]] = []
    errors = []
    for cmd in jobs + [None, None]:
        if cmd is not None:
            running.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        if len(running) >= 2 or cmd is None:
            if not running:
                continue
            c, p = running.pop(0)
            _, err = p.communicate()
            if p.returncode != 0:
                errors.append(f"{' '.join(c)}\n{err[-4000:]}")
    return root, errors


@needs_cxx
@pytest.mark.slow
def test_plugins_and_cpp_tests_compile_with_werror(built):
    root, errors = built
    assert not errors, "\n\n".join(errors)
    for name in SPECS:
        assert (root / name / "plugin.so").is_file() and (root / name / "test_strategy").is_file()


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_generated_cpp_test_passes(built, name):
    root, errors = built
    assert not errors, "\n\n".join(errors)
    b = root / name
    res = subprocess.run([str(b / "test_strategy"), str(b / "tests" / "scenario.tape"), str(b / "params.txt")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_cxx
@pytest.mark.slow
def test_generated_python_tests_pass(built):
    root, _ = built
    files = [str(root / name / "tests" / "test_strategy.py") for name in SPECS]
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                          *files], capture_output=True, text=True, timeout=300, cwd=root)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert f"{4 * len(SPECS)} passed" in res.stdout


def _market(name: str, ctx) -> list[dict]:
    seed = sum(name.encode())
    if ctx.data == "bars":
        i = ctx.instruments[0]
        return market.bars(seed, 600, i["tick_size_e9"], i["lot_size_e9"])
    starts = [10 ** 9 // i["tick_size_e9"] * 100 for i in ctx.instruments]  # ~100 quote units
    if ctx.type == "stat_arb":
        return market.books(seed, 7000, starts, trades=False)
    return market.books(seed, 3000, starts)


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_cpp_plugin_and_python_twin_make_identical_decisions(built, name):
    root, errors = built
    assert not errors, "\n\n".join(errors)
    b = root / name
    loaded = _loaded(name)
    ctx = render_context(loaded, build_id="test")
    insts = [Instrument(i, x["symbol"], x["tick_size_e9"], x["lot_size_e9"]) for i, x in enumerate(ctx.instruments)]
    mod = _load_module(b / "python" / "strategy.py", name)
    params = (b / "params.txt").read_text()
    # closed loop in Python (toy venue) -> a complete callback tape
    tape, py_decisions = simulate(create(mod.STRATEGY, params, insts), _market(name, ctx), len(insts))
    assert any(d["op"] == "submit" for d in py_decisions), "the parity run never trades: it would prove nothing"
    # the same tape, open loop, through the Python twin again and through the C++ plugin
    assert replay(create(mod.STRATEGY, params, insts), tape) == py_decisions
    args = [str(root / "parity_harness"), str(b / "plugin.so"), str(b / "params.txt"), str(len(insts))]
    for x in ctx.instruments:
        args += [x["symbol"], str(x["tick_size_e9"]), str(x["lot_size_e9"])]
    res = subprocess.run(args, input=encode_tape_text(tape), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    cpp_decisions = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(cpp_decisions) == len(py_decisions)
    for c, p in zip(cpp_decisions, py_decisions):
        assert c == p, f"first divergence: C++ {c} vs Python {p}"


def _load_module(path: Path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"parity_{name.replace('-', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
