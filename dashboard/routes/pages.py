"""Server-rendered pages (thin: each calls the service and renders a template)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from stratforge.dashboard.deps import (CsrfChecked, CurrentUser, PageUser, Service, csrf_token,
                                       page_user_any, templates)
from stratforge.dashboard.security import new_csrf_token

router = APIRouter(include_in_schema=False)
#: the actions a form can confirm: name → (title, what happens)
ACTIONS = {
    "shadow": ("Promote to shadow", "The version runs next to live on the same market data; "
               "its orders go to the paper venue."),
    "approve": ("Approve for live", "Your approval is bound to this exact build id."),
    "live": ("Promote to live", "The version replaces the live one (hot swap)."),
    "rollback": ("Roll back", "The recorded last-good live version goes live again."),
    "kill": ("Kill switch", "The runtime cancels the orders and stops sending new ones."),
    "release": ("Release the kill switch", "The runtime may send orders again."),
}
SSE_PERIOD_S = 1.0


def render(request: Request, template: str, user: CurrentUser | None, **ctx: Any) -> HTMLResponse:
    flash = request.session.pop("flash", None)
    return templates.TemplateResponse(request, template, {"user": user, "csrf": csrf_token(request),
                                                      "flash": flash, **ctx})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", dependencies=[CsrfChecked])
def login(request: Request, service: Service, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)],
          next: Annotated[str, Form()] = "/") -> Response:
    limiter = request.app.state.limiter
    address = _client(request)
    wait = limiter.retry_after(username, address)
    if wait is not None:
        resp = render(request, "login.html", None, next=_safe_next(next),
                      error=f"too many failed logins; try again in {int(wait) + 1} s")
        resp.status_code = 429
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    result = service.registry.authenticate(username, password, origin=address)
    if result is None:
        limiter.failed(username, address)
        resp = render(request, "login.html", None, next=_safe_next(next),
                      error="wrong user name or password")
        resp.status_code = 401
        return resp
    limiter.succeeded(username, address)
    _role, must_change = result
    request.session.clear()  # a new session (and CSRF token) at every login: no fixation
    request.session.update({"user": username, "csrf": new_csrf_token(),
                            "must_change": bool(must_change)})
    return RedirectResponse("/account/password" if must_change else _safe_next(next),
                            status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request,
                  user: Annotated[CurrentUser, Depends(page_user_any)]) -> HTMLResponse:
    return render(request, "password.html", user, must_change=request.session.get("must_change"),
                  error=None)


@router.post("/account/password", dependencies=[CsrfChecked])
def change_password(request: Request, service: Service,
                    user: Annotated[CurrentUser, Depends(page_user_any)],
                    current: Annotated[str, Form(max_length=1024)],
                    new: Annotated[str, Form(max_length=1024)],
                    again: Annotated[str, Form(max_length=1024)]) -> Response:
    error = None
    if new != again:
        error = "the two new passwords differ"
    elif new == current:
        error = "the new password must differ from the current one"
    elif service.registry.authenticate(user.name, current, origin=_client(request)) is None:
        error = "the current password is wrong"
    if error is None:
        service.registry.set_password(user.name, new, user.name)  # length checked there
        request.session["must_change"] = False
        request.session["flash"] = "password changed"
        return RedirectResponse("/", status_code=303)
    resp = render(request, "password.html", user, must_change=request.session.get("must_change"),
                  error=error)
    resp.status_code = 400
    return resp


@router.get("/", response_class=HTMLResponse)
def strategies(request: Request, service: Service, user: PageUser) -> HTMLResponse:
    return render(request, "strategies.html", user, rows=service.strategies(),
                  reviews=service.open_reviews())


@router.get("/strategies/{name}", response_class=HTMLResponse)
def strategy(request: Request, name: str, service: Service, user: PageUser) -> HTMLResponse:
    return render(request, "strategy.html", user, name=name,
                  versions=list(reversed(service.versions(name))))


@router.get("/strategies/{name}/versions/{number}", response_class=HTMLResponse)
def version(request: Request, name: str, number: int, service: Service,
            user: PageUser) -> HTMLResponse:
    detail = service.version(name, number)
    charts = detail.scorecard.get("charts") or {}
    chart_data = {"charts": charts, "metrics": {
        k: detail.scorecard.get("metrics", {}).get(k) for k in ("in_sample", "out_of_sample")}}
    return render(request, "version.html", user, d=detail, v=detail.view, card=detail.scorecard,
                  chart_json=json.dumps(chart_data, allow_nan=False, default=str)
                  .replace("</", "<\\/"))


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, service: Service, user: PageUser) -> HTMLResponse:
    return render(request, "reviews.html", user, rows=list(reversed(service.review_requests())))


@router.get("/deployments", response_class=HTMLResponse)
def deployments(request: Request, service: Service, user: PageUser) -> HTMLResponse:
    status, why = service.runtime_status()
    rows = service.deployments()
    data = {r["strategy"]: {
        "live": {"version": r["live"].number, "build_id": r["live"].build_id} if r["live"] else None,
        "shadow": [{"version": v.number, "build_id": v.build_id} for v in r["shadow"]],
        "reference": r["reference"]} for r in rows}
    return render(request, "deployments.html", user, rows=rows, runtime=status,
                  runtime_error=why,
                  deploy_json=json.dumps(data, default=str).replace("</", "<\\/"))


@router.get("/deployments/stream")
async def deployments_stream(request: Request, service: Service, user: PageUser) -> Response:
    """Server-sent events: the control plane's /status (or why it is not reachable) every
    second, with the registry's shadow gates."""

    async def events():  # noqa: ANN202 - async generator
        while not await request.is_disconnected():
            status, why = await run_in_threadpool(service.runtime_status)
            gates = await run_in_threadpool(_gates, service)
            yield "data: " + json.dumps({"runtime": status, "error": why, "gates": gates},
                                        default=str) + "\n\n"
            await asyncio.sleep(SSE_PERIOD_S)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _gates(service: Any) -> dict[str, Any]:
    return {f"{v.strategy}/{v.number}": {"outcome": v.shadow_gate.outcome.value,
                                         "gate": v.shadow_gate.to_dict()}
            for row in service.deployments() for v in row["shadow"]}


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, service: Service, user: PageUser,
          strategy: Annotated[str | None, Query(max_length=64)] = None,
          actor: Annotated[str | None, Query(max_length=64)] = None,
          action: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    return render(request, "audit.html", user, log=service.audit(strategy, actor, action),
                  f={"strategy": strategy or "", "actor": actor or "", "action": action or ""})


@router.get("/actions/{action}", response_class=HTMLResponse)
def confirm(request: Request, action: str, service: Service, user: PageUser,
            strategy: Annotated[str | None, Query(max_length=64)] = None,
            version: int | None = None) -> HTMLResponse:
    """The confirmation step of every action: what will happen, and a reason to give."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    view = service.version_view(strategy, version) if strategy and version else None
    if strategy and not view:
        service.versions(strategy)  # NotFound for an unknown strategy
    title, what = ACTIONS[action]
    return render(request, "confirm.html", user, action=action, title=title, what=what,
                  strategy=strategy, version=version, view=view)


@router.post("/actions/{action}", dependencies=[CsrfChecked])
def act(request: Request, action: str, service: Service, user: PageUser,
        reason: Annotated[str, Form(max_length=500)] = "",
        strategy: Annotated[str | None, Form(max_length=64)] = None,
        version: Annotated[int | None, Form()] = None,
        build_id: Annotated[str | None, Form(max_length=128)] = None) -> Response:
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    if action in ("shadow", "live", "approve") and (not strategy or version is None):
        raise HTTPException(422, f"{action} needs a strategy and a version")
    if action in ("shadow", "live"):
        result = service.promote(user.name, strategy, version, action, reason)
    elif action == "approve":
        result = service.approve(user.name, strategy, version, build_id, reason)
    elif action == "rollback":
        if not strategy:
            raise HTTPException(422, "rollback needs a strategy")
        result = service.rollback(user.name, strategy, reason)
    else:
        result = service.runtime_action(user.name, action, strategy or None, reason)
    request.session["flash"] = result.message
    target = (f"/strategies/{strategy}/versions/{version}" if strategy and version is not None
              else f"/strategies/{strategy}" if strategy else "/deployments")
    return RedirectResponse(target, status_code=303)
