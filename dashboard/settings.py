"""The dashboard's settings (pydantic-settings, ``STRATFORGE_DASHBOARD_*`` variables; the
registry's database is ``STRATFORGE_DB_URL`` like every registry command).

| variable | meaning | default |
|---|---|---|
| ``STRATFORGE_DB_URL`` | the registry's database | the registry's default SQLite file |
| ``STRATFORGE_DASHBOARD_HOST`` / ``_PORT`` | where to listen | ``127.0.0.1`` / ``8080`` |
| ``STRATFORGE_DASHBOARD_SECRET_KEY_FILE`` | the key that signs session cookies (created, mode 0600, when missing) | ``$XDG_CONFIG_HOME/stratforge/dashboard.key`` |
| ``STRATFORGE_DASHBOARD_COOKIE_SECURE`` | the session cookie's ``Secure`` flag | on, except when bound to a loopback address (plain http on 127.0.0.1) |
| ``STRATFORGE_DASHBOARD_RUNTIME_URL`` | the control plane's HTTP endpoint (``/status`` is read from it) | the port in ``<STRATFORGE_RUNTIME_DIR>/control.json``; none: "runtime not reachable" |
| ``STRATFORGE_RUNTIME_DIR`` | the control plane's state folder | ``$XDG_DATA_HOME/stratforge/runtime`` |
| ``STRATFORGE_DASHBOARD_LOGIN_ATTEMPTS`` / ``_LOGIN_WINDOW_S`` | failed logins allowed per user and address in the window | 5 per 300 s |
| ``STRATFORGE_DASHBOARD_SESSION_MAX_AGE_S`` | how long a login lasts | 8 hours |
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stratforge.core.errors import UserInputError


def _default_key_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "stratforge" / "dashboard.key"


def _default_runtime_dir() -> Path:
    """The control plane's default state folder (as the runtime's): ``$XDG_DATA_HOME/stratforge/runtime``."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stratforge" / "runtime"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DashboardSettings(BaseSettings):
    """How the dashboard runs."""

    model_config = SettingsConfigDict(env_prefix="STRATFORGE_DASHBOARD_", extra="ignore",
                                      frozen=True)

    db_url: str | None = Field(default=None, validation_alias=AliasChoices("db_url", "STRATFORGE_DB_URL"),
                               description="The registry's database URL.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port to listen on.")
    secret_key_file: Path = Field(default_factory=_default_key_file,
                                  description="File holding the session-signing key.")
    cookie_secure: bool | None = Field(
        default=None, description="Secure flag of the session cookie; None: on unless the "
        "dashboard is bound to a loopback address.")
    runtime_url: str | None = Field(default=None, description="The control plane's HTTP "
                                    "endpoint, e.g. http://127.0.0.1:9109.")
    runtime_dir: Path = Field(default_factory=_default_runtime_dir,
                              validation_alias=AliasChoices("runtime_dir", "STRATFORGE_RUNTIME_DIR"),
                              description="The control plane's state folder: without runtime_url, "
                              "its control.json names the HTTP port.")
    runtime_timeout_s: float = Field(default=0.5, gt=0, description="Timeout of a call to the "
                                     "control plane.")
    login_attempts: int = Field(default=5, ge=1, description="Failed logins allowed per user "
                                "and address within the window.")
    login_window_s: float = Field(default=300.0, gt=0, description="The login rate window.")
    session_max_age_s: int = Field(default=8 * 3600, gt=0, description="Session lifetime.")
    bundle_roots: tuple[Path, ...] = Field(
        default=(), description="Folders bundles may be read from (empty: any bundle folder "
        "the registry records).")

    def secure_cookie(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else not is_loopback(self.host)

    def secret_key(self) -> str:
        """The session-signing key, created (256 random bits, mode 0600) on first use."""
        path = self.secret_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 32:
            raise UserInputError(f"{path}: the dashboard's secret key is shorter than 32 "
                                 "characters; delete the file to have a new one made")
        return key
