"""The cart service as a process on real Kafka and PostgreSQL.

Catalog events build its product view; checkout over HTTP publishes OrderPlaced
with exact amounts; payment, inventory and fulfillment events (in any order)
move the order's status; bad requests get problem details.
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
    Delivered,
    IntegrationEvent,
    Money,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    ProductListed,
    Shipped,
    StockLine,
    StockReserved,
)

from .conftest import RunningService, Shop, about

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EMAIL = "ada@example.com"


def eur(amount: str) -> Money:
    return Money(amount=amount, currency="EUR")


CATALOG = (
    ProductListed(
        sku="TSHIRT-RED-M",
        name="T-shirt",
        category="apparel",
        weight_grams=180,
        price=eur("19.90"),
        attributes={"colour": "red", "size": "M"},
        listed_at=NOW,
    ),
    ProductListed(
        sku="MUG-001",
        name="Mug",
        category="kitchen",
        weight_grams=350,
        price=eur("8.50"),
        listed_at=NOW,
    ),
    ProductListed(
        sku="BOOT-42",
        name="Boot",
        category="shoes",
        weight_grams=1400,
        price=eur("89.00"),
        listed_at=NOW,
    ),
)
BERLIN = {
    "name": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}
LOS_ANGELES = {
    "name": "Ada Lovelace",
    "line1": "1 Grand Ave",
    "city": "Los Angeles",
    "region": "CA",
    "postal_code": "90012",
    "country": "US",
}


def checkout_body(
    address: dict[str, str], method: str = "standard", **changes: Any
) -> dict[str, Any]:
    return {
        "email": EMAIL,
        "shipping_address": address,
        "shipping_method": method,
        "payment": {"token": "tok_9f8e7d6c5b4a", "brand": "visa", "last4": "4242"},
        **changes,
    }


async def eventually(check: Callable[[], Any], *, timeout: float = 20, what: str) -> Any:
    """The first truthy result of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def start_with_catalog(shop: Shop) -> RunningService:
    """The cart service, once its product view knows the catalog's three products."""
    cart = shop.start("cart")
    for product in CATALOG:
        await shop.publish(product)
    with cart.client() as http:

        def knows_all() -> bool:
            probe = http.post("/carts").json()["cart_id"]  # a new cart: each try starts empty
            return all(
                http.post(
                    f"/carts/{probe}/items", json={"sku": product.sku, "quantity": 1}
                ).status_code
                == 200
                for product in CATALOG
            )

        await eventually(knows_all, what="the product view")
    return cart


def place(http: httpx.Client, items: dict[str, int], body: dict[str, Any]) -> dict[str, Any]:
    cart_id = http.post("/carts").json()["cart_id"]
    for sku, quantity in items.items():
        response = http.post(f"/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity})
        assert response.status_code == 200, response.text
    response = http.post(f"/carts/{cart_id}/checkout", json=body)
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def test_checkout_publishes_order_placed_with_exact_amounts(shop: Shop) -> None:
    # Given the cart service knows the catalog
    cart = await start_with_catalog(shop)

    # When a German customer (standard) and a Californian one (express) check out
    with cart.client() as http:
        berlin = place(http, {"TSHIRT-RED-M": 2, "MUG-001": 1}, checkout_body(BERLIN))
        california = place(
            http, {"BOOT-42": 1, "TSHIRT-RED-M": 1}, checkout_body(LOS_ANGELES, "express")
        )

    # Then each order is published with its exact amounts
    de = await shop.wait_for(ORDERS_EVENTS, about(berlin["order_id"], OrderPlaced))
    assert isinstance(de.data, OrderPlaced)
    assert (de.data.subtotal, de.data.shipping_fee, de.data.tax, de.data.total) == (
        eur("48.30"),
        eur("4.90"),  # 710 g: the base fee
        eur("10.11"),  # 19 % of 53.20
        eur("63.31"),
    )
    assert [(line.sku, line.quantity, line.unit_price) for line in de.data.lines] == [
        ("TSHIRT-RED-M", 2, eur("19.90")),
        ("MUG-001", 1, eur("8.50")),
    ]
    assert de.data.shipping_address.country == "DE"
    assert de.data.customer_email == EMAIL
    assert (de.data.payment.token, de.data.payment.last4) == ("tok_9f8e7d6c5b4a", "4242")
    assert de.source == "/services/cart"
    assert de.subject == berlin["order_id"]

    us = await shop.wait_for(ORDERS_EVENTS, about(california["order_id"], OrderPlaced))
    assert isinstance(us.data, OrderPlaced)
    assert (us.data.subtotal, us.data.shipping_fee, us.data.tax, us.data.total) == (
        eur("108.90"),
        eur("11.90"),  # 1,580 g express: 9.90 + one started kg x 2.00
        eur("8.76"),  # 7.25 % of 120.80
        eur("129.56"),
    )
    assert us.data.shipping_method == "express"
    assert us.data.shipping_address.region == "CA"

    # And the customer's orders list both, newest first
    with cart.client() as http:
        listing = http.get(f"/customers/{EMAIL}/orders").json()
    assert [o["order_id"] for o in listing["orders"]] == [
        california["order_id"],
        berlin["order_id"],
    ]


async def test_order_status_follows_saga_events_in_any_order(shop: Shop) -> None:
    # Given two placed orders
    cart = await start_with_catalog(shop)
    with cart.client() as http:
        first = UUID(place(http, {"MUG-001": 2}, checkout_body(BERLIN))["order_id"])
        second = UUID(place(http, {"BOOT-42": 1}, checkout_body(BERLIN))["order_id"])
    payment_id, shipment_id = uuid4(), uuid4()
    lines = [StockLine(sku="MUG-001", quantity=2)]

    # When the first goes through the happy path, and the second's stock is reserved
    # before its payment is authorised. Events on different topics may be applied in
    # either order within one batch, so each waits until the cart recorded the previous
    # one: that makes the arrival order (and so the history) the one intended.
    with cart.client() as http:

        async def deliver(event: IntegrationEvent, order_id: UUID) -> dict[str, Any]:
            before = len(http.get(f"/orders/{order_id}").json()["status_history"])
            await shop.publish(event)
            order: dict[str, Any] = await eventually(
                lambda: (
                    len((o := http.get(f"/orders/{order_id}").json())["status_history"]) > before
                    and o
                ),
                what=f"{type(event).__name__} recorded",
            )
            return order

        steps = [
            (authorized(first, payment_id, "26.06"), "payment_authorized"),
            (
                StockReserved(order_id=first, reservation_id=uuid4(), lines=lines, reserved_at=NOW),
                "stock_reserved",
            ),
            (
                Shipped(
                    order_id=first,
                    shipment_id=shipment_id,
                    carrier="dhl",
                    service_level="ground",
                    tracking_number="JD014600006281230704",
                    lines=lines,
                    shipped_at=NOW,
                ),
                "shipped",
            ),
            (
                PaymentCaptured(
                    order_id=first, payment_id=payment_id, amount=eur("26.06"), captured_at=NOW
                ),
                "shipped",  # a capture is history, not a stage
            ),
            (Delivered(order_id=first, shipment_id=shipment_id, delivered_at=NOW), "delivered"),
        ]
        for event, status in steps:
            assert (await deliver(event, first))["status"] == status

        # Then the first is delivered, with every step in order and its tracking number
        delivered = http.get(f"/orders/{first}").json()
        assert [(h["fact"], h["status"]) for h in delivered["status_history"]] == [
            ("placed", "placed"),
            ("payment_authorized", "payment_authorized"),
            ("stock_reserved", "stock_reserved"),
            ("shipped", "shipped"),
            ("payment_captured", "shipped"),
            ("delivered", "delivered"),
        ]
        assert delivered["tracking"]["tracking_number"] == "JD014600006281230704"
        assert delivered["tracking"]["carrier"] == "dhl"

        # And the second reached stock_reserved and stayed there when the payment came
        reserved = StockReserved(
            order_id=second,
            reservation_id=uuid4(),
            lines=[StockLine(sku="BOOT-42", quantity=1)],
            reserved_at=NOW,
        )
        assert (await deliver(reserved, second))["status"] == "stock_reserved"
        late = await deliver(authorized(second, uuid4(), "105.91"), second)
        assert late["status"] == "stock_reserved"
        assert [(h["fact"], h["status"]) for h in late["status_history"]] == [
            ("placed", "placed"),
            ("stock_reserved", "stock_reserved"),
            ("payment_authorized", "stock_reserved"),
        ]

        # And the customer's list shows both statuses
        listing = http.get(f"/customers/{EMAIL}/orders").json()["orders"]
        assert {o["order_id"]: o["status"] for o in listing} == {
            str(first): "delivered",
            str(second): "stock_reserved",
        }


def authorized(order_id: UUID, payment_id: UUID, amount: str) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=payment_id,
        amount=eur(amount),
        auth_code="A1B2C3",
        brand="visa",
        last4="4242",
        authorized_at=NOW,
    )


async def test_bad_requests_get_problem_details(shop: Shop) -> None:
    cart = await start_with_catalog(shop)
    with cart.client() as http:
        cart_id = http.post("/carts").json()["cart_id"]

        def problem(response: httpx.Response, status: int) -> dict[str, Any]:
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body: dict[str, Any] = response.json()
            assert body["status"] == status
            assert body["detail"]
            return body

        def add(sku: str, quantity: Any) -> httpx.Response:
            return http.post(f"/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity})

        # unknown sku, and quantities out of 1..99
        assert "unknown sku" in problem(add("NOPE-1", 1), 422)["detail"]
        for quantity in (0, -1, 1000):
            assert "quantity" in problem(add("MUG-001", quantity), 422)["detail"]

        # an empty cart cannot be checked out
        checkout = f"/carts/{cart_id}/checkout"
        assert "empty" in problem(http.post(checkout, json=checkout_body(BERLIN)), 409)["detail"]

        # malformed email, unknown country
        assert add("MUG-001", 1).status_code == 200
        bad_email = checkout_body(BERLIN, email="ada@example")
        assert "email" in problem(http.post(checkout, json=bad_email), 422)["detail"]
        nowhere = checkout_body({**BERLIN, "country": "XX"})
        assert "country" in problem(http.post(checkout, json=nowhere), 422)["detail"]

        # a second checkout, and any change after the first, conflict
        assert http.post(checkout, json=checkout_body(BERLIN)).status_code == 201
        problem(http.post(checkout, json=checkout_body(BERLIN)), 409)
        problem(add("MUG-001", 1), 409)

        # unknown order and cart
        problem(http.get(f"/orders/{uuid4()}"), 404)
        problem(http.get(f"/carts/{uuid4()}"), 404)
