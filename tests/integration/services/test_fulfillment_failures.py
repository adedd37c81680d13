"""Fulfillment's failure paths as a process on the real broker and PostgreSQL: it arbitrates
cancellation requests against the parcel, and decides and receives returns.

Catalog, cart and inventory events are published as those services would; assertions
read `fulfillment.events` and the warehouse API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from orderflow_devinfra.kafka_reading import wait_caught_up
from orderflow_events import (
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    CancellationRequested,
    Delivered,
    Envelope,
    Money,
    OrderPlaced,
    ProductListed,
    ReturnAuthorized,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    ShipmentStopped,
    Shipped,
    StockLine,
    StockReserved,
)
from orderflow_events.samples import sample_order_placed

from .conftest import Shop, about

pytestmark = pytest.mark.integration

SKU = "TSHIRT-RED-M"  # the sample order: 2 units to London, express
ANSWERS = {ReturnAuthorized.ce_type, ReturnRejected.ce_type}


def listed() -> ProductListed:
    return ProductListed(
        sku=SKU,
        name="T-shirt",
        category="apparel",
        weight_grams=180,
        price=Money.of("19.90", "EUR"),
        listed_at=datetime.now(UTC),
    )


def order() -> OrderPlaced:
    return sample_order_placed().model_copy(update={"order_id": uuid.uuid4()})


def reserved(order_id: uuid.UUID) -> StockReserved:
    return StockReserved(
        order_id=order_id,
        reservation_id=uuid.uuid4(),
        lines=[StockLine(sku=SKU, quantity=2)],
        reserved_at=datetime.now(UTC),
    )


def cancel_requested(order_id: uuid.UUID) -> CancellationRequested:
    return CancellationRequested.model_validate(
        {"order_id": order_id, "reason": "customer", "requested_at": datetime.now(UTC)}
    )


def return_requested(
    order_id: uuid.UUID, quantity: int, at: datetime | None = None
) -> ReturnRequested:
    return ReturnRequested(
        order_id=order_id,
        return_id=uuid.uuid4(),
        lines=[StockLine(sku=SKU, quantity=quantity)],
        reason="Too small",
        requested_at=at or now(),
    )


def now() -> datetime:
    return datetime.now(UTC)


def answer_to(request: ReturnRequested) -> Callable[[Envelope], bool]:
    """Matches fulfillment's answer (authorised or rejected) to one return request."""
    return lambda e: e.type in ANSWERS and getattr(e.data, "return_id", None) == request.return_id


def receipt(sku: str, quantity: int, condition: str = "resellable") -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": quantity, "condition": condition}]}


async def settled(shop: Shop) -> dict[str, set[str]]:
    """Once fulfillment consumed everything published: the event types published per order."""
    for topic in (ORDERS_EVENTS, INVENTORY_EVENTS):
        await wait_caught_up(shop.kafka_bootstrap, "fulfillment", shop.topic(topic))
    await asyncio.sleep(1)  # the relay publishes what the last batch stored
    answers: dict[str, set[str]] = defaultdict(set)
    for envelope in await shop.events(FULFILLMENT_EVENTS, at_least=1):
        answers[str(envelope.subject)].add(envelope.type)
    return answers


async def test_a_cancellation_stops_an_unshipped_order_and_not_a_shipped_one(shop: Shop) -> None:
    # Given fulfillment, a product, an order not reserved yet and one already shipped
    shop.start("fulfillment", delivery_delay_s="0")
    await shop.publish(listed())
    waiting, gone = order(), order()
    for placed in (waiting, gone):
        await shop.publish(placed)
    await shop.publish(reserved(gone.order_id))
    await shop.wait_for(FULFILLMENT_EVENTS, about(gone.order_id, Shipped))

    # When both are asked to be cancelled, and the first one's stock is reserved after that
    await shop.publish(cancel_requested(waiting.order_id))
    await shop.publish(cancel_requested(gone.order_id))
    stopped = await shop.wait_for(FULFILLMENT_EVENTS, about(waiting.order_id, ShipmentStopped))
    await shop.publish(reserved(waiting.order_id))

    # Then the waiting order stopped (no shipment started) and never ships;
    # the shipped one got no answer but its Shipped
    assert isinstance(stopped.data, ShipmentStopped)
    assert (stopped.data.shipment_id, stopped.data.reason) == (None, "customer")
    answers = await settled(shop)
    assert answers[str(waiting.order_id)] == {ShipmentStopped.ce_type}
    assert answers[str(gone.order_id)] == {Shipped.ce_type}


async def test_a_cancellation_racing_the_reservation_has_exactly_one_outcome(shop: Shop) -> None:
    # Given 20 placed orders
    shop.start("fulfillment", delivery_delay_s="0")
    await shop.publish(listed())
    orders = [order() for _ in range(20)]
    for placed in orders:
        await shop.publish(placed)

    # When each gets its reservation and a cancellation back to back, alternating which first
    for i, placed in enumerate(orders):
        pair = [reserved(placed.order_id), cancel_requested(placed.order_id)]
        for event in pair if i % 2 == 0 else reversed(pair):
            await shop.publish(event)

    # Then every order has exactly one answer: Shipped or ShipmentStopped, never both
    answers = await settled(shop)
    outcomes = {str(p.order_id): answers[str(p.order_id)] for p in orders}
    assert all(len(types) == 1 for types in outcomes.values()), outcomes
    assert set().union(*outcomes.values()) <= {Shipped.ce_type, ShipmentStopped.ce_type}


async def test_returns_are_decided_and_received(shop: Shop) -> None:
    # Given a 2 s return window, carriers that deliver at once, a delivered order
    # and one shipped but not delivered
    service = shop.start(
        "fulfillment", return_window_s="2", delivery_delay_s="0.2", delivery_poll_s="0.2"
    )
    await shop.publish(listed())
    delivered_order = order()
    await shop.publish(delivered_order)
    await shop.publish(reserved(delivered_order.order_id))
    delivered = await shop.wait_for(FULFILLMENT_EVENTS, about(delivered_order.order_id, Delivered))
    assert isinstance(delivered.data, Delivered)
    delivered_at = delivered.data.delivered_at
    undelivered = order()
    await shop.publish(undelivered)

    # When the customer returns one unit of the delivered order (asked 1 s after delivery),
    # then two more, and one of the order that was never delivered
    one = return_requested(delivered_order.order_id, 1, at=delivered_at + timedelta(seconds=1))
    too_many = return_requested(delivered_order.order_id, 2, at=one.requested_at)
    not_delivered = return_requested(undelivered.order_id, 1)
    for request in (one, too_many, not_delivered):
        await shop.publish(request)

    # Then the first is authorised with an RMA and a label, the others rejected
    authorized = await shop.wait_for(FULFILLMENT_EVENTS, answer_to(one))
    assert isinstance(authorized.data, ReturnAuthorized)
    assert authorized.data.rma.startswith("RMA-")
    assert authorized.data.label.url.startswith("https://labels.swiftship.example/")
    assert authorized.data.lines == [StockLine(sku=SKU, quantity=1)]
    for request, reason in ((too_many, "Only 1 unit(s)"), (not_delivered, "not been delivered")):
        rejected = await shop.wait_for(FULFILLMENT_EVENTS, answer_to(request))
        assert isinstance(rejected.data, ReturnRejected)
        assert reason in rejected.data.reason

    # And once the window has passed, a request is rejected
    await asyncio.sleep(max(0.0, (delivered_at + timedelta(seconds=2.5) - now()).total_seconds()))
    late = return_requested(delivered_order.order_id, 1)
    await shop.publish(late)
    rejected = await shop.wait_for(FULFILLMENT_EVENTS, answer_to(late))
    assert isinstance(rejected.data, ReturnRejected)
    assert "return window ended" in rejected.data.reason

    # When the warehouse records parcels that do not match, or an unknown RMA
    rma = authorized.data.rma
    with service.client() as http:
        key = service.admin_headers
        url = f"/returns/{rma}/receipt"
        wrong_sku = http.post(url, json=receipt("MUG-BLUE", 1), headers=key)
        too_much = http.post(url, json=receipt(SKU, 2), headers=key)
        unknown = http.post("/returns/RMA-0000000000/receipt", json=receipt(SKU, 1), headers=key)
        no_key = http.post(url, json=receipt(SKU, 1))
        broken = http.post(url, json=receipt(SKU, 1, "broken"), headers=key)

        # Then each is a problem, and nothing is received
        for response, status in (
            (wrong_sku, 422),
            (too_much, 422),
            (unknown, 404),
            (no_key, 401),
            (broken, 422),
        ):
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"

        # When the parcel with the authorised unit arrives, and is recorded twice
        good = http.post(url, json=receipt(SKU, 1, "damaged"), headers=key)
        again = http.post(url, json=receipt(SKU, 1, "damaged"), headers=key)
        shown = http.get(f"/returns/{rma}", headers=key).json()
        shipment = http.get(f"/shipments/{delivered_order.order_id}", headers=key).json()

    # Then it is received once, with its condition, and shows in the return and the shipment
    assert (good.status_code, again.status_code) == (201, 409)
    received = await shop.wait_for(
        FULFILLMENT_EVENTS, about(delivered_order.order_id, ReturnReceived)
    )
    assert isinstance(received.data, ReturnReceived)
    assert (received.data.return_id, received.data.rma) == (one.return_id, rma)
    assert [(ln.sku, ln.quantity, str(ln.condition)) for ln in received.data.lines] == [
        (SKU, 1, "damaged")
    ]
    assert (shown["status"], shown["order_id"]) == ("received", str(delivered_order.order_id))
    assert [(r["return_id"], r["status"]) for r in shipment["returns"]] == [
        (str(one.return_id), "received"),
        (str(too_many.return_id), "rejected"),
        (str(late.return_id), "rejected"),
    ]
    answers = await settled(shop)
    assert ReturnReceived.ce_type in answers[str(delivered_order.order_id)]
