"""The cart service's side of the saga's failure paths, as a process on Kafka and PostgreSQL.

The test plays payment, inventory and fulfillment: it publishes their events and
reads what cart publishes on `orders.events`. Refusals cancel at once; a
customer's cancel waits for fulfillment (stopped: cancelled; shipped first: the
cancel is refused); a missed deadline asks for cancellation once; returns move
the order to partially returned, then returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from orderflow_events import (
    ORDERS_EVENTS,
    CancellationRequested,
    CancelReason,
    Delivered,
    Envelope,
    IntegrationEvent,
    ItemCondition,
    Money,
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorized,
    PaymentDeclined,
    ProductListed,
    ReceivedLine,
    ReturnAuthorized,
    ReturnLabel,
    ReturnReceived,
    ReturnRequested,
    ShipmentStopped,
    Shipped,
    StockLine,
    StockReservationFailed,
    StockReserved,
    UnavailableLine,
)

from .conftest import ADMIN_KEY, RunningService, Shop, about

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PRODUCTS = (
    ProductListed(
        sku="MUG-001",
        name="Mug",
        category="kitchen",
        weight_grams=350,
        price=Money(amount="8.50", currency="EUR"),
        listed_at=NOW,
    ),
    ProductListed(
        sku="BOOT-42",
        name="Boot",
        category="shoes",
        weight_grams=1400,
        price=Money(amount="89.00", currency="EUR"),
        listed_at=NOW,
    ),
)
CHECKOUT = {
    "email": "ada@example.com",
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
    },
    "shipping_method": "standard",
    "payment": {"token": "tok_9f8e7d6c5b4a", "brand": "visa", "last4": "4242"},
}


async def eventually(check: Callable[[], Any], *, timeout: float = 20, what: str) -> Any:
    """The first truthy result of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def start_cart(shop: Shop, **settings: str) -> RunningService:
    """The cart service, once its product view knows the products."""
    cart = shop.start("cart", **settings)
    for product in PRODUCTS:
        await shop.publish(product)
    with cart.client() as http:

        def knows_all() -> bool:
            probe = http.post("/carts").json()["cart_id"]
            return all(
                http.post(f"/carts/{probe}/items", json={"sku": p.sku, "quantity": 1}).is_success
                for p in PRODUCTS
            )

        await eventually(knows_all, what="the product view")
    return cart


def place(http: httpx.Client, **items: int) -> UUID:
    cart_id = http.post("/carts").json()["cart_id"]
    for sku, quantity in items.items():
        added = http.post(
            f"/carts/{cart_id}/items", json={"sku": sku.replace("_", "-"), "quantity": quantity}
        )
        assert added.status_code == 200, added.text
    response = http.post(f"/carts/{cart_id}/checkout", json=CHECKOUT)
    assert response.status_code == 201, response.text
    return UUID(response.json()["order_id"])


async def publish_and_wait(
    shop: Shop, http: httpx.Client, event: IntegrationEvent, order_id: UUID, fact: str
) -> dict[str, Any]:
    """Publish `event` and wait until the order's history records `fact`."""
    await shop.publish(event)

    def recorded() -> dict[str, Any] | None:
        order = get_order(http, order_id)
        return order if fact in [h["fact"] for h in order["status_history"]] else None

    found: dict[str, Any] = await eventually(recorded, what=f"{fact} recorded for {order_id}")
    return found


def get_order(http: httpx.Client, order_id: UUID) -> dict[str, Any]:
    response = http.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def post_return(http: httpx.Client, order_id: UUID, lines: dict[str, int]) -> UUID:
    body = {
        "lines": [{"sku": sku.replace("_", "-"), "quantity": n} for sku, n in lines.items()],
        "reason": "Changed my mind",
    }
    response = http.post(f"/orders/{order_id}/returns", json=body)
    assert response.status_code == 202, response.text
    return UUID(response.json()["return_id"])


def of_type(events: list[Envelope], order_id: UUID, kind: type[IntegrationEvent]) -> list[Any]:
    return [e.data for e in events if e.subject == str(order_id) and e.type == kind.ce_type]


def stock(**lines: int) -> list[StockLine]:
    return [StockLine(sku=sku.replace("_", "-"), quantity=n) for sku, n in lines.items()]


def authorized(order_id: UUID) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=uuid4(),
        amount=Money(amount="10.00", currency="EUR"),
        auth_code="A1",
        brand="visa",
        last4="4242",
        authorized_at=NOW,
    )


def shipped(order_id: UUID, **lines: int) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid4(),
        carrier="dhl",
        service_level="ground",
        tracking_number="JD0001",
        lines=stock(**lines),
        shipped_at=NOW,
    )


async def test_refusals_and_customer_cancels_end_in_exactly_one_outcome(shop: Shop) -> None:
    cart = await start_cart(shop)
    with cart.client() as http:
        declined, short, stopped, raced = (place(http, MUG_001=2) for _ in range(4))

        # When payment declines one order, and inventory is short for another
        await shop.publish(
            PaymentDeclined(
                order_id=declined, payment_id=uuid4(), reason="card_expired", declined_at=NOW
            )
        )
        unavailable = [UnavailableLine(sku="MUG-001", requested=2, available=1)]
        await shop.publish(
            StockReservationFailed(order_id=short, unavailable=unavailable, failed_at=NOW)
        )

        # Then each is cancelled for its reason
        for order_id, reason in ((declined, "payment_declined"), (short, "out_of_stock")):
            event = await shop.wait_for(ORDERS_EVENTS, about(order_id, OrderCancelled))
            assert isinstance(event.data, OrderCancelled)
            assert event.data.reason == reason
            assert http.get(f"/orders/{order_id}").json()["status"] == "cancelled"

        # When the customer cancels an order fulfillment has not shipped (twice)
        for _ in range(2):
            response = http.post(f"/orders/{stopped}/cancel", json={"reason": "Too slow"})
            assert response.status_code == 202, response.text
        request = await shop.wait_for(ORDERS_EVENTS, about(stopped, CancellationRequested))
        assert isinstance(request.data, CancellationRequested)
        assert request.data.reason == CancelReason.CUSTOMER

        # Then fulfillment's stop makes it cancelled, for the customer
        await shop.publish(ShipmentStopped(order_id=stopped, reason="customer", stopped_at=NOW))
        cancelled = await shop.wait_for(ORDERS_EVENTS, about(stopped, OrderCancelled))
        assert isinstance(cancelled.data, OrderCancelled)
        assert cancelled.data.reason == CancelReason.CUSTOMER
        assert http.post(f"/orders/{stopped}/cancel").status_code == 200

        # When a cancel races a shipment that left first
        await publish_and_wait(shop, http, authorized(raced), raced, "payment_authorized")
        reserved = StockReserved(
            order_id=raced, reservation_id=uuid4(), lines=stock(MUG_001=2), reserved_at=NOW
        )
        await publish_and_wait(shop, http, reserved, raced, "stock_reserved")
        assert http.post(f"/orders/{raced}/cancel").status_code == 202
        await shop.wait_for(ORDERS_EVENTS, about(raced, CancellationRequested))
        order = await publish_and_wait(
            shop, http, shipped(raced, MUG_001=2), raced, "cancellation_refused"
        )

        # Then the order follows the shipment, a second cancel is refused, none published
        assert order["status"] == "shipped"
        assert order["cancellation"]["status"] == "refused"
        refused = http.post(f"/orders/{raced}/cancel")
        assert refused.status_code == 409
        assert refused.json()["returns"] == f"/orders/{raced}/returns"
        marker = place(http, MUG_001=1)  # published after anything the race caused
        await shop.wait_for(ORDERS_EVENTS, about(marker, OrderPlaced))
        events = await shop.events(ORDERS_EVENTS, at_least=1)
        assert of_type(events, raced, OrderCancelled) == []
        assert len(of_type(events, stopped, CancellationRequested)) == 1
        assert len(of_type(events, stopped, OrderCancelled)) == 1


async def test_a_missed_deadline_asks_once_for_cancellation(shop: Shop) -> None:
    # Given a cart whose orders may wait 2 s for their payment
    cart = await start_cart(
        shop, deadline_placed_s="2", deadline_poll_s="0.2", order_counts_every_s="0.2"
    )
    with cart.client() as http:
        order_id = place(http, BOOT_42=1)

        # Then after 2 s it asks for cancellation, reason expired, once
        request = await shop.wait_for(ORDERS_EVENTS, about(order_id, CancellationRequested))
        assert isinstance(request.data, CancellationRequested)
        assert request.data.reason == CancelReason.EXPIRED
        await asyncio.sleep(1.5)  # several more rounds of the watcher
        stuck = http.get("/orders/stuck", headers={"X-API-Key": ADMIN_KEY}).json()["items"]
        assert [
            (o["order_id"], o["cancellation_requested"], o["past_deadline"]) for o in stuck
        ] == [(str(order_id), "expired", True)]

        # When fulfillment stops it, it is cancelled as expired, and listed as such
        await shop.publish(ShipmentStopped(order_id=order_id, reason="expired", stopped_at=NOW))
        cancelled = await shop.wait_for(ORDERS_EVENTS, about(order_id, OrderCancelled))
        assert isinstance(cancelled.data, OrderCancelled)
        assert cancelled.data.reason == CancelReason.EXPIRED
        stuck = http.get("/orders/stuck", headers={"X-API-Key": ADMIN_KEY}).json()["items"]
        assert [(o["status"], o["expired"], o["past_deadline"]) for o in stuck] == [
            ("cancelled", True, False)
        ]
        events = await shop.events(ORDERS_EVENTS, at_least=1)
        assert len(of_type(events, order_id, CancellationRequested)) == 1
        metrics = http.get("/metrics").text
        assert "orderflow_orders_past_deadline 0.0" in metrics
        assert 'orderflow_orders_by_state{state="cancelled"} 1.0' in metrics


async def test_returns_move_the_order_to_partially_returned_then_returned(shop: Shop) -> None:
    # Given a delivered order of two mugs and a boot
    cart = await start_cart(shop)
    with cart.client() as http:
        order_id = place(http, MUG_001=2, BOOT_42=1)
        lines = {"MUG_001": 2, "BOOT_42": 1}
        await publish_and_wait(shop, http, authorized(order_id), order_id, "payment_authorized")
        await publish_and_wait(shop, http, shipped(order_id, **lines), order_id, "shipped")
        delivered = Delivered(order_id=order_id, shipment_id=uuid4(), delivered_at=NOW)
        await publish_and_wait(shop, http, delivered, order_id, "delivered")

        # Bad requests get problems, and publish nothing
        def ask(body: dict[str, Any]) -> httpx.Response:
            return http.post(f"/orders/{order_id}/returns", json=body)

        for body, status in (
            ({"lines": [{"sku": "SOCK-1", "quantity": 1}], "reason": "x"}, 422),
            ({"lines": [{"sku": "MUG-001", "quantity": 3}], "reason": "x"}, 422),
            ({"lines": [{"sku": "MUG-001", "quantity": 0}], "reason": "x"}, 422),
            ({"lines": [], "reason": "x"}, 422),
        ):
            response = ask(body)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
        unknown = http.post(
            f"/orders/{uuid4()}/returns",
            json={"lines": [{"sku": "MUG-001", "quantity": 1}], "reason": "x"},
        )
        assert unknown.status_code == 404

        # When one mug goes back: requested, authorised, received
        first = await return_and_receive(shop, http, order_id, "RMA-1", MUG_001=1)
        assert first["status"] == "partially_returned"

        # When the rest goes back in a second return
        rest = await return_and_receive(shop, http, order_id, "RMA-2", MUG_001=1, BOOT_42=1)

        # Then every unit is back: returned, also in the operators' list
        assert rest["status"] == "returned"
        page = http.get("/admin/orders", headers={"X-API-Key": ADMIN_KEY}).json()
        [row] = [r for r in page["items"] if r["order_id"] == str(order_id)]
        assert row["status"] == "returned"
        assert sorted((ln["sku"], ln["quantity"], ln["returned"]) for ln in row["lines"]) == [
            ("BOOT-42", 1, 1),
            ("MUG-001", 2, 2),
        ]


async def return_and_receive(
    shop: Shop, http: httpx.Client, order_id: UUID, rma: str, **lines: int
) -> dict[str, Any]:
    """A return through its steps, as fulfillment would answer; returns the order after."""
    return_id = post_return(http, order_id, lines)
    requested = await shop.wait_for(
        ORDERS_EVENTS,
        lambda e: (
            e.type == ReturnRequested.ce_type
            and isinstance(e.data, ReturnRequested)
            and e.data.return_id == return_id
        ),
    )
    assert isinstance(requested.data, ReturnRequested)
    assert {(ln.sku, ln.quantity) for ln in requested.data.lines} == {
        (sku.replace("_", "-"), n) for sku, n in lines.items()
    }
    assert get_order(http, order_id)["status"] == "return_requested"
    label = ReturnLabel(carrier="dhl", tracking_number=f"R{rma}", url="https://labels.example/r")
    authorized_return = ReturnAuthorized(
        order_id=order_id,
        return_id=return_id,
        rma=rma,
        label=label,
        lines=stock(**lines),
        authorized_at=NOW,
    )
    await shop.publish(authorized_return)
    received = ReturnReceived(
        order_id=order_id,
        return_id=return_id,
        rma=rma,
        lines=[
            ReceivedLine(sku=sku.replace("_", "-"), quantity=n, condition=ItemCondition.RESELLABLE)
            for sku, n in lines.items()
        ],
        received_at=NOW,
    )
    await shop.publish(received)

    def received_back() -> dict[str, Any] | None:
        order = get_order(http, order_id)
        done = [r for r in order["returns"] if r["return_id"] == str(return_id)]
        return order if done and (done[0]["status"], done[0]["rma"]) == ("received", rma) else None

    found: dict[str, Any] = await eventually(received_back, what=f"return {rma} received")
    return found
