"""Machine settings: how this installation runs things (not what a strategy is — that is the spec).

Read from ``STRATFORGE_*`` environment variables (pydantic-settings); a command-line option wins
over the environment. No setting can widen the sandbox or turn off a risk check: they choose
*where* untrusted code runs, never *how much* it may do.

| variable | meaning | default |
|---|---|---|
| ``STRATFORGE_SANDBOX_BACKEND`` | ``local``, ``docker`` or ``kubernetes`` | ``local`` |
| ``STRATFORGE_SANDBOX_IMAGE`` | container image of the docker/kubernetes backends | the backend's |
| ``STRATFORGE_SANDBOX_NAMESPACE`` | namespace of the kubernetes backend's Jobs | ``stratforge-sandbox`` |
| ``STRATFORGE_DB_URL`` | the registry's database (SQLite file or PostgreSQL URL) | a SQLite file in ``~/.local/share/stratforge`` |
| ``STRATFORGE_USER`` | the acting registry user of registry commands | — |
| ``STRATFORGE_TOKEN`` | an API token: the acting user is its owner (wins over ``STRATFORGE_USER``) | — |
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """This installation's settings."""

    model_config = SettingsConfigDict(env_prefix="STRATFORGE_", extra="ignore", frozen=True)

    sandbox_backend: Literal["local", "docker", "kubernetes"] = Field(
        default="local", description="Where generated code is compiled, tested and backtested.")
    sandbox_image: str | None = Field(
        default=None, description="Container image of the docker and kubernetes backends.")
    sandbox_namespace: str | None = Field(
        default=None, description="Namespace of the kubernetes backend's Jobs.")
    db_url: str | None = Field(
        default=None, description="The registry's database URL (sqlite:///FILE or "
        "postgresql://...); default: a SQLite file under $XDG_DATA_HOME/stratforge.")
    user: str | None = Field(default=None, description="The acting registry user.")
    token: SecretStr | None = Field(default=None, description="An API token; its owner is the "
                                    "acting registry user.")


def load_settings() -> Settings:
    """The settings from the environment (a bad value is a one-line error naming the variable)."""
    return Settings()
