"""Notification's side of the saga's failure paths, as a process on the real broker and
PostgreSQL: cancel, return and refund notices, by SMTP into a sink.

Upstream events are published as cart, payment, inventory and fulfillment would; the
assertions read the sink, the operators' API and, to know that an event which asks
for no notice has been applied, the service's consumed-events metric.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import RunningService, Shop
from orderflow_events import (
    CancelReason,
    IntegrationEvent,
    Money,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnLabel,
    ReturnRejected,
    StockLine,
    StockReservationFailed,
    UnavailableLine,
)
from orderflow_events.samples import PAYMENT_ID, T0, sample_order_placed

pytestmark = pytest.mark.integration
SKU = "TSHIRT-RED-M"  # the sample order's only line: 2 x T-shirt


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


def start_notification(shop: Shop, smtp: MailSink) -> RunningService:
    return shop.start(
        "notification",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        consumer_group=f"{shop.namespace}notification",
    )


def order(address: str) -> OrderPlaced:
    return sample_order_placed().model_copy(
        update={"order_id": uuid.uuid4(), "customer_email": address}
    )


def cancel(placed: OrderPlaced, reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(
        order_id=placed.order_id, reason=reason, detail="internal: job 42", cancelled_at=T0
    )


def mails(sink: MailSink, address: str, subject_part: str = "") -> list[Message]:
    return [m for m in sink.to(address) if subject_part in str(m["Subject"])]


async def mail(sink: MailSink, address: str, subject_part: str, timeout: float = 30) -> Message:
    """The first email to `address` whose subject contains `subject_part`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := mails(sink, address, subject_part):
            return found[0]
        await asyncio.sleep(0.1)
    subjects = [str(m["Subject"]) for m in sink.to(address)]
    raise AssertionError(f"no email to {address} about {subject_part!r} in {timeout}s: {subjects}")


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8").replace("\r\n", "\n")
    raise AssertionError("no text/plain part")


async def applied(service: RunningService, kind: type[IntegrationEvent], count: int) -> None:
    """Wait until the service has applied `count` events of `kind` (its metrics say so)."""
    pattern = re.compile(
        r"^orderflow_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$", flags=re.MULTILINE
    )
    deadline, seen = time.monotonic() + 30, 0.0
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
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


async def notices(service: RunningService, order_id: uuid.UUID) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(
        base_url=service.url, headers=service.admin_headers, timeout=10
    ) as http:
        response = await http.get("/notices", params={"order_id": str(order_id)})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_cancel_notices_say_why_and_a_declined_payment_gets_only_its_decline(
    shop: Shop, smtp: MailSink
) -> None:
    service = start_notification(shop, smtp)
    short, declined = order("short@example.com"), order("dec@example.com")
    asked = order("asked@example.com")
    for placed in (short, declined, asked):
        await shop.publish(placed)

    # Out of stock: cart's cancel overtakes inventory's StockReservationFailed
    await shop.publish(cancel(short, CancelReason.OUT_OF_STOCK))
    await applied(service, OrderCancelled, 1)
    assert mails(smtp, "short@example.com", "cancelled") == []  # waits for the shortage
    failed = StockReservationFailed(
        order_id=short.order_id,
        unavailable=[UnavailableLine(sku=SKU, requested=2, available=1)],
        failed_at=T0,
    )
    await shop.publish(failed)
    body = text_of(await mail(smtp, "short@example.com", "has been cancelled"))
    assert "because some of the items are no longer in stock" in body
    assert f"T-shirt ({SKU}): you ordered 2, we had 1" in body
    assert "job 42" not in body

    # Customer cancel: "as you asked"
    await shop.publish(cancel(asked, CancelReason.CUSTOMER))
    body = text_of(await mail(smtp, "asked@example.com", "has been cancelled"))
    assert "we have cancelled your order" in body
    assert "as you asked" in body

    # Declined payment: the decline notice, then cart's cancel asks for nothing more
    await shop.publish(
        PaymentDeclined(
            order_id=declined.order_id,
            payment_id=PAYMENT_ID,
            reason="insufficient_funds",
            declined_at=T0,
        )
    )
    await shop.publish(cancel(declined, CancelReason.PAYMENT_DECLINED))
    decline = await mail(smtp, "dec@example.com", "could not take payment")
    assert "insufficient funds" in text_of(decline)
    await applied(service, OrderCancelled, 3)
    await mail(smtp, "dec@example.com", "is confirmed")
    await asyncio.sleep(1.0)  # two dispatcher polls: a cancel notice would have gone by now
    [failure] = [m for m in mails(smtp, "dec@example.com") if "is confirmed" not in m["Subject"]]
    assert failure["Message-ID"] == decline["Message-ID"]
    assert sorted(n["template"] for n in await notices(service, declined.order_id)) == [
        "order_confirmation",
        "payment_declined",
    ]


async def test_return_and_refund_notices_carry_the_rma_the_label_and_the_amount(
    shop: Shop, smtp: MailSink
) -> None:
    service = start_notification(shop, smtp)
    placed = order("ret@example.com")
    await shop.publish(placed)
    return_id, refund_id, refused_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    # A return authorised (published twice), another one rejected
    authorised = ReturnAuthorized(
        order_id=placed.order_id,
        return_id=return_id,
        rma="RMA-IT-0001",
        label=ReturnLabel(
            carrier="dhl",
            tracking_number="JD-RET-1",
            url="https://labels.example.com/RMA-IT-0001.pdf",
        ),
        lines=[StockLine(sku=SKU, quantity=1)],
        authorized_at=T0,
    )
    await shop.publish(authorised)
    await shop.publish(authorised)
    await shop.publish(
        ReturnRejected(
            order_id=placed.order_id,
            return_id=refused_id,
            reason="Outside the return window",
            rejected_at=T0,
        )
    )

    body = text_of(await mail(smtp, "ret@example.com", "RMA-IT-0001"))
    assert "Return number (RMA): RMA-IT-0001" in body
    assert "https://labels.example.com/RMA-IT-0001.pdf" in body
    assert "JD-RET-1" in body
    assert "1 x T-shirt" in body
    rejected = text_of(await mail(smtp, "ret@example.com", "could not accept your return"))
    assert "Outside the return window" in rejected

    # The refund of the returned unit
    await shop.publish(
        PaymentRefunded(
            order_id=placed.order_id,
            payment_id=PAYMENT_ID,
            refund_id=refund_id,
            amount=Money.of("19.90", "EUR"),
            return_id=return_id,
            refunded_at=T0,
        )
    )
    refund = await mail(smtp, "ret@example.com", "Refund of 19.90 EUR")
    assert "for the items you returned (return RMA-IT-0001)" in text_of(refund)

    # One email per notice, whatever was published twice
    await applied(service, ReturnAuthorized, 2)
    assert len(mails(smtp, "ret@example.com", "RMA-IT-0001")) == 1
    sent = await notices(service, placed.order_id)
    assert sorted((n["template"], n["status"]) for n in sent) == [
        ("order_confirmation", "sent"),
        ("payment_refunded", "sent"),
        ("return_authorized", "sent"),
        ("return_rejected", "sent"),
    ]
