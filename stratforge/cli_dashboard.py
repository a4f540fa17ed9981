"""`stratforge dashboard`: serve the web dashboard (uvicorn). Its users and passwords are the
registry's (`stratforge users ...` in cli_registry)."""

from __future__ import annotations

import click
import uvicorn

from stratforge.cli_registry import open_registry
from stratforge.dashboard.app import create_app
from stratforge.dashboard.settings import DashboardSettings, is_loopback


@click.command("dashboard")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1; "
              "STRATFORGE_DASHBOARD_HOST).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default 8080; STRATFORGE_DASHBOARD_PORT).")
def dashboard_cmd(host: str | None, port: int | None) -> None:
    """Serve the web dashboard (docs/dashboard.md). Log in with a registry user's password
    (`stratforge users bootstrap-admin NAME` makes the first one)."""
    base = DashboardSettings()
    settings = base.model_copy(update={k: v for k, v in (("host", host), ("port", port))
                                       if v is not None})
    app = create_app(settings, open_registry())
    if not settings.secure_cookie() and not is_loopback(settings.host):
        click.echo("warning: the session cookie is not Secure on a non-loopback address; serve "
                   "the dashboard behind TLS and unset STRATFORGE_DASHBOARD_COOKIE_SECURE",
                   err=True)
    click.echo(f"stratforge dashboard on http://{settings.host}:{settings.port}/ "
               f"(session cookie {'Secure' if settings.secure_cookie() else 'not Secure: loopback'})")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                proxy_headers=False, server_header=False)


def register(group: click.Group) -> None:
    group.add_command(dashboard_cmd)


__all__ = ["dashboard_cmd", "register"]
