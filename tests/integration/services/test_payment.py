"""The payment service as a process on the real broker and PostgreSQL.

Upstream events are published as cart and fulfillment would; the assertions read
what payment published on `payment.events`.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from orderflow_devinfra.kafka_reading import wait_caught_up
from orderflow_events import (
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentMethod,
    Shipped,
    StockLine,
)
from orderflow_events.samples import T0, sample_order_placed

from .conftest import Shop, about

pytestmark = pytest.mark.integration

FAST_RETRIES = {"gateway_retry_delay_s": "0.05", "gateway_retry_max_delay_s": "0.1"}


def order(token: str) -> OrderPlaced:
    card = PaymentMethod(token=token, brand="visa", last4="4242")
    return sample_order_placed().model_copy(update={"order_id": uuid.uuid4(), "payment": card})


def shipped(order_id: uuid.UUID) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid.uuid4(),
        carrier="parcelco",
        service_level="standard",
        tracking_number="PC123456789012",
        lines=[StockLine(sku="TSHIRT-RED-M", quantity=2)],
        shipped_at=T0,
    )


async def test_each_sandbox_token_gets_its_outcome_once(shop: Shop) -> None:
    # Given the payment service with fast gateway retries
    shop.start("payment", **FAST_RETRIES)
    orders = {
        token: order(token)
        for token in (
            "tok_approve",
            "tok_decline_funds",
            "tok_decline_fraud",
            "tok_transient_then_approve",
            "tok_timeout",
        )
    }

    # When every order is placed, and the approved one is published twice
    for placed in orders.values():
        await shop.publish(placed)
    await shop.publish(orders["tok_approve"])
    await wait_caught_up(shop.kafka_bootstrap, "payment", shop.topic(ORDERS_EVENTS))

    # Then each order got the outcome of its token, exactly once
    events = await shop.events(PAYMENT_EVENTS, at_least=len(orders))
    outcomes = Counter((e.subject, e.type) for e in events)
    expected = {
        "tok_approve": PaymentAuthorized,
        "tok_decline_funds": PaymentDeclined,
        "tok_decline_fraud": PaymentDeclined,
        "tok_transient_then_approve": PaymentAuthorized,
        "tok_timeout": PaymentDeclined,
    }
    for token, kind in expected.items():
        subject = str(orders[token].order_id)
        assert outcomes[(subject, kind.ce_type)] == 1, token
        assert sum(n for (s, _), n in outcomes.items() if s == subject) == 1, token
    by_order = {e.subject: e.data for e in events}
    reasons = {
        token: (data.reason, data.attempts)
        for token, placed in orders.items()
        if isinstance(data := by_order[str(placed.order_id)], PaymentDeclined)
    }
    assert reasons == {
        "tok_decline_funds": ("insufficient_funds", 1),
        "tok_decline_fraud": ("suspected_fraud", 1),
        "tok_timeout": ("gateway_timeout", 3),
    }
    authorized = by_order[str(orders["tok_approve"].order_id)]
    assert isinstance(authorized, PaymentAuthorized)
    assert authorized.amount == orders["tok_approve"].total


async def test_shipped_captures_the_authorised_amount(shop: Shop) -> None:
    # Given an authorised order, and one whose Shipped overtakes its OrderPlaced
    service = shop.start("payment", **FAST_RETRIES)
    first, second = order("tok_approve"), order("tok_approve")
    await shop.publish(first)
    await shop.wait_for(PAYMENT_EVENTS, about(first.order_id, PaymentAuthorized))
    await shop.publish(shipped(second.order_id))

    # When both ship (the second is placed only now)
    await shop.publish(shipped(first.order_id))
    await shop.publish(second)

    # Then each captures its authorised total, once
    for placed in (first, second):
        captured = await shop.wait_for(PAYMENT_EVENTS, about(placed.order_id, PaymentCaptured))
        assert isinstance(captured.data, PaymentCaptured)
        assert captured.data.amount == placed.total
    with service.client() as http:
        body = http.get(f"/payments/{second.order_id}", headers=service.admin_headers).json()
    assert (body["status"], body["captured"]["amount"]) == ("captured", "53.19")
