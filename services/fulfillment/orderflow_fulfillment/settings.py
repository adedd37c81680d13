"""The fulfillment service's settings (environment variables `FULFILLMENT_*`).

The carriers are a JSON list in `FULFILLMENT_CARRIERS` (see `rates.CarrierRates`).
"""

from __future__ import annotations

from datetime import timedelta

from orderflow_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from orderflow_fulfillment.rates import CarrierRates, default_carriers


class FulfillmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FULFILLMENT_", extra="ignore")

    service_name: str = Field(default="fulfillment", description="Service name, consumer group.")
    http_port: int = Field(default=8005, description="HTTP port (0: no HTTP server).")
    warehouse_country: str = Field(
        default="DE", pattern=r"^[A-Z]{2}$", description="ISO country we ship from (zones)."
    )
    shipping_currency: str = Field(
        default="EUR", pattern=r"^[A-Z]{3}$", description="Currency of the carriers' rates."
    )
    packaging_grams: int = Field(default=150, ge=0, description="Box and filling per parcel.")
    fallback_item_grams: int = Field(
        default=500,
        gt=0,
        description="Weight of a unit whose product fulfillment has not heard of (logged).",
    )
    carriers: list[CarrierRates] = Field(
        default_factory=default_carriers, min_length=1, description="The sandbox carriers."
    )
    delivery_delay_s: float = Field(
        default=2.0,
        ge=0,
        description="Sandbox carriers confirm delivery this long after "
        "shipping, through our webhook; 0 disables it.",
    )
    delivery_poll_s: float = Field(
        default=0.5, gt=0, description="How often the sandbox carriers look for due deliveries."
    )
    return_window_s: float = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="A return may be requested this long after delivery (default 30 days).",
    )
    side_effects: bool = Field(
        default=True,
        description="False: no carrier calls back (no sandbox deliveries through the webhook); "
        "a sandbox copy of the service, `orderflow replay`.",
    )
    carrier_webhook_key: SecretStr | None = Field(
        default=None,
        description="Key carriers send to the webhook (X-API-Key); unset: the admin key.",
    )

    @property
    def return_window(self) -> timedelta:
        return timedelta(seconds=self.return_window_s)

    @property
    def webhook_key(self) -> SecretStr | None:
        return self.carrier_webhook_key or self.admin_api_key
