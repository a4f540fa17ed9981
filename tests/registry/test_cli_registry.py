"""The registry's commands through the real CLI (click's runner, the real database)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from registry_kit import register

from stratforge.cli import main
from stratforge.registry import Registry

S = "pairs-alpha"


@pytest.fixture
def cli(db_url: str, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))  # no login of the machine's
    runner = CliRunner()

    def call(*args: str, user: str | None = None, token: str | None = None):  # noqa: ANN202
        env = {"STRATFORGE_DB_URL": db_url, "STRATFORGE_USER": user, "STRATFORGE_TOKEN": token}
        return runner.invoke(main, list(args), env=env)
    return call


def test_users_tokens_and_who_is_acting(cli, db_url: str) -> None:  # noqa: ANN001
    assert cli("users", "add", "ann", "--role", "author").exit_code == 1  # first must be admin
    assert cli("users", "add", "root", "--role", "admin").exit_code == 0
    assert cli("users", "add", "bob", "--role", "approver", user="root").exit_code == 0
    denied = cli("users", "add", "eve", "--role", "admin", user="bob")
    assert denied.exit_code == 1 and "PERMISSION_DENIED" in denied.output
    made = cli("tokens", "create", "--name", "ci", user="bob")
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert re.fullmatch(r"sft_[A-Za-z0-9_-]{43}", secret)
    listed = cli("tokens", "list", "--format", "json")
    assert json.loads(listed.output) == [{"id": 1, "user": "bob", "name": "ci",
                                          "created_at": json.loads(listed.output)[0]["created_at"],
                                          "revoked_at": None}]
    assert secret not in listed.output
    reg = Registry.open(db_url)
    assert reg.user_for_token(secret) == "bob"
    register(reg, build="b1")
    # the token's owner acts (it wins over STRATFORGE_USER)
    approved = cli("approve", S, "--version", "1", token=secret, user="root")
    assert approved.exit_code == 0, approved.output
    assert reg.audit_records()[-1]["actor"] == "bob"
    assert cli("tokens", "revoke", "1", user="root").exit_code == 0
    revoked = cli("versions", S, token=secret)
    assert revoked.exit_code == 0  # reading needs no user
    refused = cli("promote", S, "--to", "shadow", token=secret)
    assert refused.exit_code == 1 and "revoked" in refused.output
    nobody = cli("rollback", S)
    assert nobody.exit_code == 1 and "set STRATFORGE_USER" in nobody.output
    assert cli("users", "remove", "bob", user="root").exit_code == 0
    assert [u for u in json.loads(cli("users", "list", "--format", "json").output)
            if u["name"] == "bob"] == [{"name": "bob", "role": "approver", "active": False}]
    reg.engine.dispose()


def test_promote_without_a_deployer_records_the_desired_state(cli, db_url: str) -> None:  # noqa: ANN001
    cli("users", "add", "root", "--role", "admin")
    cli("users", "add", "bob", "--role", "approver", user="root")
    reg = Registry.open(db_url)
    register(reg, build="b1")
    register(reg, build="b2", verdict="FAIL")
    out = cli("promote", S, "--version", "1", "--to", "shadow", user="bob")
    assert out.exit_code == 0, out.output
    assert "requested" in out.output and "no deployer is wired" in out.output
    rows = json.loads(cli("versions", S, "--format", "json").output)
    assert [(r["version"], r["stage"], r["desired"], r["observed"], r["phase"]) for r in rows] \
        == [(1, "candidate", "shadow", None, "Progressing"), (2, "candidate", None, None,
                                                             "Healthy")]
    bad = cli("promote", S, "--version", "2", "--to", "shadow", user="bob")
    assert bad.exit_code == 1
    assert bad.output.startswith("error: refused (PROMOTION_IN_PROGRESS)")
    text = cli("audit", "--strategy", S)
    assert "promotion.refused" in text.output and "PROMOTION_IN_PROGRESS" in text.output
    assert cli("audit", "--verify").exit_code == 0
    unknown = cli("promote", "nope", "--to", "live", user="bob")
    assert unknown.exit_code == 1 and "no strategy named 'nope'" in unknown.output
    reg.engine.dispose()


def test_a_bad_database_url_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    runner = CliRunner()
    out = runner.invoke(main, ["versions"], env={"STRATFORGE_DB_URL": "mysql://x/y"})
    assert out.exit_code == 1
    assert "supports SQLite and PostgreSQL" in out.output
    sock = tmp_path / "nothing-here"
    out = runner.invoke(main, ["versions"], env={
        "STRATFORGE_DB_URL": f"postgresql://u:secret@/db?host={sock}&port=1"})
    assert out.exit_code == 1, out.output
    assert out.output.startswith("error: cannot reach the registry database")
    assert "secret" not in out.output


def test_login_keeps_a_token_private_and_acts_as_its_owner(cli, db_url: str,
                                                           tmp_path) -> None:  # noqa: ANN001
    cli("users", "add", "root", "--role", "admin")
    secret = cli("tokens", "create", "--name", "laptop", user="root").output.strip() \
        .splitlines()[-1]
    assert cli("login", "--token", "sft_wrong").exit_code == 1
    out = cli("login", "--token", secret)
    assert out.exit_code == 0 and "logged in as root" in out.output
    kept = tmp_path / "cfg" / "stratforge" / "token"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert cli("users", "add", "bob", "--role", "approver").exit_code == 0
    assert Registry.open(db_url).audit_records()[-1]["actor"] == "root"
    assert cli("logout").exit_code == 0 and not kept.exists()
    nobody = cli("users", "role", "bob", "viewer")
    assert nobody.exit_code == 1 and "who is acting" in nobody.output
