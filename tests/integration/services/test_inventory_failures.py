"""Inventory's side of the saga's failure paths, as a process on the real broker and PostgreSQL.

Upstream events are published as catalog, cart, payment and fulfillment would; the
assertions read `inventory.events`, the admin API and, to know that an event which
changes nothing has been applied, the service's consumed-events metric.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from orderflow_devinfra.shop import RunningService, Shop, about
from orderflow_events import (
    INVENTORY_EVENTS,
    CancelReason,
    Envelope,
    IntegrationEvent,
    ItemCondition,
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorized,
    ReceivedLine,
    RestockOrigin,
    ReturnReceived,
    Shipped,
    StockCommitted,
    StockLine,
    StockReleased,
    StockReserved,
    StockRestocked,
)
from orderflow_events.samples import T0

from .inventory_events import authorized, listed, placed

pytestmark = pytest.mark.integration
TOTALS = ("on_hand", "reserved", "available", "committed", "received", "restocked", "written_off")


def shipped(order_id: uuid.UUID, **lines: int) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid.uuid4(),
        carrier="dhl",
        service_level="ground",
        tracking_number="T1",
        lines=[StockLine(sku=s, quantity=q) for s, q in lines.items()],
        shipped_at=T0,
    )


def cancelled(order_id: uuid.UUID) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason=CancelReason.CUSTOMER, cancelled_at=T0)


def start_inventory(shop: Shop) -> RunningService:
    # A consumer group of this test's own: no member of another test's group to wait for.
    return shop.start("inventory", consumer_group=f"{shop.namespace}inventory")


def admin_client(service: RunningService) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=service.url, headers=service.admin_headers, timeout=30)


async def stock_up(shop: Shop, inventory: RunningService, **quantities: int) -> None:
    """List the skus on catalog.events, then receive stock for them over HTTP."""
    for sku in quantities:
        await shop.publish(listed(sku))
    async with admin_client(inventory) as http:
        for sku, quantity in quantities.items():
            deadline = time.monotonic() + 30
            while (await http.get(f"/stock/{sku}")).status_code == 404:
                assert time.monotonic() < deadline, f"inventory never learnt of {sku}"
                await asyncio.sleep(0.2)
            receipt = await http.post(f"/stock/{sku}/receipts", json={"quantity": quantity})
            assert receipt.status_code == 201, receipt.text


async def get(inventory: RunningService, path: str, **params: Any) -> Any:
    async with admin_client(inventory) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def totals(inventory: RunningService, sku: str) -> dict[str, int]:
    """The sku's counters from its stock item (the store, not the read model)."""
    body = await get(inventory, f"/stock/{sku}")
    return {key: body[key] for key in TOTALS}


async def applied(inventory: RunningService, kind: type[IntegrationEvent], count: int) -> None:
    """Wait until the service has applied `count` events of `kind` (its metrics say so)."""
    pattern = re.compile(
        r"^orderflow_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$", flags=re.MULTILINE
    )
    deadline, seen = time.monotonic() + 30, 0.0
    async with httpx.AsyncClient(base_url=inventory.url, timeout=10) as http:
        while time.monotonic() < deadline:
            text = (await http.get("/metrics")).text
            seen = sum(
                float(value)
                for labels, value in pattern.findall(text)
                if f'type="{kind.ce_type}"' in labels and 'outcome="applied"' in labels
            )
            if seen >= count:
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"{seen} of {count} {kind.ce_type} applied")


async def events_about(shop: Shop, order_id: uuid.UUID, kind: type[Any]) -> list[Envelope]:
    published = await shop.events(INVENTORY_EVENTS)
    return [e for e in published if about(order_id, kind)(e)]


def lines_of(envelope: Envelope) -> set[tuple[str, int]]:
    data: Any = envelope.data
    return {(line.sku, line.quantity) for line in data.lines}


async def stable_listing(inventory: RunningService, timeout: float = 10) -> list[dict[str, Any]]:
    """`GET /stock` items once the read model stops changing."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        items = (await get(inventory, "/stock"))["items"]
        if items == last:
            return items
        last = items
        await asyncio.sleep(0.5)
    raise AssertionError(f"the stock read model kept changing: {last}")


def assert_conserved(levels: dict[str, Any]) -> None:
    assert levels["on_hand"] == levels["received"] + levels["restocked"] - levels["committed"]
    assert levels["reserved"] <= levels["on_hand"]
    assert all(levels[key] >= 0 for key in TOTALS), levels


async def test_a_return_restocks_only_its_resellable_units_and_the_totals_add_up(
    shop: Shop,
) -> None:
    # Given 10 A and 5 B received, and an order of 2 A and 1 B reserved and shipped
    inventory = start_inventory(shop)
    await stock_up(shop, inventory, A=10, B=5)
    order = uuid.uuid4()
    await shop.publish(placed(order, A=2, B=1))
    await shop.publish(authorized(order))
    await shop.wait_for(INVENTORY_EVENTS, about(order, StockReserved))
    await shop.publish(shipped(order, A=2, B=1))
    await shop.wait_for(INVENTORY_EVENTS, about(order, StockCommitted))

    # When the return arrives with one A resellable and one A damaged, and again
    returned = ReturnReceived(
        order_id=order,
        return_id=uuid.uuid4(),
        rma="RMA-1",
        lines=[
            ReceivedLine(sku="A", quantity=1, condition=ItemCondition.RESELLABLE),
            ReceivedLine(sku="A", quantity=1, condition=ItemCondition.DAMAGED),
        ],
        received_at=T0,
    )
    await shop.publish(returned)
    await shop.publish(returned)  # a redelivery under a new ce_id

    # Then one StockRestocked, origin return, with the resellable unit only
    restocked = await shop.wait_for(INVENTORY_EVENTS, about(order, StockRestocked))
    assert isinstance(restocked.data, StockRestocked)
    assert restocked.data.origin is RestockOrigin.RETURN
    assert restocked.data.return_id == returned.return_id
    assert lines_of(restocked) == {("A", 1)}
    await applied(inventory, ReturnReceived, 2)
    assert len((await get(inventory, f"/orders/{order}/stock"))["returns"]) == 1
    assert len(await events_about(shop, order, StockRestocked)) == 1
    # and the damaged unit is written off; every counter adds up, in both views
    assert await totals(inventory, "A") == {
        "on_hand": 9,
        "reserved": 0,
        "available": 9,
        "committed": 2,
        "received": 10,
        "restocked": 1,
        "written_off": 1,
    }
    listing = await stable_listing(inventory)
    assert [{k: item[k] for k in TOTALS} for item in listing] == [
        await totals(inventory, "A"),
        await totals(inventory, "B"),
    ]
    for item in listing:
        assert_conserved(item)
    [record] = await reservations(inventory, lambda items: len(items) == 1)
    assert (record["order_id"], record["status"]) == (str(order), "committed")
    assert (record["restocked"], record["written_off"]) == ({"A": 1}, {"A": 1})


async def test_cancels_release_a_reservation_and_nothing_else(shop: Shop) -> None:
    inventory = start_inventory(shop)
    await stock_up(shop, inventory, A=10)
    reserved, shipped_order, early, between = (uuid.uuid4() for _ in range(4))

    # Given one order reserved (3 A) and one reserved and shipped (2 A)
    for order_id, quantity in ((reserved, 3), (shipped_order, 2)):
        await shop.publish(placed(order_id, A=quantity))
        await shop.publish(authorized(order_id))
        await shop.wait_for(INVENTORY_EVENTS, about(order_id, StockReserved))
    await shop.publish(shipped(shipped_order, A=2))
    await shop.wait_for(INVENTORY_EVENTS, about(shipped_order, StockCommitted))

    # When both are cancelled
    await shop.publish(cancelled(reserved))
    await shop.publish(cancelled(shipped_order))

    # Then the reservation is released; the shipped order's stock stays committed
    released = await shop.wait_for(INVENTORY_EVENTS, about(reserved, StockReleased))
    assert lines_of(released) == {("A", 3)}
    await applied(inventory, OrderCancelled, 2)
    assert (await get(inventory, f"/orders/{shipped_order}/stock"))["status"] == "committed"
    assert await events_about(shop, shipped_order, StockReleased) == []
    levels = await totals(inventory, "A")
    assert (levels["on_hand"], levels["reserved"], levels["committed"]) == (8, 0, 2)

    # When one order's cancel arrives before anything else of it, and another's between
    # its lines and its payment
    await shop.publish(cancelled(early))
    await applied(inventory, OrderCancelled, 3)
    await shop.publish(placed(early, A=1))
    await shop.publish(placed(between, A=1))
    await applied(inventory, OrderPlaced, 4)
    await shop.publish(cancelled(between))
    await applied(inventory, OrderCancelled, 4)
    await shop.publish(authorized(early))
    await shop.publish(authorized(between))
    await applied(inventory, PaymentAuthorized, 4)

    # Then neither ever reserves: inventory remembered the cancels
    for order_id in (early, between):
        view = await get(inventory, f"/orders/{order_id}/stock")
        assert (view["status"], view["lines"]) == ("cancelled", {"A": 1})
        assert view["payment_id"] is not None
        assert await events_about(shop, order_id, StockReserved) == []
    levels = await totals(inventory, "A")
    assert (levels["on_hand"], levels["reserved"], levels["available"]) == (8, 0, 8)
    assert_conserved(levels)
    expected = {
        str(reserved): "released",
        str(shipped_order): "committed",
        str(early): "cancelled",
        str(between): "cancelled",
    }
    records = await reservations(inventory, lambda items: statuses(items) == expected)
    assert statuses(records) == expected


def statuses(items: list[dict[str, Any]]) -> dict[str, str]:
    return {item["order_id"]: item["status"] for item in items}


async def reservations(
    inventory: RunningService, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
) -> list[dict[str, Any]]:
    """`GET /reservations` items once `done` holds (the read model trails the store)."""
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = (await get(inventory, "/reservations", size=100))["items"]
        if done(items):
            break
        await asyncio.sleep(0.3)
    return items
