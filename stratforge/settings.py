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
| ``STRATFORGE_DEPLOYER`` | where promoted versions run: ``local`` (this machine's engine) or ``kubernetes`` | ``local`` |
| ``STRATFORGE_K8S_NAMESPACE`` | namespace of the kubernetes deployer's runtime | ``stratforge`` |
| ``STRATFORGE_K8S_IMAGE`` | runtime image (sf-engine, sf-venue, stratforge) of the kubernetes deployer | the deployer's |
| ``STRATFORGE_K8S_PLUGIN_CLAIM`` | PVC holding the plugins as ``<sha256>.so`` (PVC mode; default: one ConfigMap per plugin) | — |
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
    deployer: Literal["local", "kubernetes"] = Field(
        default="local", description="Where promoted versions run (docs/operations.md).")
    k8s_namespace: str = Field(default="stratforge",
                               description="Namespace of the kubernetes deployer's runtime.")
    k8s_image: str | None = Field(default=None, description="Runtime image of the kubernetes "
                                  "deployer (sf-engine, sf-venue and stratforge).")
    k8s_plugin_claim: str | None = Field(default=None, description="A PVC with the plugins as "
                                         "<sha256>.so (default: one ConfigMap per plugin).")


def load_settings() -> Settings:
    """The settings from the environment (a bad value is a one-line error naming the variable)."""
    return Settings()
