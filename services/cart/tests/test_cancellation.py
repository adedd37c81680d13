"""Cancellation: refusals cancel at once; a customer's cancel waits for fulfillment's answer."""

from __future__ import annotations

from uuid import UUID

import pytest
from orderflow_cart.application import CartApplication
from orderflow_cart.order import Order, TooLateToCancelError
from orderflow_cart.settings import CartSettings
from orderflow_cart.status import CancelOutcome, OrderStatus
from orderflow_events import CancellationRequested, CancelReason, OrderCancelled

from .conftest import Deliver, Listed
from .saga import (
    authorized,
    declined,
    delivered,
    place,
    published,
    reserved,
    shipped,
    short,
    stopped,
)


@pytest.fixture
def order_id(app: CartApplication, deliver: Deliver, listed: Listed) -> UUID:
    deliver(app, listed("MUG-001", "8.50", 350))
    return place(app, MUG_001=2)


def cancels(app: CartApplication) -> list[tuple[UUID, CancelReason, str | None]]:
    events = published(app, OrderCancelled)
    return [(e.order_id, e.reason, e.detail) for e in events if isinstance(e, OrderCancelled)]


def requests(app: CartApplication) -> list[tuple[UUID, CancelReason]]:
    events = published(app, CancellationRequested)
    return [(e.order_id, e.reason) for e in events if isinstance(e, CancellationRequested)]


def test_a_declined_payment_cancels_once(
    app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    deliver(app, declined(order_id))
    deliver(app, declined(order_id))  # a second decline (another payment attempt)
    deliver(app, short(order_id, "MUG-001", 2, 0))  # a second trigger

    view = app.order(order_id)
    assert view.status is OrderStatus.CANCELLED
    assert view.cancellation is not None
    assert (view.cancellation.status, view.cancellation.reason) == ("cancelled", "payment_declined")
    assert cancels(app) == [(order_id, CancelReason.PAYMENT_DECLINED, "insufficient_funds")]
    assert [h.fact for h in view.status_history][-1] == "stock_reservation_failed"


def test_missing_stock_cancels_and_later_facts_keep_it_cancelled(
    app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    deliver(app, short(order_id, "MUG-001", 2, 1))
    deliver(app, authorized(order_id))  # the authorisation arrives after the failure

    view = app.order(order_id)
    assert view.status is OrderStatus.CANCELLED
    assert cancels(app) == [
        (order_id, CancelReason.OUT_OF_STOCK, "MUG-001: 2 requested, 1 available")
    ]
    assert [(h.fact, h.status) for h in view.status_history] == [
        ("placed", "placed"),
        ("stock_reservation_failed", "placed"),
        ("cancelled", "cancelled"),
        ("payment_authorized", "cancelled"),
    ]


def test_a_customer_cancel_is_requested_once_then_stopped_then_cancelled(
    app: CartApplication, settings: CartSettings, deliver: Deliver, order_id: UUID
) -> None:
    # Given an authorised order the customer asks to cancel, twice
    deliver(app, authorized(order_id))
    assert app.request_cancellation(order_id, "changed my mind") is CancelOutcome.REQUESTED
    assert app.request_cancellation(order_id, None) is CancelOutcome.ALREADY_REQUESTED

    # Then one request is published, and nothing is cancelled yet
    assert requests(app) == [(order_id, CancelReason.CUSTOMER)]
    assert cancels(app) == []
    view = app.order(order_id)
    assert view.status is OrderStatus.PAYMENT_AUTHORIZED
    assert view.cancellation is not None
    assert view.cancellation.status == "requested"

    # When fulfillment stops the order (twice: a redelivery)
    deliver(app, stopped(order_id))
    deliver(app, stopped(order_id))

    # Then it is cancelled once, for the customer, and a further cancel changes nothing
    assert cancels(app) == [(order_id, CancelReason.CUSTOMER, "changed my mind")]
    assert app.request_cancellation(order_id, None) is CancelOutcome.ALREADY_CANCELLED
    view = app.order(order_id)
    assert view.status is OrderStatus.CANCELLED
    assert view.cancellation is not None
    assert view.cancellation.status == "cancelled"
    assert view.cancellation.requested_at is not None
    fresh = CartApplication(settings)
    try:
        assert fresh.order(order_id) == view  # the store rebuilds the same order
    finally:
        fresh.close()


def test_a_shipment_that_came_first_refuses_the_cancel(
    app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    # Given a reserved order whose customer asks to cancel
    deliver(app, authorized(order_id), reserved(order_id, MUG_001=2))
    app.request_cancellation(order_id, None)

    # When the parcel had left already
    deliver(app, shipped(order_id, MUG_001=2))

    # Then the cancellation is refused, the order follows the shipment, never cancelled
    view = app.order(order_id)
    assert view.status is OrderStatus.SHIPPED
    assert [(h.fact, h.status) for h in view.status_history][-2:] == [
        ("shipped", "shipped"),
        ("cancellation_refused", "shipped"),
    ]
    assert view.cancellation is not None
    assert view.cancellation.status == "refused"
    with pytest.raises(TooLateToCancelError, match="return it instead"):
        app.request_cancellation(order_id, None)

    # And a stray stop after the shipment cancels nothing either
    deliver(app, stopped(order_id), delivered(order_id))
    assert cancels(app) == []
    assert app.order(order_id).status is OrderStatus.DELIVERED


def test_a_stop_without_a_recorded_request_cancels_for_the_customer(
    app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    deliver(app, stopped(order_id, reason="expired"))

    assert cancels(app) == [(order_id, CancelReason.CUSTOMER, None)]


def test_a_delivery_before_the_shipment_still_refuses_a_cancel(
    app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    deliver(app, delivered(order_id))

    with pytest.raises(TooLateToCancelError):
        app.request_cancellation(order_id, None)
    order = app.repository.get(order_id)
    assert isinstance(order, Order)
    assert not order.cancel(CancelReason.PAYMENT_DECLINED, None, at=order.placed_at)
