"""The customers' order list follows the orders' facts, forward only, and rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication, CheckoutDetails
from orderflow_cart.listings import order_page
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

from .conftest import CATALOG, T0, Deliver, Listed
from .saga import (
    authorized,
    declined,
    delivered,
    place,
    refunded,
    reserved,
    return_received,
    shipped,
)


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


def test_the_operators_list_follows_cancels_returns_and_refunds_and_rebuilds(
    service: tuple[CartApplication, Projections, TestClient], deliver: Deliver
) -> None:
    app, projections, _ = service
    deliver(app, *CATALOG)
    cancelled, returned = place(app, MUG_001=1), place(app, MUG_001=2, BOOT_42=1)
    deliver(app, declined(cancelled))
    deliver(app, authorized(returned), reserved(returned, MUG_001=2, BOOT_42=1))
    deliver(app, shipped(returned, MUG_001=2, BOOT_42=1), delivered(returned))
    return_id = app.request_return(returned, {"MUG-001": 1}, "Chipped")
    deliver(app, return_received(returned, return_id, "RMA-1", MUG_001=1))
    deliver(app, refunded(returned, "10.12", return_id), refunded(returned, "1.00", None))
    projections.catch_up()
    now = datetime.now(UTC)

    page = order_page(projections.engine, now, page=1, size=10, status=None)

    rows = {row.order_id: row for row in page.items}
    assert (rows[cancelled].status, rows[cancelled].cancel_reason) == (
        "cancelled",
        "payment_declined",
    )
    assert rows[cancelled].deadline_at is None
    assert rows[returned].status is OrderStatus.PARTIALLY_RETURNED
    assert rows[returned].refunded == Money(amount="11.12", currency="EUR")
    assert [(ln.sku, ln.quantity, ln.returned) for ln in rows[returned].lines] == [
        ("MUG-001", 2, 1),
        ("BOOT-42", 1, 0),
    ]
    assert rows[returned].status_since == app.order(returned).status_since

    projections.rebuild()
    assert order_page(projections.engine, now, page=1, size=10, status=None) == page
