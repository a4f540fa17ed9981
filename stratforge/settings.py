"""Machine settings: how this installation runs things (not what a strategy is — that is the spec).

Read from ``STRATFORGE_*`` environment variables (pydantic-settings); a command-line option wins
over the environment. No setting can widen the sandbox or turn off a risk check: they choose
*where* untrusted code runs, never *how much* it may do.

| variable | meaning | default |
|---|---|---|
| ``STRATFORGE_SANDBOX_BACKEND`` | ``local``, ``docker`` or ``kubernetes`` | ``local`` |
| ``STRATFORGE_SANDBOX_IMAGE`` | container image of the docker/kubernetes backends | the backend's |
| ``STRATFORGE_SANDBOX_NAMESPACE`` | namespace of the kubernetes backend's Jobs | ``stratforge-sandbox`` |
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
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


def load_settings() -> Settings:
    """The settings from the environment (a bad value is a one-line error naming the variable)."""
    return Settings()
