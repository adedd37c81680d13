"""Events on `orders.events`, published by the cart service (the owner of orders)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from orderflow_events.base import OrderEvent
from orderflow_events.card import PaymentMethod
from orderflow_events.common import ContractModel, Quantity, ShortText, Sku, StockLine, UtcDateTime
from orderflow_events.money import CurrencyMismatch, Money
from orderflow_events.topics import ORDERS_EVENTS


class CancelReason(StrEnum):
    PAYMENT_DECLINED = "payment_declined"
    OUT_OF_STOCK = "out_of_stock"
    CUSTOMER = "customer"
    EXPIRED = "expired"


class ShippingMethod(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"


class OrderLine(ContractModel):
    """One line of an order, at the price the customer saw."""

    sku: Sku = Field(description="The stock keeping unit ordered.")
    name: str = Field(min_length=1, max_length=200, description="Product name at checkout.")
    quantity: Quantity = Field(description="Units ordered, at least 1.")
    unit_price: Money = Field(description="Price of one unit at checkout.")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Variant attributes at checkout, e.g. {'size': 'M'}."
    )


class Address(ContractModel):
    """A postal address for shipping."""

    name: str = Field(min_length=1, max_length=200, description="Recipient's name.")
    line1: str = Field(min_length=1, max_length=200, description="Street and number.")
    line2: str | None = Field(default=None, max_length=200, description="Apartment, suite...")
    city: str = Field(min_length=1, max_length=100, description="City or town.")
    region: str | None = Field(default=None, max_length=100, description="State or province.")
    postal_code: str = Field(min_length=1, max_length=20, description="Postal or ZIP code.")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.")
    phone: str | None = Field(default=None, max_length=32, description="Phone for the carrier.")


class OrdersEvent(OrderEvent):
    topic: ClassVar[str] = ORDERS_EVENTS


class OrderPlaced(OrdersEvent):
    """A customer checked out: the saga starts here. total = subtotal + shipping_fee + tax."""

    type_stem: ClassVar[str] = "orders.placed"

    customer_id: UUID | None = Field(default=None, description="The customer; None: guest.")
    customer_email: str = Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Where order notifications go.",
    )
    lines: list[OrderLine] = Field(min_length=1, description="What was ordered.")
    subtotal: Money = Field(description="Sum of quantity * unit_price over the lines.")
    shipping_fee: Money = Field(description="Shipping charged to the customer.")
    tax: Money = Field(description="Tax charged on top of subtotal and shipping.")
    total: Money = Field(description="Amount to authorise: subtotal + shipping_fee + tax.")
    shipping_address: Address = Field(description="Where to ship.")
    shipping_method: ShippingMethod = Field(description="'standard' or 'express'.")
    payment: PaymentMethod = Field(description="Tokenised card: token, brand, last4 only.")
    placed_at: UtcDateTime = Field(description="When the customer checked out.")
    expires_at: UtcDateTime | None = Field(
        default=None,
        description="If not shipped by then, the order is cancelled with reason 'expired'; "
        "None: the cart service's default deadlines apply.",
    )

    @model_validator(mode="after")
    def _amounts_add_up(self) -> OrderPlaced:
        # Plain Decimal arithmetic: this runs for every OrderPlaced parsed, so it stays cheap.
        currency = self.total.currency
        amounts = [self.subtotal, self.shipping_fee, self.tax, *(x.unit_price for x in self.lines)]
        for money in amounts:
            if money.currency != currency:
                raise CurrencyMismatch(currency, money.currency)
        lines_sum = sum((ln.unit_price.amount * ln.quantity for ln in self.lines), Decimal(0))
        if lines_sum != self.subtotal.amount:
            raise ValueError(f"subtotal {self.subtotal} != sum of lines {lines_sum} {currency}")
        total = self.subtotal.amount + self.shipping_fee.amount + self.tax.amount
        if total != self.total.amount:
            raise ValueError(
                f"total {self.total} != subtotal + shipping_fee + tax {total} {currency}"
            )
        return self

    @property
    def currency(self) -> str:
        return self.total.currency


class OrderCancelled(OrdersEvent):
    """The order is cancelled; payment voids or refunds, inventory releases, fulfillment stops."""

    type_stem: ClassVar[str] = "orders.cancelled"

    reason: CancelReason = Field(description="payment_declined, out_of_stock, customer or expired.")
    detail: ShortText | None = Field(default=None, description="Human-readable context.")
    cancelled_at: UtcDateTime = Field(description="When the order was cancelled.")


class CancellationRequested(OrdersEvent):
    """The customer (or a missed deadline) wants the order stopped before it ships.

    Fulfillment decides: it answers ShipmentStopped if the parcel has not left,
    after which cart publishes OrderCancelled; if the parcel left first, Shipped is
    the answer and the order is not cancelled. One outcome, never both.
    """

    type_stem: ClassVar[str] = "orders.cancellation_requested"

    reason: CancelReason = Field(description="'customer' or 'expired'.")
    detail: ShortText | None = Field(default=None, description="Human-readable context.")
    requested_at: UtcDateTime = Field(description="When the cancellation was asked for.")


class ReturnRequested(OrdersEvent):
    """A customer asked to return some delivered units (partial and repeated returns allowed)."""

    type_stem: ClassVar[str] = "orders.return_requested"

    return_id: UUID = Field(description="Identifies this return across services.")
    lines: list[StockLine] = Field(min_length=1, description="Units the customer returns.")
    reason: ShortText = Field(description="The customer's reason, free text.")
    requested_at: UtcDateTime = Field(description="When the return was requested.")
