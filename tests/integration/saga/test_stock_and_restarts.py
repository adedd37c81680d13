"""Stock is never oversold under concurrency; every service rebuilds the same state."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orderflow_devinfra.shop import Shop, wait_ready
from orderflow_devinfra.shopping import (
    buy,
    client,
    eventually,
    list_product,
    order,
    receive_stock,
    wait_status,
)
from orderflow_events import INVENTORY_EVENTS, StockReservationFailed, StockReserved


async def test_concurrent_orders_sell_exactly_the_stock(whole_shop: Shop) -> None:
    # Given 6 units of a product and 15 customers who want 1 each, all at once
    list_product(whole_shop, "LIMITED-1", "49.00")
    receive_stock(whole_shop, "LIMITED-1", 6)
    with ThreadPoolExecutor(max_workers=8) as pool:
        order_ids = list(
            pool.map(lambda i: buy(whole_shop, f"c{i}@example.com", {"LIMITED-1": 1}), range(15))
        )

    # Then exactly 6 reservations succeed and 9 fail, and the stock adds up
    decisions = {StockReserved.ce_type, StockReservationFailed.ce_type}
    decided: list[str] = []
    deadline = time.monotonic() + 90
    while len(decided) < 15 and time.monotonic() < deadline:
        envelopes = await whole_shop.events(INVENTORY_EVENTS, at_least=1, timeout=10)
        decided = [e.type for e in envelopes if e.subject in order_ids and e.type in decisions]
        await asyncio.sleep(0.5)
    assert len(decided) == 15, decided
    assert decided.count(StockReserved.ce_type) == 6
    with client(whole_shop, "inventory") as inventory:
        eventually(
            lambda: inventory.get("/stock/LIMITED-1").json()["committed"] == 6,
            what="6 units committed after shipping",
            timeout=60,
        )
        level = inventory.get("/stock/LIMITED-1").json()
    assert level["available"] == 0
    assert level["reserved"] == 0
    assert level["on_hand"] == 0


def snapshot(shop: Shop, order_id: str, sku: str) -> dict[str, Any]:
    """What each service reports about one order and one product."""
    views: dict[str, Any] = {"order": order(shop, order_id)}
    paths = {
        "catalog": f"/products/{sku}",
        "inventory": f"/stock/{sku}",
        "payment": f"/payments/{order_id}",
        "fulfillment": f"/shipments/{order_id}",
        "notification": f"/notices?order_id={order_id}",
    }
    for service, path in paths.items():
        with client(shop, service) as http:
            response = http.get(path)
            response.raise_for_status()
            views[service] = response.json()
    return views


def test_every_service_rebuilds_the_same_state_after_a_restart(whole_shop: Shop) -> None:
    # Given a delivered order
    list_product(whole_shop, "BOOK-1", "12.00")
    receive_stock(whole_shop, "BOOK-1", 3)
    order_id = buy(whole_shop, "bob@example.com", {"BOOK-1": 1})
    wait_status(whole_shop, order_id, "delivered", timeout=90)
    with client(whole_shop, "notification") as http:
        eventually(
            lambda: len(http.get(f"/notices?order_id={order_id}").json()) >= 3,
            what="three notices",
        )
    before = snapshot(whole_shop, order_id, "BOOK-1")

    # When every service is stopped and started again on the same stores
    for running in whole_shop.services.values():
        running.process.stop()
    for running in whole_shop.services.values():
        running.process.start()
    for running in whole_shop.services.values():
        wait_ready(running)

    # Then each reports exactly what it did before
    assert snapshot(whole_shop, order_id, "BOOK-1") == before
