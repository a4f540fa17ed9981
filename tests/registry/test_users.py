"""Users, roles and API tokens at the service layer."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stratforge.core.errors import UserInputError
from stratforge.registry import Refused, Registry
from stratforge.registry import reasons as R
from stratforge.registry.models import ApiToken
from stratforge.registry.service import token_hash


def test_the_first_user_must_be_an_admin(reg: Registry) -> None:
    with pytest.raises(Refused) as err:
        reg.add_user("ann", "approver", actor="ann")
    assert err.value.reason == R.PERMISSION_DENIED
    reg.add_user("root", "admin", actor="root")
    with pytest.raises(Refused) as err:
        reg.add_user("eve", "admin", actor="eve")  # no more bootstrap
    assert err.value.reason == R.UNKNOWN_USER
    assert [(r["action"], r["outcome"], r["reason"]) for r in reg.audit_records()] == [
        (R.A_USER_REFUSED, "refused", R.PERMISSION_DENIED),
        (R.A_USER_ADDED, "ok", None),
        (R.A_USER_REFUSED, "refused", R.UNKNOWN_USER)]


def test_the_last_admin_stays(reg: Registry) -> None:
    reg.add_user("root", "admin", actor="root")
    with pytest.raises(UserInputError, match="last admin"):
        reg.remove_user("root", actor="root")
    with pytest.raises(UserInputError, match="last admin"):
        reg.set_role("root", "viewer", actor="root")
    reg.add_user("ops", "admin", actor="root")
    reg.set_role("root", "viewer", actor="ops")
    assert reg.users() == [("ops", "admin", True), ("root", "viewer", True)]
    assert reg.audit_records()[-1]["detail"] == {"user": "root", "from": "admin", "to": "viewer"}


def test_tokens_are_stored_hashed_and_die_with_their_user(reg: Registry) -> None:
    reg.add_user("root", "admin", actor="root")
    reg.add_user("bob", "approver", actor="root")
    token_id, secret = reg.create_token("bob", "ci", actor="bob")
    with Session(reg.engine) as s:
        stored = s.execute(select(ApiToken.token_hash)).scalar_one()
    assert stored == token_hash(secret) and secret not in stored
    assert reg.user_for_token(secret) == "bob"
    with pytest.raises(UserInputError):
        reg.user_for_token(secret + "x")
    with pytest.raises(Refused) as err:
        reg.create_token("root", "steal", actor="bob")
    assert err.value.reason == R.PERMISSION_DENIED
    reg.remove_user("bob", actor="root")
    with pytest.raises(UserInputError, match="revoked, or its user was removed"):
        reg.user_for_token(secret)
    reg.revoke_token(token_id, actor="root")
    assert reg.tokens()[0][4] is not None
