"""The notification service as a process on the real broker and PostgreSQL.

Upstream events are published as cart, payment and fulfillment would; emails land
in an SMTP sink (aiosmtpd) started by the test; the assertions read the sink and
what notification published on `notification.events`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any

import pytest
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, about, free_port, wait_ready
from orderflow_events import (
    NOTIFICATION_EVENTS,
    Delivered,
    NotificationFailed,
    NotificationSent,
    OrderPlaced,
    PaymentDeclined,
    Shipped,
    StockLine,
)
from orderflow_events.samples import PAYMENT_ID, T0, sample_order_placed

pytestmark = pytest.mark.integration


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


def mails(sink: MailSink, address: str, subject_part: str = "") -> list[Message]:
    return [m for m in sink.to(address) if subject_part in str(m["Subject"])]


async def mail(sink: MailSink, address: str, subject_part: str, timeout: float = 30) -> Message:
    """The first email to `address` whose subject contains `subject_part`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := mails(sink, address, subject_part):
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no email to {address} about {subject_part!r} in {timeout}s")


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def order(address: str) -> OrderPlaced:
    return sample_order_placed().model_copy(
        update={"order_id": uuid.uuid4(), "customer_email": address}
    )


def shipped(order_id: uuid.UUID, tracking: str) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid.uuid4(),
        carrier="parcelco",
        service_level="express",
        tracking_number=tracking,
        lines=[StockLine(sku="TSHIRT-RED-M", quantity=2)],
        shipped_at=T0,
    )


def sent(order_id: uuid.UUID, template: str) -> Callable[[Any], bool]:
    matches = about(order_id, NotificationSent)
    return lambda e: matches(e) and e.data.template == template


def settings_for(smtp: MailSink, **extra: str) -> dict[str, str]:
    return {"smtp_host": "127.0.0.1", "smtp_port": str(smtp.port), **extra}


async def test_customers_get_each_notice_once_whatever_the_order_of_events(
    shop: Shop, smtp: MailSink
) -> None:
    service = shop.start("notification", **settings_for(smtp))

    # OrderPlaced -> one confirmation with the itemised receipt, and NotificationSent
    ada = order("ada@example.com")
    placed_id = await shop.publish(ada)
    confirmation = await mail(smtp, "ada@example.com", "is confirmed")
    body = text_of(confirmation)
    assert "2 x T-shirt (TSHIRT-RED-M) at 19.90 EUR = 39.80 EUR" in body
    assert "Total: 53.19 EUR" in body
    assert "VISA ending in 4242" in body
    event = await shop.wait_for(NOTIFICATION_EVENTS, sent(ada.order_id, "order_confirmation"))
    assert isinstance(event.data, NotificationSent)
    assert event.data.caused_by == uuid.UUID(placed_id)
    assert event.causation_id == placed_id
    assert confirmation["Message-ID"] == f"<{event.data.notification_id}@orderflow.dev>"

    # Shipped -> shipping email with the tracking number; Delivered -> delivery email
    await shop.publish(shipped(ada.order_id, "PC-ADA-1"))
    assert "PC-ADA-1" in text_of(await mail(smtp, "ada@example.com", "has shipped"))
    await shop.publish(Delivered(order_id=ada.order_id, shipment_id=uuid.uuid4(), delivered_at=T0))
    await mail(smtp, "ada@example.com", "has been delivered")

    # Shipped BEFORE OrderPlaced (another order): the email follows once the order is known
    bob = order("bob@example.com")
    await shop.publish(shipped(bob.order_id, "PC-BOB-1"))
    await asyncio.sleep(1.0)
    assert mails(smtp, "bob@example.com") == []
    await shop.publish(bob)
    assert "PC-BOB-1" in text_of(await mail(smtp, "bob@example.com", "has shipped"))
    await mail(smtp, "bob@example.com", "is confirmed")

    # PaymentDeclined -> the decline email
    cy = order("cy@example.com")
    await shop.publish(cy)
    declined = PaymentDeclined(
        order_id=cy.order_id, payment_id=PAYMENT_ID, reason="card_expired", declined_at=T0
    )
    await shop.publish(declined)
    decline = await mail(smtp, "cy@example.com", "could not take payment")
    assert "your card has expired" in text_of(decline)

    # The same OrderPlaced again (a new ce_id and position), then a restart
    await shop.publish(ada)
    await asyncio.sleep(1.0)
    service.process.stop()
    service.process.start()
    wait_ready(service)
    dee = order("dee@example.com")
    await shop.publish(dee)
    await mail(smtp, "dee@example.com", "is confirmed")  # the restarted service is working

    # Still exactly one of each email to ada, and the operators' view agrees
    assert len(mails(smtp, "ada@example.com", "is confirmed")) == 1
    assert len(mails(smtp, "ada@example.com", "has shipped")) == 1
    assert len(mails(smtp, "ada@example.com")) == 3
    with service.client() as http:
        notices = http.get(
            "/notices", params={"order_id": str(ada.order_id)}, headers=service.admin_headers
        ).json()
    assert sorted((n["template"], n["status"]) for n in notices) == [
        ("delivery_confirmation", "sent"),
        ("order_confirmation", "sent"),
        ("shipping_confirmation", "sent"),
    ]


async def test_an_unreachable_smtp_server_ends_in_notification_failed(shop: Shop) -> None:
    # Given nothing listens on the configured SMTP port
    shop.start(
        "notification",
        smtp_host="127.0.0.1",
        smtp_port=str(free_port()),
        send_max_attempts="3",
        send_retry_delay_s="0.05",
    )

    # When an order is placed
    eve = order("eve@example.com")
    await shop.publish(eve)

    # Then its confirmation fails after the bounded attempts, without the address
    event = await shop.wait_for(NOTIFICATION_EVENTS, about(eve.order_id, NotificationFailed))
    assert isinstance(event.data, NotificationFailed)
    assert event.data.template == "order_confirmation"
    assert event.data.attempts == 3
    assert "eve@example.com" not in event.data.error
