"""The order saga end to end: six services as processes, real Kafka, PostgreSQL and SMTP."""

from __future__ import annotations

from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, about
from orderflow_devinfra.shopping import buy, list_product, receive_stock, wait_status
from orderflow_events import (
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    PaymentCaptured,
    Shipped,
    StockCommitted,
    StockReserved,
)

STAGES = ["placed", "payment_authorized", "stock_reserved", "shipped", "delivered"]


async def test_an_order_goes_from_checkout_to_delivery(whole_shop: Shop, mail: MailSink) -> None:
    # Given two products in the catalog with stock
    list_product(whole_shop, "TEE-RED-M", "19.90")
    list_product(whole_shop, "MUG-BLUE", "8.50", weight_grams=350)
    receive_stock(whole_shop, "TEE-RED-M", 5)
    receive_stock(whole_shop, "MUG-BLUE", 5)

    # When a customer checks out
    order_id = buy(whole_shop, "ada@example.com", {"TEE-RED-M": 2, "MUG-BLUE": 1})

    # Then the order goes through every stage, in order, to delivery
    final = wait_status(whole_shop, order_id, "delivered", timeout=90)
    reached = [entry["status"] for entry in final["status_history"] if entry.get("status")]
    assert [s for s in STAGES if s in reached] == STAGES
    assert reached.index("payment_authorized") < reached.index("shipped")

    # And the payment was captured and the stock committed
    captured = await whole_shop.wait_for(PAYMENT_EVENTS, about(order_id, PaymentCaptured))
    assert isinstance(captured.data, PaymentCaptured)
    assert format(captured.data.amount.amount, "f") == final["amounts"]["total"]["amount"]
    await whole_shop.wait_for(INVENTORY_EVENTS, about(order_id, StockCommitted))
    placed = await whole_shop.wait_for(ORDERS_EVENTS, about(order_id))
    assert captured.correlation_id == placed.correlation_id == order_id

    # And one trace spans the saga, from the checkout request to the capture
    saga = [placed, captured]
    for topic, kind in ((INVENTORY_EVENTS, StockReserved), (FULFILLMENT_EVENTS, Shipped)):
        saga.append(await whole_shop.wait_for(topic, about(order_id, kind)))
    trace_ids = {e.traceparent.split("-")[1] for e in saga if e.traceparent}
    assert len(trace_ids) == 1, [e.traceparent for e in saga]
    assert all(e.traceparent for e in saga)

    # And the customer got the confirmation, shipping and delivery emails
    mails = mail.wait_for(3, "ada@example.com", timeout=60)
    bodies = [m.as_string() for m in mails]
    assert any("TEE-RED-M" in b or "Product TEE-RED-M" in b for b in bodies), "itemised receipt"
    assert sum("tracking" in b.lower() for b in bodies) >= 1
