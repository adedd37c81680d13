"""Catalog events keep the product view; saga events become the order's facts."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from orderflow_cart.application import CartApplication, CheckoutDetails
from orderflow_cart.domain import ConflictError
from orderflow_cart.handlers import UnknownOrderError
from orderflow_cart.order import Order, OrderStatus
from orderflow_cart.product import Product, product_id
from orderflow_cart.settings import CartSettings
from orderflow_events import (
    Address,
    Delivered,
    Money,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentMethod,
    PriceChanged,
    ProductDelisted,
    ProductUpdated,
    Shipped,
    ShippingMethod,
    StockLine,
    StockReservationFailed,
    StockReserved,
    UnavailableLine,
)

from .conftest import T0, Deliver, Listed

EUR = "EUR"


def eur(amount: str) -> Money:
    return Money(amount=amount, currency=EUR)


def test_catalog_events_keep_the_product_view(
    app: CartApplication, deliver: Deliver, listed: Listed
) -> None:
    deliver(app, listed("MUG-001", "8.50", 350, attributes={"colour": "blue"}))
    deliver(
        app,
        ProductUpdated(
            sku="MUG-001", name="Big mug", category="x", weight_grams=500, updated_at=T0
        ),
        PriceChanged(sku="MUG-001", price=eur("9.50"), previous_price=eur("8.50"), changed_at=T0),
    )
    product = app.repository.get(product_id("MUG-001"))
    assert isinstance(product, Product)
    assert (product.name, product.unit_price, product.weight_grams, product.attributes) == (
        "Big mug",
        eur("9.50"),
        500,
        {},
    )
    assert product.active

    deliver(app, ProductDelisted(sku="MUG-001", delisted_at=T0))
    assert not app.repository.get(product_id("MUG-001")).active

    deliver(app, listed("MUG-001", "7.00", 350))  # listed again: for sale, as now described
    relisted = app.repository.get(product_id("MUG-001"))
    assert relisted.active
    assert relisted.unit_price == eur("7.00")


def test_changes_to_a_sku_never_listed_are_ignored(app: CartApplication, deliver: Deliver) -> None:
    deliver(app, ProductDelisted(sku="GHOST", delisted_at=T0))

    assert app.max_notification_id() == 0


def place(app: CartApplication, deliver: Deliver, listed: Listed) -> UUID:
    deliver(app, listed("MUG-001", "8.50", 350))
    cart_id = app.create_cart()
    app.add_item(cart_id, "MUG-001", 2, {})
    details = CheckoutDetails(
        email="ada@example.com",
        address=Address(name="Ada", line1="1 Rue", city="Paris", postal_code="75001", country="FR"),
        method=ShippingMethod.STANDARD,
        payment=PaymentMethod(token="tok_1", brand="visa", last4="4242"),
    )
    return app.checkout(cart_id, details).order_id


def test_saga_events_in_any_order_reach_delivered_and_survive_a_reload(
    app: CartApplication, settings: CartSettings, deliver: Deliver, listed: Listed
) -> None:
    order_id = place(app, deliver, listed)
    payment_id, shipment_id = uuid4(), uuid4()
    lines = [StockLine(sku="MUG-001", quantity=2)]

    # stock before payment, delivery before shipment, each in its own batch
    deliver(
        app,
        StockReserved(order_id=order_id, reservation_id=uuid4(), lines=lines, reserved_at=T0),
    )
    deliver(
        app,
        PaymentAuthorized(
            order_id=order_id,
            payment_id=payment_id,
            amount=eur("26.28"),
            auth_code="A1",
            brand="visa",
            last4="4242",
            authorized_at=T0,
        ),
    )
    deliver(app, Delivered(order_id=order_id, shipment_id=shipment_id, delivered_at=T0))
    deliver(
        app,
        Shipped(
            order_id=order_id,
            shipment_id=shipment_id,
            carrier="dhl",
            service_level="ground",
            tracking_number="JD0001",
            lines=lines,
            shipped_at=T0,
        ),
        PaymentCaptured(
            order_id=order_id, payment_id=payment_id, amount=eur("26.28"), captured_at=T0
        ),
    )

    view = app.order(order_id)
    assert view.status is OrderStatus.DELIVERED
    assert [entry.fact for entry in view.status_history] == [
        "placed",
        "stock_reserved",
        "payment_authorized",
        "delivered",
        "shipped",
        "payment_captured",
    ]
    assert [entry.ce_type for entry in view.status_history][1:3] == [
        "inventory.stock_reserved.v1",
        "payment.authorized.v1",
    ]
    assert view.tracking is not None
    assert view.tracking.tracking_number == "JD0001"

    # invariant 5: the state rebuilt from the store equals the live state
    fresh = CartApplication(settings)
    try:
        assert fresh.order(order_id) == view
    finally:
        fresh.close()


def test_refusals_are_recorded_as_problems_and_the_first_cancels(
    app: CartApplication, deliver: Deliver, listed: Listed
) -> None:
    order_id = place(app, deliver, listed)

    deliver(
        app,
        PaymentDeclined(
            order_id=order_id, payment_id=uuid4(), reason="card_expired", declined_at=T0
        ),
        StockReservationFailed(
            order_id=order_id,
            unavailable=[UnavailableLine(sku="MUG-001", requested=2, available=1)],
            failed_at=T0,
        ),
    )

    view = app.order(order_id)
    assert view.status is OrderStatus.CANCELLED
    assert view.cancellation is not None
    assert view.cancellation.reason == "payment_declined"  # the first refusal decides
    assert view.problems[0]["fact"] == "payment_declined"
    assert view.problems[0]["reason"] == "card_expired"
    assert view.problems[1]["unavailable"] == [{"sku": "MUG-001", "requested": 2, "available": 1}]


def test_a_second_authorisation_changes_nothing(
    app: CartApplication, deliver: Deliver, listed: Listed
) -> None:
    order_id = place(app, deliver, listed)

    def authorized(code: str) -> PaymentAuthorized:
        return PaymentAuthorized(
            order_id=order_id,
            payment_id=uuid4(),
            amount=eur("26.28"),
            auth_code=code,
            brand="visa",
            last4="4242",
            authorized_at=T0,
        )

    deliver(app, authorized("FIRST"))
    stored = app.max_notification_id()
    deliver(app, authorized("SECOND"))

    assert app.max_notification_id() == stored
    order = app.repository.get(order_id)
    assert isinstance(order, Order)
    assert order.facts["payment_authorized"]["details"]["auth_code"] == "FIRST"
    assert order.facts["payment_authorized"]["details"]["amount"] == Decimal("26.28")


def test_an_event_for_an_order_never_placed_fails_for_the_dead_letters(
    app: CartApplication, deliver: Deliver
) -> None:
    with pytest.raises(UnknownOrderError):
        deliver(app, Delivered(order_id=uuid4(), shipment_id=uuid4(), delivered_at=T0))


def test_two_checkouts_racing_make_one_order(
    app: CartApplication, settings: CartSettings, deliver: Deliver, listed: Listed
) -> None:
    # Given a cart, and a second process that holds its own copy of it
    deliver(app, listed("MUG-001", "8.50", 350))
    cart_id = app.create_cart()
    app.add_item(cart_id, "MUG-001", 1, {})
    rival = CartApplication(settings)
    rival.cart(cart_id)  # cached by the rival, as it was before the checkout
    details = CheckoutDetails(
        email="ada@example.com",
        address=Address(name="Ada", line1="1 Rue", city="Paris", postal_code="75001", country="FR"),
        method=ShippingMethod.STANDARD,
        payment=PaymentMethod(token="tok_1", brand="visa", last4="4242"),
    )
    try:
        # When both check it out
        app.checkout(cart_id, details)
        with pytest.raises(ConflictError):
            rival.checkout(cart_id, details)
    finally:
        rival.close()

    # Then there is one order, and the losing save stored nothing
    orders = [
        event
        for n in app.process_recorder.select_notifications(start=1, limit=100)
        if isinstance(event := app.mapper.to_domain_event(n), Order.Placed)
    ]
    assert len(orders) == 1
