"""Every shell command in README.md and docs/*.md runs, block by block, and does what the doc says
(tests/docs/doc_kit.py describes the markers). The docs cannot rot without this failing."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

import doc_kit
from doc_kit import REPO, Block, DocTestError

#: resources whose pytest marker a block with ``needs=`` carries
RESOURCE_MARKS = {"docker": pytest.mark.docker, "k8s": pytest.mark.k8s, "llm": pytest.mark.llm,
                  "shared_data": pytest.mark.shared_data}


def _all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for page in doc_kit.doc_pages():
        try:
            blocks.extend(doc_kit.collect(page))
        except DocTestError:
            continue  # test_every_page_reads reports it
    return blocks


BLOCKS = _all_blocks()


def _param(block: Block):
    marks = []
    if "slow" in block.options:
        marks.append(pytest.mark.slow)
    need = block.options.get("needs")
    if need in RESOURCE_MARKS:
        marks.append(RESOURCE_MARKS[need])
    return pytest.param(block, id=block.where, marks=marks)


@pytest.mark.parametrize("page", doc_kit.doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_page_reads(page: Path) -> None:
    """Markers parse, every marker sits on a shell block, no untagged fence hides commands."""
    doc_kit.collect(page)


def test_the_docs_have_commands() -> None:
    assert len(BLOCKS) >= 15, [b.where for b in BLOCKS]
    assert {b.path.name for b in BLOCKS} >= {"README.md", "ci.md", "dashboard.md", "replay.md"}


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS if "covered-by" not in b.options])
def test_doc_block_runs(block: Block) -> None:
    if "needs" in block.options:
        doc_kit.require(block.options["needs"])
    workspace = doc_kit.make_workspace()
    try:
        outcome = doc_kit.run_block(block, workspace)
        problem = doc_kit.check(block, outcome)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    assert problem is None, problem


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in BLOCKS
                                   if "covered-by" in b.options])
def test_covered_block_is_run_by_ci(block: Block) -> None:
    """``covered-by=.ci/run``: each command is one that .ci/run (or scripts/test.sh, which it runs)
    really runs."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci
    for command in doc_kit.command_lines(block):
        assert command in doc_kit.COVERED, (
            f"{block.where}: {command!r} is not run by .ci/run: give the block a marker that runs "
            "it, or add where .ci/run runs it to doc_kit.COVERED")
        script, evidence = doc_kit.COVERED[command]
        text = (REPO / script).read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert evidence in code, f"{block.where}: {script} no longer runs {command!r}"



def _extra(name: str) -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"][name]


@pytest.mark.parametrize("page, extra", [("benchmarks.md", "bench"), ("llm.md", "local-llm")])
def test_pip_lines_install_the_extras_packages(page: str, extra: str) -> None:
    """Where a doc installs an extra's packages by name (a checkout's `.[extra]` would reinstall
    stratforge itself into the tested environment), the names are the extra's, exactly."""
    wanted = sorted(_extra(extra))
    found = []
    for block in doc_kit.collect(REPO / "docs" / page):
        for line in doc_kit.command_lines(block):
            if line.startswith("pip install ") or " pip install " in line:
                found.append(sorted(re.findall(r"'([^']+)'", line.split("pip install", 1)[1])))
    assert wanted in found, f"docs/{page}: no `pip install` of {wanted}; found {found}"


def test_readme_links_every_doc_page() -> None:
    """Every page of docs/ is in README's docs list, and every docs/ link there exists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", readme))
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert pages - linked == set(), f"README.md does not link: {sorted(pages - linked)}"
    assert linked - pages == set(), f"README.md links missing pages: {sorted(linked - pages)}"


@pytest.mark.parametrize("page", ["security.md", "promotion.md", "sandbox.md"])
def test_the_tests_a_page_names_exist(page: str) -> None:
    """The security and promotion pages prove their claims by naming tests: every test file they
    name exists, and every test function they name is defined in one of those files."""
    text = (REPO / "docs" / page).read_text(encoding="utf-8")
    files = sorted(set(re.findall(r"(?<![\w/])(tests/[\w/.-]+\.py)", text)))
    assert files, f"docs/{page} names no test file"
    missing_files = [f for f in files if not (REPO / f).is_file()]
    assert missing_files == [], f"docs/{page} names missing test files: {missing_files}"
    sources = "\n".join((REPO / f).read_text(encoding="utf-8") for f in files)
    names = set(re.findall(r"`(test_\w+)`", text))
    undefined = sorted(n for n in names if not re.search(rf"def {n}\(", sources))
    assert undefined == [], f"docs/{page} names tests that do not exist: {undefined}"
