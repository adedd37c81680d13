"""Two replicas of inventory and of payment share their partitions through a rebalance."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from orderflow_devinfra import invariants
from orderflow_devinfra.shop import Shop
from orderflow_devinfra.shopping import buy, eventually, list_product, order, receive_stock
from orderflow_events import INVENTORY_EVENTS, PAYMENT_EVENTS, PaymentAuthorized, StockReserved


async def test_replicas_share_the_work_with_no_double_work_and_no_lost_order(
    whole_shop: Shop,
) -> None:
    # Given a second inventory and a second payment process in the same consumer groups
    list_product(whole_shop, "SCALE-1", "5.00")
    receive_stock(whole_shop, "SCALE-1", 100)
    replicas = [whole_shop.add_replica("inventory"), whole_shop.add_replica("payment")]

    def customers(first: int, count: int) -> list[str]:
        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(
                pool.map(
                    lambda i: buy(whole_shop, f"s{i}@example.com", {"SCALE-1": 1}),
                    range(first, first + count),
                )
            )

    # When orders flow while one replica of each leaves (a rebalance) and comes back
    order_ids = customers(0, 15)
    for replica in replicas:
        replica.process.kill()
    order_ids += customers(15, 15)
    for replica in replicas:
        replica.process.start()
    order_ids += customers(30, 10)

    # Then every order is delivered, each authorised and reserved exactly once
    eventually(
        lambda: all(order(whole_shop, oid)["status"] == "delivered" for oid in order_ids),
        what="all 40 orders delivered",
        timeout=120,
    )
    mine = set(order_ids)
    authorized = Counter(
        e.subject
        for e in await whole_shop.events(PAYMENT_EVENTS, at_least=40)
        if e.type == PaymentAuthorized.ce_type and e.subject in mine
    )
    reserved = Counter(
        e.subject
        for e in await whole_shop.events(INVENTORY_EVENTS, at_least=40)
        if e.type == StockReserved.ce_type and e.subject in mine
    )
    assert set(authorized) == set(reserved) == mine
    assert set(authorized.values()) == set(reserved.values()) == {1}
    report = await invariants.check(whole_shop)
    assert report.violations == [], report.summary()
