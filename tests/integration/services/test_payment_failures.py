"""Payment's failure paths as a process on the real broker and PostgreSQL: refunds of
received returns, and the void or refund of a cancelled order.

Cart's and fulfillment's events are published as they would; assertions read
`payment.events` and `GET /payments`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from orderflow_devinfra.kafka_reading import wait_caught_up
from orderflow_events import (
    FULFILLMENT_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    Money,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentRefunded,
    PaymentVoided,
    ReceivedLine,
    ReturnReceived,
    Shipped,
    StockLine,
)
from orderflow_events.samples import T0, sample_order_placed

from .conftest import Shop, about

pytestmark = pytest.mark.integration

SKU = "TSHIRT-RED-M"
CENT = Decimal("0.01")
FAST_RETRIES = {"gateway_retry_delay_s": "0.05", "gateway_retry_max_delay_s": "0.1"}


def order() -> OrderPlaced:
    """2 units at 19.90, 4.90 shipping, 19 % tax on subtotal + shipping."""
    subtotal, shipping = Decimal("39.80"), Decimal("4.90")
    tax = ((subtotal + shipping) * Decimal("0.19")).quantize(CENT, ROUND_HALF_EVEN)
    return sample_order_placed().model_copy(
        update={
            "order_id": uuid.uuid4(),
            "lines": [
                OrderLine(sku=SKU, name="T-shirt", quantity=2, unit_price=Money.of("19.90", "EUR"))
            ],
            "subtotal": Money.of(subtotal, "EUR"),
            "shipping_fee": Money.of(shipping, "EUR"),
            "tax": Money.of(tax, "EUR"),
            "total": Money.of(subtotal + shipping + tax, "EUR"),
        }
    )


def share_of_tax(placed: OrderPlaced, amount: Decimal) -> Decimal:
    base = placed.subtotal.amount + placed.shipping_fee.amount
    return (placed.tax.amount * amount / base).quantize(CENT, ROUND_HALF_EVEN)


def expected_refund(placed: OrderPlaced, units: int, *, with_shipping: bool = False) -> Money:
    goods = placed.lines[0].unit_price.amount * units
    amount = goods + share_of_tax(placed, goods)
    if with_shipping:
        fee = placed.shipping_fee.amount
        amount += fee + share_of_tax(placed, fee)
    return Money.of(amount, "EUR")


def shipped(order_id: uuid.UUID) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid.uuid4(),
        carrier="parcelco",
        service_level="standard",
        tracking_number="PC123456789012",
        lines=[StockLine(sku=SKU, quantity=2)],
        shipped_at=T0,
    )


def returned(order_id: uuid.UUID, units: int, condition: str = "resellable") -> ReturnReceived:
    return ReturnReceived(
        order_id=order_id,
        return_id=uuid.uuid4(),
        rma="RMA-0123456789",
        lines=[
            ReceivedLine.model_validate({"sku": SKU, "quantity": units, "condition": condition})
        ],
        received_at=T0,
    )


def cancelled(order_id: uuid.UUID) -> OrderCancelled:
    return OrderCancelled.model_validate(
        {"order_id": order_id, "reason": "customer", "cancelled_at": T0}
    )


async def captured(shop: Shop, placed: OrderPlaced) -> None:
    await shop.publish(placed)
    await shop.wait_for(PAYMENT_EVENTS, about(placed.order_id, PaymentAuthorized))
    await shop.publish(shipped(placed.order_id))
    await shop.wait_for(PAYMENT_EVENTS, about(placed.order_id, PaymentCaptured))


async def settled(shop: Shop) -> list[tuple[str, str, Money | None]]:
    """Once payment consumed everything: (order, event type, amount) of all it published."""
    for topic in (ORDERS_EVENTS, FULFILLMENT_EVENTS):
        await wait_caught_up(shop.kafka_bootstrap, "payment", shop.topic(topic))
    events = await shop.events(PAYMENT_EVENTS, at_least=1)
    return [(str(e.subject), e.type, getattr(e.data, "amount", None)) for e in events]


async def test_returns_are_refunded_exactly_and_never_beyond_the_capture(shop: Shop) -> None:
    # Given payment refunding the shipping on a full return, and two captured orders
    service = shop.start("payment", refund_shipping="on_full_return", **FAST_RETRIES)
    whole, halves = order(), order()
    for placed in (whole, halves):
        await captured(shop, placed)

    # When the first comes back in one parcel, the second in two, and the second's
    # first parcel is received again, and a third parcel arrives with nothing left
    both = returned(whole.order_id, 2, "damaged")
    first, second, extra = (returned(halves.order_id, 1) for _ in range(3))
    for event in (both, first, first, second, extra):
        await shop.publish(event)

    # Then each refund is the units plus their tax share (plus shipping with the last units)
    refunds = {}
    for event in (both, first, second):
        found = await shop.wait_for(
            PAYMENT_EVENTS,
            lambda e, r=event: (
                isinstance(e.data, PaymentRefunded) and e.data.return_id == r.return_id
            ),
        )
        assert isinstance(found.data, PaymentRefunded)
        refunds[event.return_id] = found.data.amount
    assert refunds[both.return_id] == expected_refund(whole, 2, with_shipping=True) == whole.total
    assert refunds[first.return_id] == expected_refund(halves, 1) == Money.of("23.68", "EUR")
    assert refunds[second.return_id] == expected_refund(halves, 1, with_shipping=True)

    # And nothing more: one refund per return, never above the capture
    published = await settled(shop)
    counted = Counter((order_id, kind) for order_id, kind, _ in published)
    assert counted[(str(whole.order_id), PaymentRefunded.ce_type)] == 1
    assert counted[(str(halves.order_id), PaymentRefunded.ce_type)] == 2
    with service.client() as http:
        listed = http.get("/payments", headers=service.admin_headers).json()["items"]
    payments = {p["order_id"]: p for p in listed}
    for placed in (whole, halves):
        payment = payments[str(placed.order_id)]
        assert payment["refunded"] == payment["captured"] == placed.total.model_dump(mode="json")
        assert (payment["status"], payment["returns"]) == ("refunded", 1 if placed is whole else 3)
    assert [r["return_id"] for r in payments[str(halves.order_id)]["refunds"]] == [
        str(first.return_id),
        str(second.return_id),
    ]


async def test_a_cancel_voids_before_capture_and_refunds_after_it(shop: Shop) -> None:
    # Given an authorised order and a captured one
    service = shop.start("payment", **FAST_RETRIES)
    early, late = order(), order()
    await shop.publish(early)
    await shop.wait_for(PAYMENT_EVENTS, about(early.order_id, PaymentAuthorized))
    await captured(shop, late)

    # When both are cancelled, and the first one's Shipped arrives after its cancel
    await shop.publish(cancelled(early.order_id))
    await shop.publish(cancelled(late.order_id))
    voided = await shop.wait_for(PAYMENT_EVENTS, about(early.order_id, PaymentVoided))
    await shop.publish(shipped(early.order_id))

    # Then the first is voided and never captured; the second refunded in full
    assert isinstance(voided.data, PaymentVoided)
    assert voided.data.amount == early.total
    refunded = await shop.wait_for(PAYMENT_EVENTS, about(late.order_id, PaymentRefunded))
    assert isinstance(refunded.data, PaymentRefunded)
    assert (refunded.data.amount, refunded.data.return_id) == (late.total, None)
    published = await settled(shop)
    assert [kind for order_id, kind, _ in published if order_id == str(early.order_id)] == [
        PaymentAuthorized.ce_type,
        PaymentVoided.ce_type,
    ]
    with service.client() as http:
        listed = http.get("/payments", headers=service.admin_headers).json()["items"]
    payments = {p["order_id"]: p for p in listed}
    first, second = payments[str(early.order_id)], payments[str(late.order_id)]
    assert (first["status"], first["voided"], first["captured"]["amount"]) == (
        "voided",
        True,
        "0.00",
    )
    assert (second["status"], second["voided"], second["authorizations"]) == ("refunded", False, 1)
