"""The inventory service's settings (environment variables `INVENTORY_*`)."""

from __future__ import annotations

from orderflow_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from orderflow_inventory.domain import Thresholds


class InventorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVENTORY_", extra="ignore")

    service_name: str = Field(default="inventory", description="Name of the service.")
    http_port: int = Field(default=8004, description="HTTP port (0: no HTTP server).")
    default_reorder_point: int = Field(
        default=10,
        ge=0,
        description="Reorder point of a new stock item whose ProductListed names none.",
    )
    default_reorder_quantity: int = Field(
        default=50, ge=1, description="Units a new stock item reorders when it runs low."
    )

    @property
    def default_thresholds(self) -> Thresholds:
        return Thresholds(self.default_reorder_point, self.default_reorder_quantity)
