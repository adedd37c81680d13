"""The saga's failure paths end to end, each followed by the invariant check."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor

from orderflow_devinfra import invariants
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, about, wait_ready
from orderflow_devinfra.shopping import (
    buy,
    client,
    eventually,
    list_product,
    order,
    receive_stock,
    wait_status,
)
from orderflow_events import (
    FULFILLMENT_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    OrderCancelled,
    PaymentRefunded,
    PaymentVoided,
    ReturnAuthorized,
    Shipped,
)


async def assert_invariants_hold(shop: Shop) -> None:
    report = await invariants.check(shop)
    assert report.violations == [], report.summary()


async def test_a_declined_card_cancels_the_order(whole_shop: Shop, mail: MailSink) -> None:
    list_product(whole_shop, "SCARF-1", "25.00")
    receive_stock(whole_shop, "SCARF-1", 3)

    order_id = buy(whole_shop, "dee@example.com", {"SCARF-1": 1}, token="tok_decline_funds")

    cancelled = wait_status(whole_shop, order_id, "cancelled")
    assert cancelled["cancellation"]["reason"] == "payment_declined"
    mails = mail.wait_for(2, "dee@example.com")  # confirmation, then the decline
    assert any("declin" in m.as_string().lower() for m in mails)
    with client(whole_shop, "inventory") as inventory:
        assert inventory.get("/stock/SCARF-1").json()["reserved"] == 0
    await assert_invariants_hold(whole_shop)


async def test_out_of_stock_cancels_and_voids_the_payment(whole_shop: Shop, mail: MailSink) -> None:
    list_product(whole_shop, "RARE-1", "99.00")
    receive_stock(whole_shop, "RARE-1", 1)

    order_id = buy(whole_shop, "eve@example.com", {"RARE-1": 2})

    cancelled = wait_status(whole_shop, order_id, "cancelled")
    assert cancelled["cancellation"]["reason"] == "out_of_stock"
    await whole_shop.wait_for(PAYMENT_EVENTS, about(order_id, PaymentVoided))
    mails = mail.wait_for(2, "eve@example.com")
    assert any("RARE-1" in m.as_string() for m in mails[1:]), "the short item is named"
    await assert_invariants_hold(whole_shop)


async def test_a_cancel_racing_the_shipment_has_exactly_one_outcome(whole_shop: Shop) -> None:
    # Given 12 orders, each cancelled by its customer after a random short delay
    list_product(whole_shop, "RACE-1", "10.00")
    receive_stock(whole_shop, "RACE-1", 40)
    rng = random.Random(3)

    def buy_and_cancel(i: int) -> str:
        order_id = buy(whole_shop, f"racer{i}@example.com", {"RACE-1": 1})
        time.sleep(rng.uniform(0, 0.3))
        with client(whole_shop, "cart") as cart:
            response = cart.post(f"/orders/{order_id}/cancel")
            assert response.status_code in (200, 202, 409), response.text
        return order_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        order_ids = list(pool.map(buy_and_cancel, range(12)))

    # Then each order ends cancelled or shipped (delivered), never both
    def settled() -> bool:
        return all(
            order(whole_shop, oid)["status"] in ("cancelled", "delivered") for oid in order_ids
        )

    eventually(settled, what="every raced order settled", timeout=90)
    cancelled = {
        e.subject
        for e in await whole_shop.events(ORDERS_EVENTS, at_least=1)
        if e.type == OrderCancelled.ce_type
    }
    shipped = {
        e.subject
        for e in await whole_shop.events(FULFILLMENT_EVENTS, at_least=1)
        if e.type == Shipped.ce_type
    }
    assert not cancelled & shipped, "an order both cancelled and shipped"
    assert cancelled | shipped >= set(order_ids)
    await assert_invariants_hold(whole_shop)


async def test_a_return_restocks_and_refunds(whole_shop: Shop, mail: MailSink) -> None:
    # Given a delivered order of two units
    list_product(whole_shop, "BOOT-42", "80.00", weight_grams=1500)
    receive_stock(whole_shop, "BOOT-42", 2)
    order_id = buy(whole_shop, "fay@example.com", {"BOOT-42": 2})
    wait_status(whole_shop, order_id, "delivered", timeout=90)

    # When the customer returns one unit, and the warehouse receives it resellable
    with client(whole_shop, "cart") as cart:
        response = cart.post(
            f"/orders/{order_id}/returns",
            json={"lines": [{"sku": "BOOT-42", "quantity": 1}], "reason": "Too small"},
        )
        assert response.status_code == 202, response.text
    authorized = await whole_shop.wait_for(FULFILLMENT_EVENTS, about(order_id, ReturnAuthorized))
    assert isinstance(authorized.data, ReturnAuthorized)
    with client(whole_shop, "fulfillment") as fulfillment:
        receipt = {"lines": [{"sku": "BOOT-42", "quantity": 1, "condition": "resellable"}]}
        response = fulfillment.post(f"/returns/{authorized.data.rma}/receipt", json=receipt)
        assert response.status_code in (200, 201), response.text

    # Then the unit is back on hand, the customer refunded, and the order partially returned
    refund = await whole_shop.wait_for(PAYMENT_EVENTS, about(order_id, PaymentRefunded))
    assert isinstance(refund.data, PaymentRefunded)
    assert refund.data.amount.amount > 80  # the unit plus its share of the tax
    wait_status(whole_shop, order_id, "partially_returned")
    with client(whole_shop, "inventory") as inventory:
        eventually(
            lambda: inventory.get("/stock/BOOT-42").json()["available"] == 1,
            what="the returned unit is available again",
        )
    assert any(authorized.data.rma in m.as_string() for m in mail.to("fay@example.com"))
    await assert_invariants_hold(whole_shop)


async def test_an_order_past_its_deadline_is_cancelled_and_compensated(
    kafka_bootstrap: str,
    database_url_factory,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    # Given a shop whose inventory is down, and orders that may wait 3 s for their stock
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    try:
        for service in ("catalog", "cart", "payment", "inventory", "fulfillment"):
            settings = {"deadline_payment_authorized_s": "3"} if service == "cart" else {}
            shop.start(service, **settings)
        list_product(shop, "SLOW-1", "15.00")
        receive_stock(shop, "SLOW-1", 5)
        shop.services["inventory"].process.stop()

        # When an order is authorised but never reserved
        order_id = buy(shop, "gus@example.com", {"SLOW-1": 1})
        cancelled = wait_status(shop, order_id, "cancelled", timeout=60)

        # Then it is cancelled as expired, its payment voided, and operators see it
        assert cancelled["cancellation"]["reason"] == "expired"
        await shop.wait_for(PAYMENT_EVENTS, about(order_id, PaymentVoided))
        with client(shop, "cart") as cart:
            stuck = cart.get("/orders/stuck").json()
        assert order_id in str(stuck)
        shop.services["inventory"].process.start()
        wait_ready(shop.services["inventory"])
        with client(shop, "inventory") as inventory:
            eventually(
                lambda: inventory.get("/stock/SLOW-1").json()["reserved"] == 0,
                what="nothing reserved for the expired order",
                timeout=30,
            )
        await asyncio.sleep(2)
        assert order(shop, order_id)["status"] == "cancelled"
    finally:
        shop.stop_all()
