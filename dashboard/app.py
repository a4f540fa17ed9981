"""The dashboard application: only wiring (settings, registry, service, middleware, routers).

``create_app(settings)`` builds it; ``stratforge dashboard`` serves it with uvicorn.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from stratforge.core.errors import UserInputError
from stratforge.dashboard.deps import LoginRequired, PasswordChangeRequired, templates
from stratforge.dashboard.routes import api, pages
from stratforge.dashboard.security import LoginRateLimiter
from stratforge.dashboard.service import DashboardService, RuntimeClient
from stratforge.dashboard.settings import DashboardSettings
from stratforge.registry import NotFound, Refused, Registry
from stratforge.registry import reasons as R
from stratforge.registry.db import default_url

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "sf_session"
#: every resource is served by the dashboard itself: scripts and styles only from 'self'
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def refusal_status(err: Refused) -> int:
    """A refusal for who the actor is (role, unknown user) is 403; any other rule is 409."""
    return 403 if err.reason in (R.PERMISSION_DENIED, R.UNKNOWN_USER) else 409


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, reason: str | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message, "reason": reason}, status_code=status)
    return templates.TemplateResponse(request, "error.html",
                                      {"status": status, "message": message, "reason": reason},
                                      status_code=status)


def create_app(settings: DashboardSettings | None = None,
               registry: Registry | None = None) -> FastAPI:
    settings = settings or DashboardSettings()
    registry = registry or Registry.open(settings.db_url or default_url(), deployer=None)
    app = FastAPI(title="stratforge dashboard", version="1",
                  description="Review, promote, approve, roll back and watch strategies. The "
                  "REST API authenticates with `Authorization: Bearer <registry API token>` "
                  "(`stratforge tokens create`).",
                  # no Swagger/ReDoc pages: FastAPI loads their scripts from a CDN
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
    app.state.settings = settings
    app.state.service = DashboardService(
        registry, RuntimeClient(settings.runtime_url, settings.runtime_timeout_s,
                                settings.runtime_dir),
        settings.bundle_roots)
    app.state.limiter = LoginRateLimiter(settings.login_attempts, settings.login_window_s)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key(),
                       session_cookie=SESSION_COOKIE, max_age=settings.session_max_age_s,
                       same_site="strict", https_only=settings.secure_cookie())

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN202 - middleware
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _password(request: Request, _exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return _error(request, refusal_status(exc), str(exc), exc.reason)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(UserInputError)
    async def _bad_input(request: Request, exc: UserInputError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return _error(request, 422, f"the request is not valid: {problems}")

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(api.router, prefix="/api/v1")
    return app
