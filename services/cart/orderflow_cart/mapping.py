"""Stored domain events -> integration events on `orders.events` (the relay calls this)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    Address,
    IntegrationEvent,
    Money,
    OrderLine,
    OrderPlaced,
    PaymentMethod,
    ShippingMethod,
)

from orderflow_cart.order import Order


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """OrderPlaced for a placed order; every other domain event stays private."""
    if isinstance(domain_event, Order.Placed):
        return order_placed(domain_event)
    return None


def order_placed(placed: Order.Placed) -> OrderPlaced:
    currency = placed.currency

    def money(amount: Any) -> Money:
        return Money(amount=amount, currency=currency)

    return OrderPlaced(
        order_id=placed.originator_id,
        customer_email=placed.customer_email,
        lines=[
            OrderLine(
                sku=line["sku"],
                name=line["name"],
                quantity=line["quantity"],
                unit_price=money(line["unit_price"]),
                attributes=line["attributes"],
            )
            for line in placed.lines
        ],
        subtotal=money(placed.subtotal),
        shipping_fee=money(placed.shipping_fee),
        tax=money(placed.tax),
        total=money(placed.total),
        shipping_address=Address.model_validate(placed.shipping_address),
        shipping_method=ShippingMethod(placed.shipping_method),
        payment=PaymentMethod.model_validate(placed.payment),
        placed_at=placed.placed_at,
    )
