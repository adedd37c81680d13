"""Upstream events the inventory tests publish: listings, orders and authorisations."""

from __future__ import annotations

import uuid
from decimal import Decimal

from orderflow_events import Money, OrderLine, OrderPlaced, PaymentAuthorized, ProductListed
from orderflow_events.samples import T0, sample_order_placed


def listed(sku: str) -> ProductListed:
    price = Money.of("5.00", "EUR")
    return ProductListed(
        sku=sku, name=sku, category="test", weight_grams=100, price=price, listed_at=T0
    )


def placed(order_id: uuid.UUID, **lines: int) -> OrderPlaced:
    """An order of `lines` (sku=quantity) at 5.00 EUR a unit, no shipping or tax."""
    price, zero = Money.of("5.00", "EUR"), Money.zero("EUR")
    subtotal = Money.of(Decimal(5) * sum(lines.values()), "EUR")
    order_lines = [OrderLine(sku=s, name=s, quantity=q, unit_price=price) for s, q in lines.items()]
    return sample_order_placed().model_copy(
        update={
            "order_id": order_id,
            "lines": order_lines,
            "subtotal": subtotal,
            "shipping_fee": zero,
            "tax": zero,
            "total": subtotal,
        }
    )


def authorized(order_id: uuid.UUID) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=uuid.uuid4(),
        amount=Money.of("5.00", "EUR"),
        auth_code="A1",
        brand="visa",
        last4="4242",
        authorized_at=T0,
    )
