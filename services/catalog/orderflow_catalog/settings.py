"""The catalog service's settings (environment variables `CATALOG_*`)."""

from __future__ import annotations

from orderflow_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = Field(default="catalog", description="Name of the service.")
    http_port: int = Field(default=8001, description="HTTP port (0: no HTTP server).")
