"""The dashboard's security rules, each by a planted violation against the app that must be
refused: unauthenticated API calls, missing/wrong CSRF tokens, roles, the author approving
their own version, the login rate limit, one-time passwords, cookie flags."""

from __future__ import annotations

import pytest
from dash_kit import PASSWORDS, form_csrf, login
from fastapi.testclient import TestClient

from stratforge.dashboard.app import create_app
from stratforge.dashboard.settings import DashboardSettings
from stratforge.registry import Registry


def _actions(reg: Registry, action: str) -> list[dict]:
    return [r for r in reg.audit_records() if r["action"] == action]


# --- authentication ------------------------------------------------------------------------------

def test_every_api_route_is_401_without_credentials(client: TestClient, app) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, methods in schema["paths"].items():
        url = (path.replace("{name}", "desk-alpha").replace("{number}", "1")
               .replace("{what}", "kill"))
        for method in methods:
            r = client.request(method.upper(), url, json={"reason": "x", "to": "shadow"})
            assert r.status_code == 401, (method, url, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "not authenticated" in r.json()["detail"]
            checked += 1
    assert checked >= 10


def test_a_bad_or_revoked_token_is_401_and_a_good_one_works(client: TestClient,
                                                             reg: Registry) -> None:
    assert client.get("/api/v1/strategies",
                      headers={"Authorization": "Bearer sft_nope"}).status_code == 401
    assert client.get("/api/v1/strategies",
                      headers={"Authorization": "Basic cm9vdDp4"}).status_code == 401
    token_id, secret = reg.create_token("vic", "script", actor="root")
    ok = client.get("/api/v1/strategies", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200 and ok.json()[0]["name"] == "desk-alpha"
    reg.revoke_token(token_id, actor="root")
    assert client.get("/api/v1/strategies",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_pages_send_an_anonymous_visitor_to_the_login(client: TestClient) -> None:
    for url in ("/", "/audit", "/deployments", "/reviews", "/strategies/desk-alpha/versions/1",
                "/actions/shadow?strategy=desk-alpha&version=1"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_wrong_password_is_refused_and_audited(client: TestClient, reg: Registry) -> None:
    r = login(client, "bob", "not-bobs-password")
    assert r.status_code == 401 and "wrong user name or password" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303
    failed = _actions(reg, "user.login_failed")
    assert failed and failed[-1]["actor"] == "bob" and failed[-1]["outcome"] == "refused"
    assert "not-bobs-password" not in str(reg.audit_records())


def test_login_rate_limit_per_user_and_address(client: TestClient, settings) -> None:
    for _ in range(settings.login_attempts):
        assert login(client, "cat", "guess-guess-guess").status_code == 401
    blocked = login(client, "cat")  # even the right password is not tried now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert client.get("/", follow_redirects=False).status_code == 303
    assert login(client, "bob").status_code == 303  # another user from the same address


def test_a_removed_users_session_stops_working(as_user, reg: Registry) -> None:
    c = as_user("cat")
    assert c.get("/").status_code == 200
    reg.remove_user("cat", actor="root")
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_one_time_password_must_be_changed_first(app, reg: Registry) -> None:
    reg.add_user("dan", "approver", actor="root")
    reg.set_password("dan", "one-time-pass-4412", actor="root", one_time=True)
    c = TestClient(app, base_url="http://127.0.0.1")
    r = c.post("/login", data={"username": "dan", "password": "one-time-pass-4412",
                               "csrf_token": form_csrf(c.get("/login").text)},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    assert c.get("/", follow_redirects=False).headers["location"] == "/account/password"
    assert c.get("/api/v1/me").status_code == 401
    page = c.get("/account/password")
    bad = c.post("/account/password", data={"current": "one-time-pass-4412", "new": "short",
                                            "again": "short", "csrf_token": form_csrf(page.text)})
    assert bad.status_code == 400 and "at least 12" in bad.text
    ok = c.post("/account/password", data={"current": "one-time-pass-4412",
                                           "new": "dans-own-pass-8890",
                                           "again": "dans-own-pass-8890",
                                           "csrf_token": form_csrf(page.text)},
                follow_redirects=False)
    assert ok.status_code == 303
    assert c.get("/").status_code == 200
    assert reg.authenticate("dan", "dans-own-pass-8890") == ("approver", False)
    assert reg.authenticate("dan", "one-time-pass-4412") is None


# --- sessions ------------------------------------------------------------------------------------

def _cookie(resp) -> str:
    return resp.headers["set-cookie"].lower()


def test_session_cookie_flags_on_loopback(client: TestClient) -> None:
    r = login(client, "bob")
    cookie = _cookie(r)
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


def test_session_cookie_is_secure_off_loopback(settings: DashboardSettings, reg: Registry) -> None:
    app = create_app(settings.model_copy(update={"host": "0.0.0.0"}), reg)
    c = TestClient(app, base_url="https://dash.example.test")
    r = login(c, "bob")
    assert r.status_code == 303
    cookie = _cookie(r)
    assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_a_tampered_session_cookie_is_not_a_login(client: TestClient, app) -> None:
    login(client, "bob")
    value = client.cookies.get("sf_session")
    assert TestClient(app, base_url="http://127.0.0.1").get(
        "/", headers={"Cookie": f"sf_session={value}"}, follow_redirects=False).status_code == 200
    payload, _, signature = value.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    r = TestClient(app, base_url="http://127.0.0.1").get(
        "/", headers={"Cookie": f"sf_session={forged}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_login_starts_a_new_session(app) -> None:
    c = TestClient(app, base_url="http://127.0.0.1")
    before = form_csrf(c.get("/login").text)
    login(c, "bob")
    after = form_csrf(c.get("/").text)
    assert before != after


# --- CSRF ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused(as_user, reg: Registry,
                                                           token: str | None) -> None:
    c = as_user("bob")
    data = {"strategy": "desk-alpha", "version": "2", "reason": "planted"}
    if token:
        data["csrf_token"] = token
    r = c.post("/actions/shadow", data=data, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert not _actions(reg, "promotion.requested")
    assert reg.versions("desk-alpha")[1].stage == "candidate"


def test_login_and_logout_forms_need_the_csrf_token(app, as_user) -> None:
    c = TestClient(app, base_url="http://127.0.0.1")
    r = c.post("/login", data={"username": "bob", "password": PASSWORDS["bob"]},
               follow_redirects=False)
    assert r.status_code == 403
    signed_in = as_user("bob")
    assert signed_in.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert signed_in.get("/").status_code == 200


def test_session_api_posts_need_the_csrf_header(as_user, reg: Registry) -> None:
    c = as_user("bob")
    body = {"to": "shadow", "reason": "planted"}
    r = c.post("/api/v1/strategies/desk-alpha/versions/2/promote", json=body)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert not _actions(reg, "promotion.requested")
    token = form_csrf(c.get("/").text)
    ok = c.post("/api/v1/strategies/desk-alpha/versions/2/promote", json=body,
                headers={"X-CSRF-Token": token})
    assert ok.status_code == 200, ok.text


def test_bearer_api_calls_need_no_csrf(client: TestClient, reg: Registry) -> None:
    _, secret = reg.create_token("bob", "ci", actor="root")
    r = client.post("/api/v1/strategies/desk-alpha/versions/2/promote",
                    json={"to": "shadow", "reason": "from a script"},
                    headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and "completed" in r.json()["message"]
    rec = _actions(reg, "promotion.requested")[-1]
    assert rec["actor"] == "bob" and rec["detail"]["reason"] == "from a script"


# --- roles ---------------------------------------------------------------------------------------

def _confirm_and_post(c: TestClient, action: str, **fields: str):
    query = "&".join(f"{k}={v}" for k, v in fields.items() if k in ("strategy", "version"))
    page = c.get(f"/actions/{action}?{query}")
    assert page.status_code == 200, page.text
    return c.post(f"/actions/{action}", data={**fields, "csrf_token": form_csrf(page.text)},
                  follow_redirects=False)


@pytest.mark.parametrize("who", ["vic", "ann"])
def test_a_viewer_or_author_cannot_promote(as_user, reg: Registry, who: str) -> None:
    r = _confirm_and_post(as_user(who), "shadow", strategy="desk-alpha", version="2",
                          reason="planted")
    assert r.status_code == 403 and "PERMISSION_DENIED" in r.text
    refused = _actions(reg, "promotion.refused")[-1]
    assert refused["actor"] == who and refused["reason"] == "PERMISSION_DENIED"
    assert reg.versions("desk-alpha")[1].stage == "candidate"


def test_a_viewer_cannot_use_the_kill_switch(as_user, reg: Registry) -> None:
    r = _confirm_and_post(as_user("vic"), "kill", strategy="desk-alpha", reason="planted")
    assert r.status_code == 403
    assert _actions(reg, "runtime.refused")[-1]["actor"] == "vic"
    assert not _actions(reg, "runtime.requested")


def test_an_author_cannot_approve_their_own_version(as_user, reg: Registry) -> None:
    bob = as_user("bob")  # bob (an approver) is the author of version 1
    assert _confirm_and_post(bob, "shadow", strategy="desk-alpha", version="1",
                             reason="to shadow").status_code == 303
    reg.record_shadow_metrics("desk-alpha", 1, {"duration_s": 4000, "fills": 36,
                                                "drawdown_pct": 2.5, "pnl_deviation_pct": 9.0,
                                                "fill_ratio_deviation_pct": 4.0,
                                                "risk_breaches": 0, "callback_p99_ns": 3300},
                              actor="runtime")
    r = _confirm_and_post(bob, "approve", strategy="desk-alpha", version="1",
                          build_id="build-a1", reason="my own")
    assert r.status_code == 409 and "SELF_APPROVAL" in r.text
    assert reg.versions("desk-alpha")[0].approvals == ()
    live = _confirm_and_post(bob, "live", strategy="desk-alpha", version="1", reason="try")
    assert live.status_code == 409 and "APPROVAL_MISSING" in live.text
    assert reg.versions("desk-alpha")[0].stage == "shadow"


def test_an_approver_promotes_and_rolls_back_with_reasons_in_the_audit(as_user,
                                                                        reg: Registry) -> None:
    bob, cat = as_user("bob"), as_user("cat")
    metrics = {"duration_s": 4000, "fills": 36, "drawdown_pct": 2.5, "pnl_deviation_pct": 9.0,
               "fill_ratio_deviation_pct": 4.0, "risk_breaches": 0, "callback_p99_ns": 3300}
    for number, author_side, approver in ((1, bob, cat), (2, cat, bob)):
        assert _confirm_and_post(author_side, "shadow", strategy="desk-alpha",
                                 version=str(number), reason=f"shadow v{number}").status_code == 303
        reg.record_shadow_metrics("desk-alpha", number, metrics, actor="runtime")
        assert _confirm_and_post(approver, "approve", strategy="desk-alpha", version=str(number),
                                 build_id=f"build-a{number}", reason="reviewed").status_code == 303
        assert _confirm_and_post(author_side, "live", strategy="desk-alpha", version=str(number),
                                 reason=f"live v{number}").status_code == 303
    assert [v.stage for v in reg.versions("desk-alpha")] == ["retired", "live"]
    r = _confirm_and_post(cat, "rollback", strategy="desk-alpha", reason="fills look wrong")
    assert r.status_code == 303
    assert [v.stage for v in reg.versions("desk-alpha")] == ["live", "retired"]
    rb = _actions(reg, "rollback.requested")[-1]
    assert rb["actor"] == "cat" and rb["detail"]["reason"] == "fills look wrong"
    promo = _actions(reg, "promotion.requested")
    assert [(p["actor"], p["detail"]["reason"]) for p in promo] == [
        ("bob", "shadow v1"), ("bob", "live v1"), ("cat", "shadow v2"), ("cat", "live v2")]
    page = cat.get("/audit?actor=cat&action=rollback")
    assert "fills look wrong" in page.text and "hash chain intact" in page.text


def test_an_action_without_a_reason_is_refused(as_user, reg: Registry) -> None:
    r = _confirm_and_post(as_user("bob"), "shadow", strategy="desk-alpha", version="2",
                          reason="   ")
    assert r.status_code == 400 and "reason is required" in r.text
    assert not _actions(reg, "promotion.requested")


def test_kill_with_the_runtime_unreachable_is_recorded_and_said(as_user, reg: Registry) -> None:
    c = as_user("bob")
    r = _confirm_and_post(c, "kill", strategy="desk-alpha", reason="venue acting up")
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "runtime is not reachable" in page.text
    rec = _actions(reg, "runtime.requested")[-1]
    assert rec["actor"] == "bob" and rec["strategy"] == "desk-alpha"
    assert rec["detail"]["request"] == "kill" and rec["detail"]["reason"] == "venue acting up"
