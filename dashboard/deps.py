"""The routers' dependencies: the service, the acting user of a page or an API call, the CSRF
check. Roles are read from the registry on every request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.templating import Jinja2Templates

from stratforge.core.errors import UserInputError
from stratforge.dashboard.security import CSRF_FIELD, CSRF_HEADER, csrf_ok, new_csrf_token
from stratforge.dashboard.service import DashboardService

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def _num(value: Any) -> str:
    """A measured value for a table: floats to 6 significant digits, the rest as is."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


templates.env.filters["num"] = _num
#: the roles that may act (the registry decides exactly; the pages hide what a role cannot do)
ACTING_ROLES = ("approver", "admin")


class LoginRequired(Exception):
    """A page was asked for without a session: the handler redirects to /login."""


class PasswordChangeRequired(Exception):
    """The user logged in with a one-time password: every page sends them to change it."""


@dataclass(frozen=True)
class CurrentUser:
    name: str
    role: str
    via_token: bool = False

    @property
    def can_act(self) -> bool:
        return self.role in ACTING_ROLES


def get_service(request: Request) -> DashboardService:
    return request.app.state.service


Service = Annotated[DashboardService, Depends(get_service)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def _session_user(request: Request, service: DashboardService) -> CurrentUser | None:
    name = request.session.get("user")
    if not name:
        return None
    role = service.user_role(name)
    if role is None:  # removed since the login
        request.session.clear()
        return None
    return CurrentUser(name, role)


def page_user(request: Request, service: Service) -> CurrentUser:
    user = _session_user(request, service)
    if user is None:
        raise LoginRequired()
    if request.session.get("must_change"):
        raise PasswordChangeRequired()
    return user


def page_user_any(request: Request, service: Service) -> CurrentUser:
    """The logged-in user, even one who still has to change a one-time password."""
    user = _session_user(request, service)
    if user is None:
        raise LoginRequired()
    return user


def check_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    """Every page POST carries the session's CSRF token in a form field."""
    if not csrf_ok(request.session.get("csrf"), csrf_token):
        raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page "
                                 "and submit again")


def api_user(request: Request, service: Service) -> CurrentUser:
    """An API call's user: the owner of a bearer token, or the session's user (then an unsafe
    method must carry the session's CSRF token in the X-CSRF-Token header)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise HTTPException(401, "use Authorization: Bearer <API token>",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            name = service.registry.user_for_token(secret.strip())
        except UserInputError as err:
            raise HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"}) from None
        role = service.user_role(name)
        if role is None:
            raise HTTPException(401, "the token's user is not active",
                                headers={"WWW-Authenticate": "Bearer"})
        return CurrentUser(name, role, via_token=True)
    user = _session_user(request, service)
    if user is None or request.session.get("must_change"):
        raise HTTPException(401, "not authenticated: send Authorization: Bearer <API token> "
                                 "(`stratforge tokens create`)",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and not csrf_ok(
            request.session.get("csrf"), request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"a session-authenticated API call must send the "
                                 f"{CSRF_HEADER} header")
    return user


PageUser = Annotated[CurrentUser, Depends(page_user)]
ApiUser = Annotated[CurrentUser, Depends(api_user)]
CsrfChecked = Depends(check_csrf)
__all__ = ["ApiUser", "CSRF_FIELD", "CsrfChecked", "CurrentUser", "LoginRequired", "PageUser",
           "PasswordChangeRequired", "Service", "csrf_token", "templates"]
