"""control.json is written atomically: a SIGKILL at any checkpoint of a write leaves the old or
the new state, never a torn or empty file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stratforge.core.errors import UserInputError
from stratforge.runtime.control.state import (KILL_ENV, WRITE_CHECKPOINTS, ControlState, Instance,
                                              StateStore)

WRITER = """
import sys
from pathlib import Path
from stratforge.runtime.control.state import StateStore
store = StateStore(Path(sys.argv[1]))
def change(s):
    st = s.strategy("gamma-fade")
    st.live = "new-build"
    s.events_next = 77
store.update(change)
"""


def _old(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path)
    state = ControlState(http_port=9999)
    st = state.strategy("gamma-fade")
    st.live = "old-build"
    st.instances["old-build"] = Instance(build_id="old-build", role="live", plugin="/p.so",
                                         sha256="ab" * 32)
    store.save(state)
    return store


@pytest.mark.parametrize("checkpoint", WRITE_CHECKPOINTS)
def test_a_kill_at_each_checkpoint_leaves_the_old_or_the_new_state(tmp_path: Path,
                                                                   checkpoint: str) -> None:
    store = _old(tmp_path)
    proc = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)],
                          env={**os.environ, KILL_ENV: checkpoint}, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    state = store.load()  # parses: never torn
    live = state.strategies["gamma-fade"].live
    expected = "old-build" if checkpoint in ("tmp-written", "tmp-synced") else "new-build"
    assert live == expected
    assert state.http_port == 9999
    assert state.events_next == (77 if expected == "new-build" else 1)


def test_without_a_kill_the_new_state_is_written(tmp_path: Path) -> None:
    store = _old(tmp_path)
    proc = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert store.load().strategies["gamma-fade"].live == "new-build"
    assert [p.name for p in tmp_path.iterdir()] == ["control.json"]  # no temporary left


def test_a_broken_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "control.json").write_text('{"version": 1, "strategies": {"x": {"live": 3')
    with pytest.raises(UserInputError, match=r"control.json: not a valid control-plane state"):
        StateStore(tmp_path).load()
    (tmp_path / "control.json").write_text(json.dumps({"version": 1, "bogus": True}))
    with pytest.raises(UserInputError, match="not a valid control-plane state"):
        StateStore(tmp_path).load()


def test_a_missing_state_file_is_an_empty_runtime(tmp_path: Path) -> None:
    assert StateStore(tmp_path).load() == ControlState()
