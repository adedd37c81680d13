"""Fulfillment as the arbiter of a cancellation racing the parcel: CancellationRequested
stops an order that has not shipped (ShipmentStopped, once, and it never ships after),
and changes nothing once it has (Shipped was the answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from orderflow_events import ShipmentStopped, Shipped
from orderflow_fulfillment.domain import Shipment, ShipmentStatus

if TYPE_CHECKING:
    from conftest import Harness


def test_a_request_for_an_unseen_order_stops_it_and_a_later_reservation_never_ships(
    harness: Harness,
) -> None:
    # Given an order fulfillment has not heard of yet
    order = harness.order()

    # When its cancellation is requested, then the order and its reservation arrive
    harness.deliver(harness.cancel_requested(order.order_id, "expired"))
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))

    # Then it was stopped at once, with no shipment started, and it never ships
    [stopped] = harness.published(ShipmentStopped)
    assert (stopped.order_id, stopped.shipment_id, stopped.reason) == (
        order.order_id,
        None,
        "expired",
    )
    assert harness.published(Shipped) == []
    view = harness.app.shipment(order.order_id)
    assert (view.status, view.note) == (ShipmentStatus.CANCELLED, "expired")


def test_a_request_for_an_order_without_reservation_stops_it(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.cancel_requested(order.order_id))
    harness.deliver(harness.reserved(order.order_id))
    [stopped] = harness.published(ShipmentStopped)
    assert (stopped.shipment_id, stopped.reason) == (None, "customer")
    assert harness.published(Shipped) == []


def test_a_stuck_shipment_is_stopped_and_named(harness: Harness) -> None:
    # Given a parcel no carrier takes (20 kg units), reserved and so stuck
    order = harness.order("standard", country="DE")
    harness.deliver(harness.listed(grams=20_000), order, harness.reserved(order.order_id))
    assert harness.app.shipment(order.order_id).status is ShipmentStatus.STUCK

    harness.deliver(harness.cancel_requested(order.order_id))

    [stopped] = harness.published(ShipmentStopped)
    assert stopped.shipment_id == Shipment.create_id(order.order_id)


@pytest.mark.parametrize("delivered", [False, True])
def test_a_request_after_shipping_changes_nothing(harness: Harness, delivered: bool) -> None:
    # Given a shipped (and maybe delivered) order
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    if delivered:
        harness.app.confirm_delivery(order.order_id, harness.reserved(order.order_id).reserved_at)

    # When a cancellation request arrives (one sent just before the parcel left)
    harness.deliver(harness.cancel_requested(order.order_id))

    # Then Shipped was the only answer
    assert harness.published(ShipmentStopped) == []
    assert len(harness.published(Shipped)) == 1
    expected = ShipmentStatus.DELIVERED if delivered else ShipmentStatus.SHIPPED
    assert harness.app.shipment(order.order_id).status is expected


def test_the_order_is_stopped_once_whatever_is_asked_again(harness: Harness) -> None:
    order = harness.order()
    request = harness.cancel_requested(order.order_id)
    harness.deliver(order, request, request, harness.cancel_requested(order.order_id, "expired"))
    harness.deliver(harness.cancelled(order.order_id), harness.reserved(order.order_id))
    [stopped] = harness.published(ShipmentStopped)
    assert stopped.reason == "customer"
    assert harness.published(Shipped) == []
    assert harness.app.shipment(order.order_id).note == "customer"


def test_a_request_after_an_order_cancelled_still_gets_its_answer(harness: Harness) -> None:
    # OrderCancelled (e.g. out of stock) stops the shipment silently; a request after it
    # is answered, so that whoever asked is not left waiting.
    order = harness.order()
    harness.deliver(order, harness.cancelled(order.order_id))
    assert harness.published(ShipmentStopped) == []
    harness.deliver(harness.cancel_requested(order.order_id))
    assert len(harness.published(ShipmentStopped)) == 1
    assert harness.app.shipment(order.order_id).status is ShipmentStatus.CANCELLED


@pytest.mark.parametrize("reservation_first", [True, False])
def test_a_request_racing_the_reservation_in_one_batch_has_one_outcome(
    harness: Harness, reservation_first: bool
) -> None:
    # Given a known order; its reservation and its cancellation arrive in one batch
    order = harness.order()
    harness.deliver(harness.listed(), order)
    reserved, request = harness.reserved(order.order_id), harness.cancel_requested(order.order_id)
    batch = (reserved, request) if reservation_first else (request, reserved)

    harness.deliver_batch(*batch)

    # Then whichever came first decides, and only one answer is published
    shipped, stopped = harness.published(Shipped), harness.published(ShipmentStopped)
    assert (len(shipped), len(stopped)) == ((1, 0) if reservation_first else (0, 1))


def test_state_rebuilt_from_the_events_equals_the_live_state(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.cancel_requested(order.order_id), order)
    harness.deliver(harness.reserved(order.order_id), harness.cancelled(order.order_id))
    live = harness.app.repository.get(Shipment.create_id(order.order_id))
    harness.app.forget([live.id])
    rebuilt = None
    for domain_event in harness.app.repository.event_store.get(live.id):
        rebuilt = domain_event.mutate(rebuilt)
    assert vars(rebuilt) == vars(live)
    assert live.stopped
