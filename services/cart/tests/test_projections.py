"""The customers' order list follows the orders' facts, forward only, and rebuilds."""

from __future__ import annotations

from uuid import uuid4

from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication, CheckoutDetails
from orderflow_cart.order import OrderStatus
from orderflow_cart.projections import orders_of
from orderflow_events import (
    Address,
    Money,
    PaymentAuthorized,
    PaymentMethod,
    ShippingMethod,
    StockLine,
    StockReserved,
)
from orderflow_runtime.projections import Projections

from .conftest import T0, Deliver, Listed


def test_status_moves_forward_only_and_survives_a_rebuild(
    service: tuple[CartApplication, Projections, TestClient], deliver: Deliver, listed: Listed
) -> None:
    app, projections, _ = service
    deliver(app, listed("MUG-001", "8.50", 350))
    cart_id = app.create_cart()
    app.add_item(cart_id, "MUG-001", 3, {})
    details = CheckoutDetails(
        email="Ada@Example.com",
        address=Address(name="Ada", line1="1 Rue", city="Paris", postal_code="75001", country="FR"),
        method=ShippingMethod.STANDARD,
        payment=PaymentMethod(token="tok_1", brand="visa", last4="4242"),
    )
    order_id = app.checkout(cart_id, details).order_id

    # stock reserved arrives before the authorisation
    deliver(
        app,
        StockReserved(
            order_id=order_id,
            reservation_id=uuid4(),
            lines=[StockLine(sku="MUG-001", quantity=3)],
            reserved_at=T0,
        ),
    )
    deliver(
        app,
        PaymentAuthorized(
            order_id=order_id,
            payment_id=uuid4(),
            amount=Money(amount="37.68", currency="EUR"),
            auth_code="A1",
            brand="visa",
            last4="4242",
            authorized_at=T0,
        ),
    )
    projections.catch_up()

    [summary] = orders_of(projections.engine, "ada@example.com", limit=10)
    assert summary.order_id == order_id
    assert summary.status is OrderStatus.STOCK_RESERVED
    assert summary.item_count == 3
    assert summary.total == Money(amount="37.68", currency="EUR")  # (25.50 + 5.90) x 1.20

    projections.rebuild()
    assert orders_of(projections.engine, "ADA@example.com", limit=10) == [summary]
