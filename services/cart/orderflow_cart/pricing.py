"""What an order costs: lines at the cart's prices, shipping by method and weight, tax.

The rules, all in the shop's currency and configurable (see `CartSettings`):

- subtotal = sum of quantity x unit price, exact (prices already have minor-unit decimals);
- shipping fee of a method = base + per_kg x every started kilogram above the
  included weight (1 kg by default), free when the subtotal reaches the method's
  `free_from` threshold (standard from 50.00 by default);
- tax = rate x (subtotal + shipping fee), rounded once to the currency's minor unit,
  half to even. The rate comes from the table by "<country>-<region>" (e.g. "US-CA"),
  else by "<country>" (e.g. "DE"), else the default rate (0);
- total = subtotal + shipping fee + tax, exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Final

from orderflow_events import Money
from pydantic import BaseModel, ConfigDict, Field

GRAMS_PER_KG: Final = 1000

Rate = Annotated[Decimal, Field(ge=0, lt=1)]
"""A tax rate as a fraction: 0.19 is 19 %."""


class ShippingRate(BaseModel):
    """The fee of one shipping method: base + per started kg above the included weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: Decimal = Field(ge=0, description="Fee for a parcel up to the included weight.")
    per_kg: Decimal = Field(ge=0, description="Added per started kilogram above it.")
    included_grams: int = Field(default=1000, ge=0, description="Weight the base fee covers.")
    free_from: Decimal | None = Field(
        default=None, ge=0, description="Subtotal from which this method is free; None: never."
    )

    def fee(self, weight_grams: int, subtotal: Money) -> Money:
        currency = subtotal.currency
        if self.free_from is not None and subtotal.amount >= self.free_from:
            return Money.zero(currency)
        over = max(0, weight_grams - self.included_grams)
        started_kg = -(-over // GRAMS_PER_KG)  # ceiling division: 1 g over is a started kg
        return Money.of(self.base + self.per_kg * started_kg, currency)


@dataclass(frozen=True)
class PricedLine:
    """One cart line at the price and weight the product view has now."""

    sku: str
    name: str
    quantity: int
    unit_price: Money
    weight_grams: int
    attributes: Mapping[str, str]

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Quote:
    """Every amount of an order; total = subtotal + shipping_fee + tax exactly."""

    lines: tuple[PricedLine, ...]
    subtotal: Money
    shipping_fee: Money
    tax: Money
    total: Money
    weight_grams: int
    tax_rate: Decimal


@dataclass(frozen=True)
class PricingRules:
    currency: str
    shipping: Mapping[str, ShippingRate]
    tax_rates: Mapping[str, Decimal]
    default_tax_rate: Decimal = Decimal(0)

    def tax_rate(self, country: str, region: str | None) -> Decimal:
        """The rate for "<country>-<region>", else "<country>", else the default."""
        if region:
            code = region.strip().upper()
            code = code.removeprefix(f"{country}-")  # "US-CA" and "CA" name the same state
            rate = self.tax_rates.get(f"{country}-{code}")
            if rate is not None:
                return rate
        return self.tax_rates.get(country, self.default_tax_rate)

    def quote(
        self, lines: Sequence[PricedLine], method: str, country: str, region: str | None
    ) -> Quote:
        subtotal = Money.total((line.total for line in lines), self.currency)
        weight = sum(line.weight_grams * line.quantity for line in lines)
        shipping_fee = self.shipping[method].fee(weight, subtotal)
        rate = self.tax_rate(country, region)
        tax = Money.of((subtotal.amount + shipping_fee.amount) * rate, self.currency)
        return Quote(
            lines=tuple(lines),
            subtotal=subtotal,
            shipping_fee=shipping_fee,
            tax=tax,
            total=subtotal + shipping_fee + tax,
            weight_grams=weight,
            tax_rate=rate,
        )
