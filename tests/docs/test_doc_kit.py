"""The doc-test kit catches rot: planted doc pages with broken commands, missing files, bad markers
and untagged command blocks."""

from __future__ import annotations

import shutil
import socket
import time
import textwrap
from pathlib import Path

import pytest

import doc_kit
from doc_kit import DocTestError


def page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(block: doc_kit.Block) -> tuple[str | None, doc_kit.Outcome, Path]:
    workspace = doc_kit.make_workspace()
    outcome = doc_kit.run_block(block, workspace)
    return doc_kit.check(block, outcome), outcome, workspace


@pytest.fixture
def cleanup():
    made: list[Path] = []
    yield made
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def test_a_failing_command_is_caught_with_its_place(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        # Title

        ```bash
        echo one
        false   # a command that fails
        echo never
        ```
        """))
    problem, outcome, ws = run(block)
    cleanup.append(ws)
    assert problem is not None and problem.startswith(f"{tmp_path / 'page.md'}:3: exit status 1")
    assert "one" in outcome.output and "never" not in outcome.output


def test_a_command_naming_a_missing_file_is_caught(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        ```sh
        stratforge validate specs/not-there.yaml
        ```
        """))
    problem, outcome, ws = run(block)
    cleanup.append(ws)
    assert problem is not None and "exit status" in problem
    assert "not-there.yaml" in outcome.output


def test_the_workspace_has_the_specs_and_the_fixtures(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        ```sh
        stratforge validate specs/my-strat.yaml
        test -d "$STRATFORGE_RUNTIME_DIR" && test "${STRATFORGE_DB_URL#sqlite:///$PWD}" != "$STRATFORGE_DB_URL"
        ```
        """))
    problem, outcome, ws = run(block)
    cleanup.append(ws)
    assert problem is None, problem


def test_a_block_without_a_marker_is_run(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        ```bash
        echo ran > proof.txt
        ```
        """))
    assert block.options == {}
    problem, _, ws = run(block)
    cleanup.append(ws)
    assert problem is None and (ws / "proof.txt").read_text() == "ran\n"


def test_an_unknown_marker_key_is_an_error(tmp_path):
    with pytest.raises(DocTestError, match=r"page.md:1: doctest marker: unknown key 'skip'"):
        doc_kit.collect(page(tmp_path, """\
            <!-- doctest: skip -->
            ```bash
            false
            ```
            """))


@pytest.mark.parametrize("marker, message", [
    ("cwd=elsewhere", "cwd must be repo or workspace"),
    ("expect-exit=one", "expect-exit must be a whole number"),
    ("needs=gpu", "needs='gpu' is not a test resource"),
    ("setup=nothing", "setup='nothing' is unknown"),
    ("covered-by=scripts/anything.sh", "only .ci/run may cover"),
    ("covered-by=.ci/run, slow", "covered-by stands alone"),
    ("slow=yes", "slow takes no value"),
])
def test_bad_marker_values_are_errors(tmp_path, marker, message):
    with pytest.raises(DocTestError, match=message):
        doc_kit.collect(page(tmp_path, f"<!-- doctest: {marker} -->\n```sh\ntrue\n```\n"))


def test_a_marker_must_sit_on_a_shell_block(tmp_path):
    with pytest.raises(DocTestError, match="not followed by a shell block"):
        doc_kit.collect(page(tmp_path, "<!-- doctest: slow -->\n```yaml\na: 1\n```\n"))
    with pytest.raises(DocTestError, match="not followed by a shell block"):
        doc_kit.collect(page(tmp_path, "<!-- doctest: slow -->\nSome prose.\n```sh\ntrue\n```\n"))


def test_an_untagged_block_of_commands_is_an_error(tmp_path):
    with pytest.raises(DocTestError, match=r"page.md:2: an untagged code block of commands"):
        doc_kit.collect(page(tmp_path, "x\n```\nstratforge validate specs/\n```\n"))
    # output, or a text synopsis, is fine
    assert doc_kit.collect(page(tmp_path, "```\nspecs/a.yaml:3:1 bad\n```\n"
                                          "```text\nstratforge validate PATH...\n```\n")) == []


def test_expect_exit(tmp_path, cleanup):
    blocks = doc_kit.collect(page(tmp_path, """\
        <!-- doctest: expect-exit=2 -->
        ```sh
        stratforge validate specs/not-there.yaml
        ```

        ```sh
        exit 3
        ```
        """))
    problem, _, ws = run(blocks[0])
    cleanup.append(ws)
    assert problem is None, problem
    problem, _, ws = run(blocks[1])
    cleanup.append(ws)
    assert "exit status 3, the doc expects 0" in problem


def test_console_prompts_continuations_and_heredocs(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        ```console
        $ echo first \\
        >   second > out.txt
        $ cat > note.txt <<'EOF'
        $ not a prompt inside a heredoc
        EOF
        $ cat out.txt
        first second
        this line is output, never run
        ```
        """))
    assert "output, never run" not in block.script
    problem, _, ws = run(block)
    cleanup.append(ws)
    assert problem is None, problem
    assert (ws / "out.txt").read_text() == "first second\n"
    assert (ws / "note.txt").read_text() == "$ not a prompt inside a heredoc\n"


def test_env_cwd_and_input(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        <!-- doctest: cwd=repo, env=GREETING=hello OTHER=2, input=typed\\nagain -->
        ```sh
        test -f pyproject.toml
        test "$GREETING$OTHER" = hello2
        read a; read b; test "$a $b" = "typed again"
        ```
        """))
    problem, _, ws = run(block)
    cleanup.append(ws)
    assert problem is None, problem


def test_a_timeout_is_caught_and_the_block_stopped(tmp_path, cleanup):
    (block,) = doc_kit.collect(page(tmp_path, """\
        <!-- doctest: timeout=2 -->
        ```sh
        sleep 60 &
        echo $! > bg.pid
        sleep 60
        ```
        """))
    problem, _, ws = run(block)
    cleanup.append(ws)
    assert "timed out after 2 s" in problem
    pid = int((ws / "bg.pid").read_text())

    def gone() -> bool:
        try:
            return "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return True

    # the signal is delivered asynchronously: on a busy machine the process may take a moment
    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), f"the block's background process {pid} is still running"


def test_a_server_block_passes_once_it_answers(tmp_path, cleanup):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    blocks = doc_kit.collect(page(tmp_path, f"""\
        <!-- doctest: serves=http://127.0.0.1:{port}/, timeout=30 -->
        ```sh
        python -m http.server --bind 127.0.0.1 {port}
        ```

        <!-- doctest: serves=http://127.0.0.1:{port}/, timeout=30 -->
        ```sh
        python -c 'raise SystemExit(4)'
        ```
        """))
    problem, _, ws = run(blocks[0])
    cleanup.append(ws)
    assert problem is None, problem
    problem, _, ws = run(blocks[1])
    cleanup.append(ws)
    assert f"exited 4 before http://127.0.0.1:{port}/ answered" in problem


def test_a_covered_command_must_be_one_ci_runs(tmp_path):
    (block,) = doc_kit.collect(page(tmp_path, """\
        <!-- doctest: covered-by=.ci/run -->
        ```bash
        bash scripts/test.sh     # a comment
        stratforge something-ci-never-runs
        ```
        """))
    lines = doc_kit.command_lines(block)
    assert lines == ["bash scripts/test.sh", "stratforge something-ci-never-runs"]
    assert lines[0] in doc_kit.COVERED and lines[1] not in doc_kit.COVERED
