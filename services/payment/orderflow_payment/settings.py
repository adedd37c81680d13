"""The payment service's settings (environment variables `PAYMENT_*`)."""

from __future__ import annotations

from typing import Literal

from orderflow_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore")

    service_name: str = Field(default="payment", description="Service name and consumer group.")
    http_port: int = Field(default=8003, description="HTTP port (0: no HTTP server).")
    gateway: Literal["sandbox"] = Field(
        default="sandbox", description="Payment gateway: only the built-in 'sandbox' so far."
    )
    gateway_attempts: int = Field(
        default=3, ge=1, le=10, description="Gateway calls per step before giving up."
    )
    gateway_retry_delay_s: float = Field(
        default=0.1, ge=0, le=10, description="Wait before the first retry of a gateway call."
    )
    refund_shipping: Literal["never", "on_full_return"] = Field(
        default="never",
        description="Refund the shipping fee (and its tax) when a return brings back the "
        "order's last units ('on_full_return'), or never.",
    )
    gateway_retry_max_delay_s: float = Field(
        default=1.0, ge=0, le=30, description="Longest wait between gateway retries (doubling)."
    )
    side_effects: bool = Field(
        default=True,
        description="False: no real gateway, whatever `gateway` says: the in-memory sandbox "
        "answers (a sandbox copy of the service, `orderflow replay`).",
    )
