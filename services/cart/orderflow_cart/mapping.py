"""Stored domain events -> integration events on `orders.events` (the relay calls this)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    Address,
    CancellationRequested,
    CancelReason,
    IntegrationEvent,
    Money,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentMethod,
    ReturnRequested,
    ShippingMethod,
    StockLine,
)

from orderflow_cart.order import Order


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """The order's placement, cancellation (asked for, done) and return requests are
    public; every other domain event stays private."""
    if isinstance(domain_event, Order.Placed):
        return order_placed(domain_event)
    if isinstance(domain_event, Order.Cancelled):
        return OrderCancelled(
            order_id=domain_event.originator_id,
            reason=CancelReason(domain_event.reason),
            detail=_short(domain_event.detail),
            cancelled_at=domain_event.at,
        )
    if isinstance(domain_event, Order.CancellationRequested):
        return CancellationRequested(
            order_id=domain_event.originator_id,
            reason=CancelReason(domain_event.reason),
            detail=_short(domain_event.detail),
            requested_at=domain_event.at,
        )
    if isinstance(domain_event, Order.ReturnRequested):
        return ReturnRequested(
            order_id=domain_event.originator_id,
            return_id=domain_event.return_id,
            lines=[StockLine(sku=ln["sku"], quantity=ln["quantity"]) for ln in domain_event.lines],
            reason=domain_event.reason,
            requested_at=domain_event.at,
        )
    return None


def _short(text: str | None) -> str | None:
    """A contract ShortText (1 to 500 characters), or None."""
    return (text.strip()[:500] or None) if text else None


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
