"""The cart service's settings (environment variables `CART_*`).

Maps are JSON in the environment, e.g.
`CART_TAX_RATES='{"DE": "0.19", "US-CA": "0.0725"}'` or
`CART_SHIPPING_RATES='{"standard": {"base": "4.90", "per_kg": "1.00", "free_from": "50"}, ...}'`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from orderflow_events import ACTIVE_CURRENCIES, ShippingMethod
from orderflow_runtime.settings import OffPathSettings
from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from orderflow_cart.pricing import PricingRules, Rate, ShippingRate
from orderflow_cart.status import OrderStatus

Seconds = Annotated[float, Field(gt=0)]
DAY = 24 * 3600

TaxArea = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
"""A country ("DE") or a country and region ("US-CA") of the tax table."""


def _default_shipping() -> dict[ShippingMethod, ShippingRate]:
    return {
        ShippingMethod.STANDARD: ShippingRate(
            base=Decimal("4.90"), per_kg=Decimal("1.00"), free_from=Decimal("50.00")
        ),
        ShippingMethod.EXPRESS: ShippingRate(base=Decimal("9.90"), per_kg=Decimal("2.00")),
    }


def _default_tax_rates() -> dict[str, Decimal]:
    return {
        "DE": Decimal("0.19"),
        "FR": Decimal("0.20"),
        "GB": Decimal("0.20"),
        "US-CA": Decimal("0.0725"),
        "US-NY": Decimal("0.04"),
    }


class CartSettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="CART_", extra="ignore")

    service_name: str = Field(default="cart", description="Name of the service.")
    http_port: int = Field(default=8002, description="HTTP port (0: no HTTP server).")
    currency: str = Field(
        default="EUR", description="The shop's ISO 4217 currency: every price and order is in it."
    )
    shipping_rates: dict[ShippingMethod, ShippingRate] = Field(
        default_factory=_default_shipping,
        description="Fee rule per shipping method, amounts in the shop's currency.",
    )
    tax_rates: dict[TaxArea, Rate] = Field(
        default_factory=_default_tax_rates,
        description='Tax rate by "<country>" or "<country>-<region>", e.g. {"US-CA": "0.0725"}.',
    )
    default_tax_rate: Rate = Field(
        default=Decimal(0), description="Rate where the table names neither region nor country."
    )
    deadline_placed_s: Seconds = Field(
        default=900, description="Longest wait for the payment, from checkout (then: expired)."
    )
    deadline_payment_authorized_s: Seconds = Field(
        default=900, description="Longest wait for the stock after the authorisation."
    )
    deadline_stock_reserved_s: Seconds = Field(
        default=3600, description="Longest wait for the shipment after the reservation."
    )
    deadline_shipped_s: Seconds = Field(
        default=14 * DAY, description="Delivery time after which operators are alerted."
    )
    deadline_return_requested_s: Seconds = Field(
        default=30 * DAY, description="Time an open return may take before operators are alerted."
    )
    deadline_poll_s: Seconds = Field(
        default=1.0, description="How often the deadline watcher looks for overdue orders."
    )
    order_counts_every_s: Seconds = Field(
        default=15.0,
        description="How often the deadline watcher counts the orders by status (the "
        "orderflow_orders_by_state gauge): the count reads every order ever placed.",
    )

    @field_validator("currency")
    @classmethod
    def _active_currency(cls, value: str) -> str:
        if value not in ACTIVE_CURRENCIES:
            raise ValueError(f"{value!r} is not an active ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _every_method_priced(self) -> CartSettings:
        missing = set(ShippingMethod) - set(self.shipping_rates)
        if missing:
            raise ValueError(f"shipping_rates needs a rate for {sorted(missing)}")
        return self

    def deadlines(self) -> dict[OrderStatus, timedelta]:
        """How long an order may stay in each non-terminal status."""
        return {
            OrderStatus.PLACED: timedelta(seconds=self.deadline_placed_s),
            OrderStatus.PAYMENT_AUTHORIZED: timedelta(seconds=self.deadline_payment_authorized_s),
            OrderStatus.STOCK_RESERVED: timedelta(seconds=self.deadline_stock_reserved_s),
            OrderStatus.SHIPPED: timedelta(seconds=self.deadline_shipped_s),
            OrderStatus.RETURN_REQUESTED: timedelta(seconds=self.deadline_return_requested_s),
        }

    def pricing_rules(self) -> PricingRules:
        return PricingRules(
            currency=self.currency,
            shipping={str(method): rate for method, rate in self.shipping_rates.items()},
            tax_rates=dict(self.tax_rates),
            default_tax_rate=self.default_tax_rate,
        )
