"""Dashboard passwords in the registry: argon2id hashes only, one-time passwords, who may set
whose, the first admin's bootstrap, and the `stratforge users` commands for them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from stratforge.cli import main
from stratforge.core.errors import UserInputError
from stratforge.registry import Refused, Registry
from stratforge.registry.models import User


def _stored(reg: Registry, name: str) -> User:
    with reg._tx() as s:  # noqa: SLF001 - reading the row the service wrote
        return s.execute(select(User).where(User.name == name)).scalar_one()


def _staff(reg: Registry) -> None:
    reg.add_user("root", "admin", actor="root")
    reg.add_user("bob", "approver", actor="root")
    reg.add_user("vic", "viewer", actor="root")


def test_only_an_argon2id_hash_is_stored_and_it_verifies(reg: Registry) -> None:
    _staff(reg)
    reg.set_password("bob", "bobs-long-password-1", actor="bob")
    row = _stored(reg, "bob")
    assert row.password_hash.startswith("$argon2id$") and "bobs-long" not in row.password_hash
    assert row.must_change_password is False
    assert reg.authenticate("bob", "bobs-long-password-1", origin="10.1.2.3") == ("approver",
                                                                                  False)
    assert reg.authenticate("bob", "bobs-long-password-2") is None
    assert reg.authenticate("nobody", "bobs-long-password-1") is None
    assert reg.authenticate("vic", "") is None  # no password set: cannot log in
    logins = [(r["actor"], r["action"], r["outcome"]) for r in reg.audit_records()
              if r["action"].startswith("user.login")]
    assert logins == [("bob", "user.login", "ok"), ("bob", "user.login_failed", "refused"),
                      ("nobody", "user.login_failed", "refused"),
                      ("vic", "user.login_failed", "refused")]
    assert "bobs-long-password" not in str(reg.audit_records())


def test_a_removed_user_cannot_log_in(reg: Registry) -> None:
    _staff(reg)
    reg.set_password("bob", "bobs-long-password-1", actor="bob")
    reg.remove_user("bob", actor="root")
    assert reg.authenticate("bob", "bobs-long-password-1") is None


def test_who_may_set_whose_password(reg: Registry) -> None:
    _staff(reg)
    with pytest.raises(Refused) as refused:
        reg.set_password("bob", "vic-chose-this-one", actor="vic")
    assert refused.value.reason == "PERMISSION_DENIED"
    assert _stored(reg, "bob").password_hash is None
    with pytest.raises(UserInputError, match="at least 12"):
        reg.set_password("vic", "short", actor="vic")
    reg.set_password("vic", "temporary-pass-77", actor="root", one_time=True)
    assert reg.authenticate("vic", "temporary-pass-77") == ("viewer", True)


def test_bootstrap_admin_only_on_an_empty_registry(reg: Registry) -> None:
    password = reg.bootstrap_admin("root")
    assert len(password) >= 20
    assert reg.authenticate("root", password) == ("admin", True)
    with pytest.raises(UserInputError, match="already has users"):
        reg.bootstrap_admin("eve")
    assert [u[0] for u in reg.users()] == ["root"]


def test_record_request_checks_the_role_and_audits(reg: Registry) -> None:
    _staff(reg)
    reg.record_request("bob", "kill", "rollback", strategy="s1", reason="stop")
    with pytest.raises(Refused):
        reg.record_request("vic", "kill", "rollback", strategy="s1", reason="stop")
    recs = [(r["actor"], r["action"], r["outcome"]) for r in reg.audit_records()
            if r["action"].startswith("runtime.")]
    assert recs == [("bob", "runtime.requested", "ok"), ("vic", "runtime.refused", "refused")]


def test_users_cli_bootstrap_and_one_time_passwords(db_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    runner = CliRunner()

    def cli(*args: str, user: str | None = None, input: str | None = None):  # noqa: ANN202, A002
        return runner.invoke(main, list(args), input=input,
                             env={"STRATFORGE_DB_URL": db_url, "STRATFORGE_USER": user})

    made = cli("users", "bootstrap-admin", "root")
    assert made.exit_code == 0, made.output
    first = made.output.strip().splitlines()[-1]
    assert "one-time password" in made.output
    again = cli("users", "bootstrap-admin", "eve")
    assert again.exit_code == 1 and "already has users" in again.output
    added = cli("users", "add", "bob", "--role", "approver", "--one-time-password", user="root")
    assert added.exit_code == 0, added.output
    bobs = added.output.strip().splitlines()[-1]
    prompted = cli("users", "add", "cat", "--role", "approver", "--password-prompt",
                   user="root", input="cats-password-123\ncats-password-123\n")
    assert prompted.exit_code == 0, prompted.output
    own = cli("users", "password", "bob", user="bob", input="bobs-own-pass-99\nbobs-own-pass-99\n")
    assert own.exit_code == 0, own.output
    reg = Registry.open(db_url)
    assert reg.authenticate("root", first) == ("admin", True)
    assert reg.authenticate("bob", bobs) is None  # replaced by bob's own
    assert reg.authenticate("bob", "bobs-own-pass-99") == ("approver", False)
    assert reg.authenticate("cat", "cats-password-123") == ("approver", True)  # set by root
    reg.engine.dispose()
