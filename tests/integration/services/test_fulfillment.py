"""The fulfillment service as a process on the real broker and PostgreSQL.

Catalog, order and reservation events are published as catalog, cart and inventory
would; the assertions read what fulfillment published on `fulfillment.events`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from orderflow_devinfra.kafka_reading import wait_caught_up
from orderflow_devinfra.shop import wait_ready
from orderflow_events import (
    CATALOG_EVENTS,
    FULFILLMENT_EVENTS,
    Delivered,
    Money,
    OrderPlaced,
    ProductListed,
    Shipped,
    ShippingMethod,
    StockLine,
    StockReserved,
)
from orderflow_events.samples import sample_order_placed

from .conftest import Shop, about

pytestmark = pytest.mark.integration

SKU = "TSHIRT-RED-M"  # the sample order: 2 units to London (GB: the world zone from DE)


def listed() -> ProductListed:
    return ProductListed(
        sku=SKU,
        name="T-shirt",
        category="apparel",
        weight_grams=180,
        price=Money.of("19.90", "EUR"),
        listed_at=datetime.now(UTC),
    )


def order(method: ShippingMethod) -> OrderPlaced:
    return sample_order_placed().model_copy(
        update={"order_id": uuid.uuid4(), "shipping_method": method}
    )


def reserved(order_id: uuid.UUID) -> StockReserved:
    return StockReserved(
        order_id=order_id,
        reservation_id=uuid.uuid4(),
        lines=[StockLine(sku=SKU, quantity=2)],
        reserved_at=datetime.now(UTC),
    )


async def test_orders_ship_with_the_cheapest_carrier_and_are_delivered(shop: Shop) -> None:
    # Given fulfillment with a 1 s sandbox delivery delay, and a listed product
    service = shop.start("fulfillment", delivery_delay_s="1", delivery_poll_s="0.2")
    await shop.publish(listed())
    # (applied first: the weight sets the cost, and topics are not ordered among themselves)
    await wait_caught_up(shop.kafka_bootstrap, "fulfillment", shop.topic(CATALOG_EVENTS))

    # When a standard order is placed then reserved, and an express one reserved first
    standard, express = order(ShippingMethod.STANDARD), order(ShippingMethod.EXPRESS)
    await shop.publish(standard)
    await shop.publish(reserved(standard.order_id))
    await shop.publish(reserved(express.order_id))
    await shop.publish(express)

    # Then each ships with the cheapest carrier service meeting its method (510 g, world)
    expected = {
        standard.order_id: ("parcelco", "standard", r"PC\d{12}", "18.00"),
        express.order_id: ("swiftship", "express", r"SW\d{12}", "35.00"),
    }
    for order_id, (carrier, level, tracking, cost) in expected.items():
        envelope = await shop.wait_for(FULFILLMENT_EVENTS, about(order_id, Shipped))
        shipped = envelope.data
        assert isinstance(shipped, Shipped)
        assert (shipped.carrier, shipped.service_level) == (carrier, level)
        assert re.fullmatch(tracking, shipped.tracking_number)
        assert shipped.shipping_cost == Money.of(cost, "EUR")
        assert shipped.lines == [StockLine(sku=SKU, quantity=2)]

    # And a carrier update for a parcel that is not ours is a 404 problem
    with service.client() as http:
        unknown = {"tracking_number": "PC000000000000", "status": "delivered"}
        response = http.post(
            "/carriers/parcelco/webhook", json=unknown, headers=service.admin_headers
        )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"

    # And the sandbox carriers confirm both deliveries by themselves
    for order_id in expected:
        await shop.wait_for(FULFILLMENT_EVENTS, about(order_id, Delivered), timeout=15)


async def test_a_delivery_pending_at_a_restart_is_confirmed_after_it(shop: Shop) -> None:
    # Given an order shipped by a fulfillment whose carriers deliver after 6 s
    service = shop.start("fulfillment", delivery_delay_s="6", delivery_poll_s="0.2")
    placed = order(ShippingMethod.STANDARD)
    await shop.publish(listed())
    await shop.publish(placed)
    await shop.publish(reserved(placed.order_id))
    await shop.wait_for(FULFILLMENT_EVENTS, about(placed.order_id, Shipped))

    # When the service stops before the delivery is due, and starts again
    service.process.stop(grace_s=10)
    events = await shop.events(FULFILLMENT_EVENTS, at_least=1, timeout=5)
    assert not any(e.type == Delivered.ce_type for e in events)
    service.process.start()
    wait_ready(service)

    # Then the restarted service confirms it
    await shop.wait_for(FULFILLMENT_EVENTS, about(placed.order_id, Delivered), timeout=20)
