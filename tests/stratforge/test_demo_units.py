"""The demo's own decisions, each on inputs written here: which version it deploys, the second
version it commits, its workspace and users, and --down on a workspace with nothing running."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from git import Repo

from stratforge.core.errors import UserInputError
from stratforge.core.spec import load_spec
from stratforge.demo import (DEMO_SPECS, DEMO_USERS, LOGIN, V2_MARK, DemoError, DemoPaths,
                             buildable_specs, check, choose_candidate, describe_feed, down,
                             ensure_users, find_examples, find_shared, link_shared,
                             make_workspace, other_deployments, real_variants, running,
                             second_version_text)
from stratforge.registry.phase import MIN_DEVIATION_FILLS
from stratforge.registry import Registry
from resource_kit import REPO

SPEC = """\
apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: toy
strategy:
  type: momentum
  params:
    fast_window: 3
    order_qty: 4   # lots per order
    sides: both
risk:
  max_order_qty: 9
"""


def test_second_version_changes_one_order_size_parameter_and_keeps_the_rest() -> None:
    text, what = second_version_text(SPEC)
    assert what == "strategy.params.order_qty: 4 → 3"
    assert "    order_qty: 3" in text and "max_order_qty: 9" in text  # risk untouched
    assert text.rstrip().endswith(V2_MARK)
    assert second_version_text(SPEC.replace("order_qty: 4", "order_qty: 250"))[1] \
        == "strategy.params.order_qty: 250 → 225"
    assert text.replace("order_qty: 3", "order_qty: 4").replace(V2_MARK + "\n", "") == SPEC


def test_second_version_of_a_one_lot_strategy_grows_and_none_without_a_size() -> None:
    text, what = second_version_text(SPEC.replace("order_qty: 4   # lots per order",
                                                  "quote_size: 1"))
    assert what == "strategy.params.quote_size: 1 → 2" and "    quote_size: 2" in text
    assert second_version_text(SPEC.replace("order_qty: 4   # lots per order", "")) is None
    # a risk limit named like a size is never the one changed
    assert second_version_text("strategy:\n  params:\n    window: 3\nrisk:\n"
                               "  max_order_qty: 9\n    lots: 2\n") is None


@dataclass
class V:
    strategy: str
    verdict: str
    kind: str


@dataclass
class _Data:
    kind: str


@dataclass
class _Backtest:
    data: _Data


@dataclass
class _Spec:
    backtest: _Backtest


def _spec_of(v: V) -> _Spec:
    return _Spec(_Backtest(_Data(v.kind)))


def test_candidate_is_a_passing_version_preferring_real_data() -> None:
    vs = {"b": V("b", "PASS", "synthetic"), "a": V("a", "FAIL", "file"),
          "c": V("c", "PASS", "file"), "d": V("d", "INCONCLUSIVE", "file")}
    assert choose_candidate(vs, _spec_of).strategy == "c"
    vs["c"].verdict = "FAIL"
    assert choose_candidate(vs, _spec_of).strategy == "b"
    vs["b"].verdict = "INCONCLUSIVE"
    assert choose_candidate(vs, _spec_of) is None


def test_workspace_is_a_repository_with_the_examples_and_is_kept_on_rerun(tmp_path: Path) -> None:
    src = tmp_path / "examples"
    src.mkdir()
    (src / "toy.yaml").write_text(SPEC)
    paths = DemoPaths(tmp_path / "ws")
    repo, created = make_workspace(paths, find_examples(src))
    assert created and repo.head.commit.message == "The example specs"
    assert (paths.repo / "specs" / "toy.yaml").read_text() == SPEC
    (paths.repo / "specs" / "toy.yaml").write_text(SPEC + "# mine\n")  # the user's change stays
    again, created = make_workspace(paths, find_examples(src))
    assert not created and "# mine" in (paths.repo / "specs" / "toy.yaml").read_text()
    assert Repo(paths.repo).head.commit == repo.head.commit


def test_workspace_refuses_a_folder_that_is_not_its_repository(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path / "ws")
    paths.repo.mkdir(parents=True)
    (paths.repo / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not a git repository"):
        make_workspace(paths, [])
    with pytest.raises(UserInputError, match="no example specs"):
        find_examples(tmp_path / "nothing-here")


def test_demo_users_once_and_a_fresh_one_time_password_each_run(tmp_path: Path) -> None:
    reg = Registry.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        first = ensure_users(reg)
        second = ensure_users(reg)
        assert first != second
        assert {n: r for n, r, _ in reg.users()} == DEMO_USERS
        assert reg.authenticate(LOGIN, first) is None  # replaced by the second run's
        assert reg.authenticate(LOGIN, second) == ("approver", True)  # one-time: must change
    finally:
        reg.engine.dispose()


def test_down_with_nothing_running_says_so_and_a_stale_pid_is_not_ours(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path / "ws")
    paths.root.mkdir()
    # a pid file naming a live process that is not ours (this test's python is no sf-engine)
    paths.state.mkdir()
    (paths.state / "engine.pid").write_text(str(os.getpid()))
    assert running(paths) == []
    lines: list[str] = []
    down(paths, lines.append)
    assert lines[0] == "dashboard: not running"
    assert not paths.record.exists()


def test_replay_pace_lets_the_shadow_gate_hold_in_about_a_minute() -> None:
    from stratforge.core.spec import load_spec_bytes
    from stratforge.demo import replay_speed
    text = (REPO / "tests" / "dashboard" / "specs" / "dash-book.yaml").read_text()
    spec = load_spec_bytes(text.encode(), "dash-book.yaml").spec  # shadow: 60 s, 2 fills
    day = 86_400 * 10**9
    # many fills: the minimum duration decides; never below 60x
    assert replay_speed(spec, {"run": {"period": {"start_ns": 0, "end_ns": day}},
                               "metrics": {"fills": 10_000}}) == 60.0
    # 4 fills in 100 days: the 30 fills a PnL-per-fill comparison needs (more than the spec's 2)
    # are expected in 750 days, planned for 1125 days in a minute
    card = {"run": {"period": {"start_ns": 0, "end_ns": 100 * day}}, "metrics": {"fills": 4}}
    assert MIN_DEVIATION_FILLS == 30
    assert replay_speed(spec, card) == pytest.approx(1.5 * 30 * 25 * 86_400 / 60)
    # no fills seen: the duration alone (nothing to extrapolate from)
    assert replay_speed(spec, {"metrics": {"fills": 0}}) == 60.0


def test_check_without_a_running_demo_names_the_problem(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path / "ws")
    paths.root.mkdir()
    with pytest.raises(DemoError, match="no demo is running"):
        check(paths)
    # a record of a dashboard that is gone is no running demo either
    paths.record.write_text('{"dashboard_pid": 999999999, "url": "http://127.0.0.1:9/"}')
    with pytest.raises(DemoError, match="no demo is running"):
        check(paths)


def test_a_shadow_gate_that_does_not_hold_is_the_strategys_result_not_a_demo_failure() -> None:
    from stratforge.demo import GateNotHeld, wait_gate
    from stratforge.registry import GateOutcome, GateResult

    @dataclass
    class _V:
        number: int
        shadow_gate: GateResult

    class _Reg:
        def versions(self, strategy):  # noqa: ANN001, ANN201 - the one call wait_gate makes
            return [_V(1, GateResult(GateOutcome.FAILED, (), "failed: max_callback_p99_ns"))]

    lines: list[str] = []
    with pytest.raises(GateNotHeld, match="max_callback_p99_ns") as err:
        wait_gate(_Reg(), "toy", 1, timeout=0.0, say=lines.append)
    assert isinstance(err.value, DemoError)  # a DemoError: caught by `up` as a result


def test_port_zero_or_a_taken_port_gives_a_free_one() -> None:
    import socket

    from stratforge.demo import free_port
    assert free_port(0) > 0  # old: 0 itself, and the dashboard was started on "port 0"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert free_port(busy) not in (0, busy)


CUSTOM = """\
apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: toy-custom
strategy:
  type: custom
  params:
    lookback: 7
  signals:
    entry_long: "close < sma(close, lookback)"
  order_qty: 30   # shares
risk:
  max_order_qty: 30
"""


def test_second_version_of_a_custom_spec_changes_its_order_qty() -> None:
    text, what = second_version_text(CUSTOM)
    assert what == "strategy.order_qty: 30 → 27"
    assert "  order_qty: 27   # shares\n" in text and "lookback: 7" in text
    assert "max_order_qty: 30" in text  # the risk limit is not the strategy's order size


def _real_spec(path: str) -> str:
    """The bundled real-data demo spec with its data path replaced (a spec of this test's)."""
    text = (DEMO_SPECS / "spy-dip-daily.yaml").read_text()
    old = next(line for line in text.splitlines() if line.strip().startswith("path: shared:"))
    return text.replace(old, f"    path: {path}").replace("name: spy-dip-daily", "name: toy-real")


def test_real_data_variants_are_linked_and_built_only_when_their_shared_files_exist(
        tmp_path: Path) -> None:
    variants = tmp_path / "variants"
    variants.mkdir()
    (variants / "toy-real.yaml").write_text(_real_spec("shared:my-set/bars.csv"))
    checkout = tmp_path / "checkout"
    (checkout / "specs").mkdir(parents=True)
    (checkout / "specs" / "toy.yaml").write_text(SPEC)
    examples = find_examples(checkout / "specs")
    paths = DemoPaths(tmp_path / "ws")
    repo, _ = make_workspace(paths, examples)

    # no ../shared beside the checkout: no real data, nothing linked, the examples only
    assert find_shared(examples) is None
    assert link_shared(paths, repo, None, real_variants(None, variants)) == []
    assert not (paths.root / "shared").exists()
    assert [s.name for s in buildable_specs(paths, None)] == ["toy.yaml"]

    # ../shared/data present, but without the variant's file: still nothing to add
    data = tmp_path / "shared" / "data"
    data.mkdir(parents=True)
    shared = find_shared(examples)
    assert shared == (tmp_path / "shared").resolve()
    assert real_variants(shared, variants) == []

    # with the file: the workspace links the shared folder (nothing copied) and commits the spec
    (data / "my-set").mkdir()
    (data / "my-set" / "bars.csv").write_text("Date,Open,High,Low,Close,Adj Close,Volume\n")
    found = real_variants(shared, variants)
    assert [v.name for v in found] == ["toy-real.yaml"]
    assert link_shared(paths, repo, shared, found) == ["toy-real"]
    assert (paths.root / "shared").is_symlink()
    assert (paths.root / "shared").resolve() == shared
    assert (paths.root / "shared" / "data" / "my-set" / "bars.csv").is_file()
    assert repo.head.commit.message.startswith("Real-data variants")
    assert {s.name for s in buildable_specs(paths, shared)} == {"toy.yaml", "toy-real.yaml"}
    head = repo.head.commit
    assert link_shared(paths, repo, shared, found) == ["toy-real"]  # a re-run commits nothing
    assert repo.head.commit == head
    # a later run without ../shared does not build the spec it cannot prepare data for
    assert [s.name for s in buildable_specs(paths, None)] == ["toy.yaml"]


def test_a_workspace_path_named_shared_that_is_not_our_link_is_refused(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path / "ws")
    repo, _ = make_workspace(paths, [_write(tmp_path / "toy.yaml", SPEC)])
    (paths.root / "shared").mkdir()
    (tmp_path / "real" / "data").mkdir(parents=True)
    with pytest.raises(UserInputError, match="is not a link to"):
        link_shared(paths, repo, (tmp_path / "real").resolve(), [])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_feed_line_says_real_market_data_or_a_synthetic_session(tmp_path: Path) -> None:
    real = load_spec(_write(tmp_path / "toy-real.yaml", _real_spec("shared:my-set/bars.csv")),
                     check_filename=False).spec
    day = 86_400 * 10**9
    line = describe_feed(real, "bars", 250, 14_000 * day, 14_365 * day)
    assert line.startswith("REAL market data: shared:my-set/bars.csv (250 bars of SPY, ")
    assert "2008-05-01 to 2009-05-01" in line
    synth = load_spec(REPO / "tests" / "dashboard" / "specs" / "dash-book.yaml").spec
    line = describe_feed(synth, "l2", 5000, 0, 10**9)
    assert line.startswith("synthetic session of dash-book's spec (5000 events of ")
    assert "seed" in line


@pytest.mark.shared_data
def test_the_bundled_real_data_spec_finds_its_data_in_shared(shared_data: Path) -> None:
    found = real_variants(shared_data.parent)
    assert "spy-dip-daily.yaml" in [v.name for v in found]
    for v in found:  # each is a valid spec named after its file
        assert load_spec(v).spec.metadata.name == v.stem


@dataclass
class _Deployed:
    strategy: str
    number: int
    stage: str


def test_deployments_of_another_strategy_from_an_earlier_run_are_named() -> None:
    vs = [_Deployed("spy", 1, "live"), _Deployed("spy", 2, "shadow"),
          _Deployed("orcl", 1, "candidate"), _Deployed("nvda", 1, "retired")]
    assert other_deployments(vs, "orcl") == ["spy v1 (live)", "spy v2 (shadow)"]
    assert other_deployments(vs, "spy") == []
