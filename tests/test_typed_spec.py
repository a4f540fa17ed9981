"""Every ``spec`` / ``loaded`` parameter of the installed packages names its type (issue 11).

A function parameter called ``spec`` or ``loaded`` is annotated with what it really is:
``StrategySpec`` (the model), ``LoadedSpec`` (the model plus its file, text and hash), or
``SpecLike`` (``stratforge.core.spec``) where a function deliberately accepts either and normalises
it with ``as_strategy_spec`` / ``as_loaded_spec``. A missing annotation, or one that says nothing
(``Any``, ``object``), fails here with ``file:line``.

The scan is over the source (``ast``) of every package pyproject.toml installs
(``[tool.scikit-build.wheel.packages]``), so it needs no import and sees functions nested in
classes and other functions. Each kind of violation is planted in a scratch tree and must be caught.
Lambdas cannot carry annotations and are not checked.
"""

from __future__ import annotations

import ast
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratforge.ci.crosscheck import crosscheck_spec
from stratforge.ci.crosscheck.warmup import warmup_plan
from stratforge.core.spec import (LoadedSpec, SpecLike, StrategySpec, as_loaded_spec, as_strategy_spec,
                                  load_spec)

REPO = Path(__file__).resolve().parents[1]
#: parameter names that carry a strategy spec in this project
SPEC_PARAMS = frozenset({"spec", "loaded"})
#: annotations that name no type: as good as none
VAGUE = frozenset({"Any", "object"})


@dataclass(frozen=True)
class Untyped:
    file: Path
    line: int
    function: str
    param: str
    annotation: str | None  # None: no annotation at all

    def __str__(self) -> str:
        what = "no annotation" if self.annotation is None else f"vague annotation {self.annotation!r}"
        return f"{self.file}:{self.line}: {self.function}({self.param}): {what}"


def package_folders(repo: Path = REPO) -> dict[str, Path]:
    """``stratforge.<component>`` -> source folder, as pyproject.toml installs them."""
    doc = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    packages = doc["tool"]["scikit-build"]["wheel"]["packages"]
    return {name.replace("/", "."): repo / folder for name, folder in packages.items()}


def source_files(folders: dict[str, Path]) -> list[Path]:
    """Every ``.py`` file below the folders (build trees, caches and hidden folders skipped)."""
    files: set[Path] = set()
    for folder in folders.values():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder)
            if any(part.startswith(".") or part in {"build", "__pycache__"} for part in rel.parts):
                continue
            files.add(path)
    return sorted(files)


def _annotation_expr(node: ast.expr) -> ast.expr:
    """A string annotation (``'StrategySpec'``) parsed into the expression it names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ast.parse(node.value, mode="eval").body
    return node


def _vague(node: ast.expr) -> bool:
    """True when the annotation is or contains ``Any`` / ``object`` (``Any | None`` included)."""
    for sub in ast.walk(_annotation_expr(node)):
        if isinstance(sub, ast.Name) and sub.id in VAGUE:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in VAGUE:
            return True
    return False


def spec_params(path: Path) -> tuple[list[Untyped], int]:
    """(untyped ``spec``/``loaded`` parameters of ``path``'s functions, typed ones counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bad: list[Untyped] = []
    typed = 0
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        a = node.args
        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if arg is None or arg.arg not in SPEC_PARAMS:
                continue
            if arg.annotation is None:
                bad.append(Untyped(path, arg.lineno, node.name, arg.arg, None))
            elif _vague(arg.annotation):
                bad.append(Untyped(path, arg.lineno, node.name, arg.arg, ast.unparse(arg.annotation)))
            else:
                typed += 1
    return bad, typed


def scan(folders: dict[str, Path]) -> tuple[list[Untyped], int]:
    bad: list[Untyped] = []
    typed = 0
    for path in source_files(folders):
        b, t = spec_params(path)
        bad += b
        typed += t
    return bad, typed


# -- the real tree -------------------------------------------------------------------------------

def check_typed(folders: dict[str, Path]) -> int:
    """Raise AssertionError listing every untyped ``spec``/``loaded`` parameter; the typed count."""
    bad, typed = scan(folders)
    assert not bad, ("annotate these with StrategySpec, LoadedSpec or SpecLike (stratforge.core.spec):\n"
                     + "\n".join(map(str, bad)))
    return typed


def test_every_spec_parameter_of_the_packages_names_its_type():
    folders = package_folders()
    assert {"stratforge.core", "stratforge.runtime", "stratforge.generator", "stratforge.sandbox",
            "stratforge.ci", "stratforge.registry", "stratforge"} <= set(folders)
    typed = check_typed(folders)
    # the walk really reached the code: the project has dozens of typed spec parameters
    assert typed >= 60, f"only {typed} typed spec/loaded parameters found: the scan missed the packages"


# -- planted violations --------------------------------------------------------------------------

PLANTED = '''\
from typing import Any
import typing


def plain(spec):  # BAD
    return spec


async def asynchronous(x, *, loaded=None):  # BAD
    return loaded


class Holder:
    def method(self, spec, other: int) -> None:  # BAD
        def inner(loaded):  # BAD
            return loaded
        return None

    @staticmethod
    def typed(spec: "StrategySpec") -> None:
        return None


def anything(spec: Any) -> None:  # BAD
    return None


def anything_or_none(spec: "typing.Any | None" = None) -> None:  # BAD
    return None


def obj(loaded: object) -> None:  # BAD
    return None


def fine(spec: StrategySpec, loaded: LoadedSpec, either: SpecLike, specs: list) -> None:
    return None


def optional_ok(spec: StrategySpec | None = None, *, loaded: "LoadedSpec | None" = None) -> None:
    return None


def other_names(spec_path, loaded_at):
    return (lambda spec: spec)(spec_path)
'''


def _planted_tree(tmp_path: Path) -> dict[str, Path]:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text(PLANTED)
    (pkg / "build").mkdir()
    (pkg / "build" / "generated.py").write_text("def skipped(spec):\n    return spec\n")
    return {"stratforge.pkg": pkg}


def test_planted_untyped_parameters_are_caught(tmp_path):
    bad, typed = scan(_planted_tree(tmp_path))
    mod = tmp_path / "pkg" / "sub" / "mod.py"
    lines = PLANTED.splitlines()
    expected = {(i, text.split("def ", 1)[1].split("(", 1)[0]) for i, text in enumerate(lines, 1)
                if "# BAD" in text}
    assert {(b.line, b.function) for b in bad} == expected
    assert {b.function for b in bad} == {"plain", "asynchronous", "method", "inner", "anything",
                                         "anything_or_none", "obj"}
    assert all(b.file == mod for b in bad)  # build/ is skipped
    by_function = {b.function: b for b in bad}
    assert by_function["plain"].annotation is None
    assert by_function["anything"].annotation == "Any"
    assert by_function["anything_or_none"].annotation == "'typing.Any | None'"
    assert by_function["obj"].annotation == "object"
    assert str(by_function["asynchronous"]) == f"{mod}:9: asynchronous(loaded): no annotation"
    # typed: Holder.typed, fine (spec, loaded), optional_ok (spec, loaded)
    assert typed == 5


def test_a_planted_violation_fails_the_real_check(tmp_path):
    """The check the real tree passes fails, naming file:line, once a package gains a violation."""
    with pytest.raises(AssertionError) as err:
        check_typed({**package_folders(), **_planted_tree(tmp_path)})
    text = str(err.value)
    assert f"{tmp_path / 'pkg' / 'sub' / 'mod.py'}:5: plain(spec): no annotation" in text
    assert str(REPO) not in text.replace(str(tmp_path), "")  # only the planted file is named


# -- the alias and its two normalisers -----------------------------------------------------------

SPEC_YAML = textwrap.dedent("""\
    apiVersion: stratforge/v1
    kind: Strategy
    metadata: {name: typed-alias-check, owner: typing-tests, description: a momentum spec of this test}
    strategy:
      type: momentum
      instruments: [{symbol: QQW, venue: xtest, tick_size: "0.02", lot_size: "1", quote_currency: CHF}]
      params: {fast_window: 6, slow_window: 29, order_qty: 4, sides: both}
    risk: {max_order_qty: 12, max_position: 24, max_order_notional: 40000, max_open_orders: 2,
           max_orders_per_second: 5, price_band_bps: 600, max_loss: 3000, max_drawdown: 2500}
    latency: {callback_p50_ns: 900, callback_p99_ns: 9000, tick_to_order_p99_ns: 15000}
    backtest:
      data: {kind: synthetic, profile: bars, events: 500, seed: 2718, start: "2015-09-14T20:00:00Z",
             start_price: 61, volatility_annual: 0.3}
      period: {out_of_sample_fraction: 0.25}
      fees: {maker_bps: 0.4, taker_bps: 0.8}
      latency: {model: constant, feed_ns: 0, order_ns: 0}
      queue: {model: back_of_queue}
      initial_capital: 55000
    gates: {min_sharpe: 0.1, max_drawdown_pct: 30, min_trades: 2, max_callback_p99_ns: 9000,
            shadow: {min_duration_s: 1800, min_fills: 2, max_pnl_deviation_pct: 70,
                     max_fill_ratio_deviation_pct: 35}}
    """)


@pytest.fixture
def loaded(tmp_path) -> LoadedSpec:
    path = tmp_path / "typed-alias-check.yaml"
    path.write_text(SPEC_YAML, encoding="utf-8")
    return load_spec(path)


def test_as_strategy_spec_takes_either_form(loaded):
    either: list[SpecLike] = [loaded, loaded.spec]
    assert all(as_strategy_spec(s) is loaded.spec for s in either)
    assert isinstance(as_strategy_spec(loaded), StrategySpec)


def test_as_loaded_spec_gives_a_model_its_file_identity(loaded):
    assert as_loaded_spec(loaded) is loaded
    from_model = as_loaded_spec(loaded.spec)
    assert isinstance(from_model, LoadedSpec)
    assert from_model.spec is loaded.spec
    assert from_model.hash == loaded.hash  # the hash the file loads to, not a placeholder
    assert from_model.text == "" and from_model.source == "<model>"
    changed = loaded.spec.model_copy(update={"metadata": loaded.spec.metadata.model_copy(
        update={"owner": "someone-else"})})
    assert as_loaded_spec(changed).hash != loaded.hash


def test_spec_like_functions_agree_on_both_forms(loaded):
    """The functions typed ``SpecLike`` give the same answer for the model and the loaded file."""
    assert warmup_plan(loaded) == warmup_plan(loaded.spec)
    assert crosscheck_spec(loaded) == crosscheck_spec(loaded.spec)
    assert isinstance(crosscheck_spec(loaded), StrategySpec)
