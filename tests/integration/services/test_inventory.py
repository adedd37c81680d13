"""The inventory service as a process on the real broker and PostgreSQL.

Upstream events are published as catalog, cart, payment and fulfillment would;
stock is received over HTTP; the assertions read `inventory.events` and the API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import httpx
import pytest
from orderflow_devinfra.shop import RunningService, Shop, about, free_port, wait_ready
from orderflow_events import (
    INVENTORY_EVENTS,
    Envelope,
    Shipped,
    StockCommitted,
    StockLine,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    UnavailableLine,
)
from orderflow_events.samples import T0

from .inventory_events import authorized, listed, placed

pytestmark = pytest.mark.integration


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


async def levels(inventory: RunningService, sku: str) -> tuple[int, int, int, int]:
    """(on hand, reserved, available, committed) of `sku`, from its stock item."""
    async with admin_client(inventory) as http:
        response = await http.get(f"/stock/{sku}")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["on_hand"], body["reserved"], body["available"], body["committed"]


def lines_of(envelope: Envelope) -> set[tuple[str, int]]:
    data: Any = envelope.data
    return {(line.sku, line.quantity) for line in data.lines}


async def test_orders_reserve_all_or_nothing_and_commit_on_shipping(shop: Shop) -> None:
    # Given two skus with stock received over HTTP
    inventory = start_inventory(shop)
    await stock_up(shop, inventory, A=10, B=5)

    # When one order arrives lines first, another payment first, a third asks too much
    first, second, greedy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await shop.publish(placed(first, A=2, B=1))
    await shop.publish(authorized(first))
    await shop.publish(authorized(second))
    await shop.publish(placed(second, A=1))
    await shop.publish(placed(greedy, A=1, B=10))
    await shop.publish(authorized(greedy))

    # Then the first two are reserved with their lines, the third fails on its short line
    reserved = await shop.wait_for(INVENTORY_EVENTS, about(first, StockReserved))
    assert lines_of(reserved) == {("A", 2), ("B", 1)}
    assert reserved.correlation_id == str(first)
    reserved_second = await shop.wait_for(INVENTORY_EVENTS, about(second, StockReserved))
    assert lines_of(reserved_second) == {("A", 1)}
    failed = await shop.wait_for(INVENTORY_EVENTS, about(greedy, StockReservationFailed))
    assert isinstance(failed.data, StockReservationFailed)
    assert failed.data.unavailable == [UnavailableLine(sku="B", requested=10, available=4)]

    # When the first order ships
    shipment = uuid.uuid4()
    await shop.publish(
        Shipped(
            order_id=first,
            shipment_id=shipment,
            carrier="dhl",
            service_level="ground",
            tracking_number="T1",
            lines=[StockLine(sku="A", quantity=2), StockLine(sku="B", quantity=1)],
            shipped_at=T0,
        )
    )

    # Then its reservation is committed: the units leave on hand
    committed = await shop.wait_for(INVENTORY_EVENTS, about(first, StockCommitted))
    assert isinstance(committed.data, StockCommitted)
    assert isinstance(reserved.data, StockReserved)
    assert committed.data.shipment_id == shipment
    assert committed.data.reservation_id == reserved.data.reservation_id
    assert await levels(inventory, "A") == (8, 1, 7, 2)
    assert await levels(inventory, "B") == (4, 0, 4, 1)
    # and the goods receipts were published too, keyed by sku
    published = await shop.events(INVENTORY_EVENTS)
    restocks = [e for e in published if isinstance(e.data, StockRestocked)]
    assert sorted(lines_of(e).pop() for e in restocks) == [("A", 10), ("B", 5)]
    # and nothing reserved the greedy order's A
    assert not any(e.subject == str(greedy) and e.type == StockReserved.ce_type for e in published)


async def test_twenty_orders_for_ten_units_reserve_exactly_ten(shop: Shop) -> None:
    # Given 10 units of one sku, and two inventory processes sharing the store and the
    # consumer group: the orders' partitions are split between them
    inventory = start_inventory(shop)
    await stock_up(shop, inventory, HOT=10)
    rival = start_rival(shop, inventory)

    # When 20 orders of one unit each arrive, as fast as they are published
    orders = [uuid.uuid4() for _ in range(20)]
    for order_id in orders:
        await shop.publish(placed(order_id, HOT=1))
        await shop.publish(authorized(order_id))

    # Then exactly 10 are reserved and 10 refused, one outcome per order
    outcomes = await reservation_outcomes(shop, expected=20)
    assert sorted(outcomes) == sorted(str(o) for o in orders)
    kinds = list(outcomes.values())
    assert kinds.count(StockReserved.ce_type) == 10
    assert kinds.count(StockReservationFailed.ce_type) == 10
    # and the levels, as the shared read model sees them, hold 10 reserved, 0 available
    assert await listed_levels(rival, "HOT") == {"on_hand": 10, "reserved": 10, "available": 0}


def start_rival(shop: Shop, first: RunningService) -> RunningService:
    """A second inventory process on the first one's database and consumer group."""
    config = dataclasses.replace(first.config, http_port=free_port())
    log_dir = shop.tmp / "rival"
    log_dir.mkdir()
    rival = RunningService(config, config.process(log_dir).start())
    shop.services["inventory-rival"] = rival  # stopped with the others after the test
    wait_ready(rival)
    return rival


async def reservation_outcomes(shop: Shop, *, expected: int, timeout: float = 30) -> dict[str, str]:
    """Order id -> the type of its reservation outcome, once `expected` orders have one.

    Two processes may both relay an event; a repeat has the same ce_id. Two different
    outcomes for one order fail the test.
    """
    deadline = time.monotonic() + timeout
    outcomes: dict[str, str] = {}
    while len(outcomes) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        seen: dict[str, set[str]] = {}
        for e in await shop.events(INVENTORY_EVENTS, at_least=1, timeout=10):
            if e.type in (StockReserved.ce_type, StockReservationFailed.ce_type):
                seen.setdefault(str(e.subject), set()).add(e.type)
        assert all(len(kinds) == 1 for kinds in seen.values()), seen
        outcomes = {order: kinds.pop() for order, kinds in seen.items()}
    return outcomes


async def listed_levels(service: RunningService, sku: str, timeout: float = 10) -> dict[str, int]:
    """The sku's levels from `GET /stock` once the read model stops changing."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    async with admin_client(service) as http:
        while time.monotonic() < deadline:
            items = (await http.get("/stock")).json()["items"]
            [row] = [item for item in items if item["sku"] == sku]
            current = {key: row[key] for key in ("on_hand", "reserved", "available")}
            if current == last:
                return current
            last = current
            await asyncio.sleep(0.5)
    return last
