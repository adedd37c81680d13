"""Handlers request notices (never send), park them until the contact is known, never twice."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from orderflow_events import (
    CancelReason,
    Delivered,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    Shipped,
)
from orderflow_notification.application import NotificationApplication
from orderflow_notification.contacts import OrderContact
from orderflow_notification.domain import Notice, NoticeStatus, notice_id
from orderflow_notification.handlers import build_handlers
from orderflow_runtime.uow import UnitOfWork


def notice(
    app: NotificationApplication,
    order_id: UUID,
    template: str,
    channel: str = "email",
    key: str | None = None,
) -> Notice:
    found: Notice = app.repository.get(notice_id(order_id, template, channel, key))
    return found


def with_phone(placed: OrderPlaced, phone: str = "+44 20 7946 0000") -> OrderPlaced:
    address = placed.shipping_address.model_copy(update={"phone": phone})
    return placed.model_copy(update={"shipping_address": address})


def test_order_placed_requests_one_confirmation_email_with_the_receipt(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    envelope = deliver(make(OrderPlaced, order_id))

    confirmation = notice(app, order_id, "order_confirmation")
    assert confirmation.status == NoticeStatus.REQUESTED
    assert confirmation.recipient == "ada@example.com"
    assert confirmation.cause_id == UUID(envelope.id)
    receipt = confirmation.context["receipt"]
    assert receipt["total"] == receipt["subtotal"] + receipt["shipping_fee"] + receipt["tax"]
    assert receipt["lines"][0]["line_total"] == receipt["lines"][0]["unit_price"] * 2
    assert receipt["payment"] == {"brand": "visa", "last4": "4242"}  # never the token
    # no phone in the address: no SMS notice
    sms_id = notice_id(order_id, "order_confirmation", "sms")
    assert UnitOfWork(app).find(sms_id, Notice) is None


def test_a_phone_number_adds_an_sms_notice(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    deliver(with_phone(make(OrderPlaced, order_id)))

    sms = notice(app, order_id, "order_confirmation", "sms")
    assert sms.recipient == "+44 20 7946 0000"
    assert notice(app, order_id, "order_confirmation").channel == "email"


def test_without_an_sms_webhook_no_sms_is_requested(
    app: NotificationApplication, make: Any, envelope: Any
) -> None:
    order_id = uuid4()
    uow = UnitOfWork(app)
    placed = envelope(with_phone(make(OrderPlaced, order_id)))
    build_handlers(sms_enabled=False)[OrderPlaced.ce_type](placed, uow)
    uow.commit()

    sms_id = notice_id(order_id, "order_confirmation", "sms")
    assert UnitOfWork(app).find(sms_id, Notice) is None


def test_the_same_order_placed_twice_requests_nothing_new(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    placed = make(OrderPlaced, order_id)
    deliver(placed)
    stored = app.max_notification_id()

    deliver(placed)  # a new ce_id: the inbox would apply it, the notice id stops it
    deliver(placed.model_copy(update={"customer_email": "other@example.com"}))

    assert app.max_notification_id() == stored
    assert notice(app, order_id, "order_confirmation").recipient == "ada@example.com"


def test_shipped_before_order_placed_waits_for_the_contact(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    # Given Shipped arrives first: nothing can be requested, it is parked
    shipped = deliver(make(Shipped, order_id, tracking_number="TRACK-123"))
    contact: OrderContact = app.repository.get(OrderContact.create_id(order_id))
    assert not contact.known
    assert [p["template"] for p in contact.parked] == ["shipping_confirmation"]
    assert (
        UnitOfWork(app).find(notice_id(order_id, "shipping_confirmation", "email"), Notice) is None
    )

    # When OrderPlaced arrives
    deliver(make(OrderPlaced, order_id))

    # Then both notices are requested, the shipping one as caused by Shipped
    shipping = notice(app, order_id, "shipping_confirmation")
    assert shipping.cause_id == UUID(shipped.id)
    assert shipping.context["tracking_number"] == "TRACK-123"
    assert shipping.context["customer_name"] == "Ada Lovelace"
    assert notice(app, order_id, "order_confirmation").status == NoticeStatus.REQUESTED
    contact = app.repository.get(OrderContact.create_id(order_id))
    assert contact.parked == []


@pytest.mark.parametrize(
    ("kind", "template"),
    [
        (Shipped, "shipping_confirmation"),
        (Delivered, "delivery_confirmation"),
        (OrderCancelled, "order_cancelled"),
        (PaymentDeclined, "payment_declined"),
    ],
)
def test_each_event_requests_its_notice_once(
    app: NotificationApplication, deliver: Any, make: Any, kind: Any, template: str
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    event = make(kind, order_id)
    deliver(event)
    stored = app.max_notification_id()
    deliver(event)

    assert notice(app, order_id, template).template == template
    assert app.max_notification_id() == stored


def test_cancellation_says_the_reason_in_customer_words(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    deliver(
        make(OrderCancelled, order_id, reason=CancelReason.OUT_OF_STOCK, detail="sku X: 0 left")
    )

    context = notice(app, order_id, "order_cancelled").context
    assert context["reason_text"] == "some of the items are no longer in stock"
    assert "sku X" not in str(context)


def test_each_refund_is_its_own_notice(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id, first, second = uuid4(), uuid4(), uuid4()
    deliver(make(OrderPlaced, order_id))
    deliver(make(PaymentRefunded, order_id, refund_id=first))
    deliver(make(PaymentRefunded, order_id, refund_id=first))
    deliver(make(PaymentRefunded, order_id, refund_id=second))

    refunds = [notice(app, order_id, "payment_refunded", key=str(r)) for r in (first, second)]
    assert [n.context["refund_id"] for n in refunds] == [first, second]
    assert refunds[0].id != refunds[1].id
