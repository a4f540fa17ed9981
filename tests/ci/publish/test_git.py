"""ci/publish/git.py on real repositories: changed specs, bundle commits, pushes."""

from __future__ import annotations

from pathlib import Path

import pytest
from git import Repo
from publish_kit import Clone, fake_bundle, spec_text

from stratforge.ci.publish.git import (NULL_SHA, TRAILER_SPEC_HASH, PublishError, SpecChange,
                                       branch_name, changed_specs, commit_bundle,
                                       published_branch, push_branch, trailers)
from stratforge.core.errors import UserInputError


def test_added_modified_renamed_deleted_and_non_specs(clone: Clone) -> None:
    clone.add_spec("pub-bars-meanrev")
    clone.add_spec("pub-bars-trend")
    clone.write("specs/schema/strategy.schema.json", "{}")
    clone.write("specs/notes.txt", "not a spec")
    clone.commit("two specs", "specs/pub-bars-meanrev.yaml", "specs/pub-bars-trend.yaml",
                 "specs/schema/strategy.schema.json", "specs/notes.txt")
    assert changed_specs(clone.repo, "HEAD~1") == [
        SpecChange("specs/pub-bars-meanrev.yaml", "added"),
        SpecChange("specs/pub-bars-trend.yaml", "added")]

    clone.add_spec("pub-bars-meanrev", spec_text("pub-bars-meanrev", **{"entry_z: 1.4": "entry_z: 1.6"}))
    clone.repo.git.mv("specs/pub-bars-trend.yaml", "specs/pub-bars-trend2.yaml")
    clone.commit("edit one, rename one", "specs/pub-bars-meanrev.yaml")
    got = changed_specs(clone.repo, "HEAD~1")
    assert got == [SpecChange("specs/pub-bars-meanrev.yaml", "modified"),
                   SpecChange("specs/pub-bars-trend2.yaml", "renamed",
                              "specs/pub-bars-trend.yaml")]

    clone.commit("delete one", remove=("specs/pub-bars-meanrev.yaml",))
    assert changed_specs(clone.repo, "HEAD~1") == [
        SpecChange("specs/pub-bars-meanrev.yaml", "deleted")]
    clone.write("docs.md", "no spec here")
    clone.commit("docs only", "docs.md")
    assert changed_specs(clone.repo, "HEAD~1") == []


def test_without_a_base_every_spec_is_added(clone: Clone) -> None:
    clone.add_spec("pub-bars-trend")
    clone.commit("a spec", "specs/pub-bars-trend.yaml")
    want = [SpecChange("specs/pub-bars-trend.yaml", "added")]
    assert changed_specs(clone.repo, None) == want
    assert changed_specs(clone.repo, NULL_SHA) == want  # GitHub's `before` of a new branch


def test_the_first_commits_head_1_counts_everything_as_added(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "r")
    (tmp_path / "r" / "specs").mkdir()
    (tmp_path / "r" / "specs" / "a.yaml").write_text("x: 1\n")
    repo.index.add(["specs/a.yaml"])
    repo.index.commit("first")
    assert changed_specs(repo, "HEAD~1") == [SpecChange("specs/a.yaml", "added")]


def test_a_bad_base_is_a_clear_error(clone: Clone) -> None:
    with pytest.raises(UserInputError, match="--base nosuchrev: not a revision"):
        changed_specs(clone.repo, "nosuchrev")


def test_commit_bundle_leaves_the_checkout_alone_and_replaces_stale_files(
        clone: Clone, tmp_path: Path) -> None:
    clone.add_spec("pub-bars-trend")
    head = clone.commit("a spec", "specs/pub-bars-trend.yaml")
    clone.write("strategies/pub-bars-trend/old.txt", "stale file of an older bundle")
    clone.commit("an older bundle", "strategies/pub-bars-trend/old.txt")
    head = clone.repo.head.commit.hexsha
    clone.write("scratch.txt", "uncommitted work of the user")
    bundle = fake_bundle(tmp_path / "out", "pub-bars-trend", spec_hash="ab" * 32,
                         build_id="0123456789abcdef")
    (bundle / "__pycache__").mkdir()
    (bundle / "__pycache__" / "x.pyc").write_bytes(b"\0")
    branch = branch_name("pub-bars-trend", "0123456789abcdef")
    assert branch == "stratforge/pub-bars-trend/0123456789ab"
    sha = commit_bundle(clone.repo, bundle=bundle, strategy="pub-bars-trend", branch=branch,
                        message=f"bundle\n\n{TRAILER_SPEC_HASH}: {'ab' * 32}\n", parent=head)

    assert clone.repo.active_branch.name == "main" and clone.repo.head.commit.hexsha == head
    assert (clone.path / "scratch.txt").is_file() and clone.repo.is_dirty(untracked_files=True)
    commit = clone.repo.commit(branch)
    assert commit.hexsha == sha and commit.parents[0].hexsha == head
    files = {b.path for b in commit.tree.traverse() if b.type == "blob"}
    assert {"strategies/pub-bars-trend/manifest.json", "strategies/pub-bars-trend/scorecard.md",
            "strategies/pub-bars-trend/cpp/strategy.cpp", "specs/pub-bars-trend.yaml"} <= files
    assert "strategies/pub-bars-trend/old.txt" not in files
    assert not any("__pycache__" in f for f in files)
    assert trailers(commit.message) == {TRAILER_SPEC_HASH: "ab" * 32}
    assert published_branch(clone.repo, "pub-bars-trend", "ab" * 32).branch == branch
    assert published_branch(clone.repo, "pub-bars-trend", "cd" * 32) is None
    assert clone.repo.git.worktree("list").count("\n") == 0  # the temporary worktree is gone


def test_push_to_the_bare_remote_and_a_forced_re_push(clone: Clone, tmp_path: Path) -> None:
    head = clone.repo.head.commit.hexsha
    bundle = fake_bundle(tmp_path / "out", "pub-bars-trend", spec_hash="ef" * 32, build_id="f" * 16)
    branch = branch_name("pub-bars-trend", "f" * 16)
    first = commit_bundle(clone.repo, bundle=bundle, strategy="pub-bars-trend", branch=branch,
                          message="one", parent=head)
    push_branch(clone.repo, branch)
    assert clone.remote.commit(branch).hexsha == first
    (bundle / "scorecard.md").write_text("changed", encoding="utf-8")
    second = commit_bundle(clone.repo, bundle=bundle, strategy="pub-bars-trend", branch=branch,
                           message=f"two\n\n{TRAILER_SPEC_HASH}: {'ef' * 32}\n", parent=head)
    push_branch(clone.repo, branch)  # not a fast-forward: stratforge owns the branch
    assert clone.remote.commit(branch).hexsha == second != first
    clone.repo.remotes.origin.fetch()
    # the remote-tracking ref counts as published too (a fresh CI checkout has only those)
    clone.repo.delete_head(branch, force=True)
    found = published_branch(clone.repo, "pub-bars-trend", "ef" * 32)
    assert (found.branch, found.ref) == (branch, f"refs/remotes/origin/{branch}")
    with pytest.raises(PublishError, match="no git remote named 'upstream'"):
        push_branch(clone.repo, branch, "upstream")
