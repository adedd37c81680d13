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
    ReturnAuthorized,
    ReturnRejected,
    Shipped,
    StockReservationFailed,
    UnavailableLine,
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


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        (CancelReason.CUSTOMER, "as you asked"),
        (CancelReason.EXPIRED, "because we could not complete it in time"),
    ],
)
def test_cancellation_says_the_reason_in_customer_words(
    app: NotificationApplication, deliver: Any, make: Any, reason: CancelReason, words: str
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    deliver(make(OrderCancelled, order_id, reason=reason, detail="deadline job 7 fired"))

    context = notice(app, order_id, "order_cancelled").context
    assert (context["reason"], context["reason_text"]) == (reason.value, words)
    assert context["short_items"] == []
    assert "job 7" not in str(context)  # `detail` is for operators


def shortage_of(make: Any, order_id: UUID) -> StockReservationFailed:
    short = [UnavailableLine(sku="TSHIRT-RED-M", requested=2, available=1)]
    failed: StockReservationFailed = make(StockReservationFailed, order_id, unavailable=short)
    return failed


@pytest.mark.parametrize("shortage_first", [True, False])
def test_an_out_of_stock_cancel_names_the_short_items_whichever_arrives_first(
    app: NotificationApplication, deliver: Any, make: Any, shortage_first: bool
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    cancel = make(OrderCancelled, order_id, reason=CancelReason.OUT_OF_STOCK, detail="sku X")
    first, second = shortage_of(make, order_id), cancel
    if not shortage_first:
        first, second = second, first

    deliver(first)
    cancel_id = notice_id(order_id, "order_cancelled", "email")
    if not shortage_first:  # the cancel waits for inventory's word
        assert UnitOfWork(app).find(cancel_id, Notice) is None
        [parked] = app.awaiting_contact(order_id)
        assert (parked.template, parked.waiting_for) == ("order_cancelled", ["shortage"])
    deliver(second)

    context = notice(app, order_id, "order_cancelled").context
    assert context["reason_text"] == "because some of the items are no longer in stock"
    assert context["short_items"] == [{"sku": "TSHIRT-RED-M", "requested": 2, "available": 1}]
    assert "sku X" not in str(context)
    assert app.awaiting_contact(order_id) == []


def test_an_out_of_stock_cancel_waits_for_both_the_contact_and_the_shortage(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    deliver(make(OrderCancelled, order_id, reason=CancelReason.OUT_OF_STOCK))
    deliver(shortage_of(make, order_id))
    assert [p.waiting_for for p in app.awaiting_contact(order_id)] == [["contact"]]

    deliver(make(OrderPlaced, order_id))

    assert notice(app, order_id, "order_cancelled").context["short_items"][0]["available"] == 1


def test_a_cancel_for_a_declined_payment_sends_only_the_decline_notice(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    deliver(make(PaymentDeclined, order_id))
    stored = app.max_notification_id()

    deliver(make(OrderCancelled, order_id, reason=CancelReason.PAYMENT_DECLINED))

    assert app.max_notification_id() == stored
    assert notice(app, order_id, "payment_declined").status == NoticeStatus.REQUESTED
    assert UnitOfWork(app).find(notice_id(order_id, "order_cancelled", "email"), Notice) is None


def test_each_return_gets_its_own_authorised_or_rejected_notice_once(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id, first, second, third = uuid4(), uuid4(), uuid4(), uuid4()
    deliver(make(OrderPlaced, order_id))
    authorised = make(ReturnAuthorized, order_id, return_id=first, rma="RMA-7")
    deliver(authorised)
    deliver(authorised)  # a repeat under a new ce_id
    deliver(make(ReturnAuthorized, order_id, return_id=second, rma="RMA-8"))
    deliver(make(ReturnRejected, order_id, return_id=third, reason="Outside the window"))
    deliver(make(ReturnRejected, order_id, return_id=third, reason="Outside the window"))

    ok = [notice(app, order_id, "return_authorized", key=str(r)) for r in (first, second)]
    assert [n.context["rma"] for n in ok] == ["RMA-7", "RMA-8"]
    assert ok[0].context["label"]["url"] == "https://labels.example.com/RMA-2025-0001.pdf"
    assert ok[0].context["label_is_link"] is True
    rejected = notice(app, order_id, "return_rejected", key=str(third))
    assert rejected.context["reason"] == "Outside the window"
    stored = app.max_notification_id()
    deliver(make(ReturnRejected, order_id, return_id=third))
    assert app.max_notification_id() == stored


def test_a_refund_for_a_return_names_its_rma(
    app: NotificationApplication, deliver: Any, make: Any
) -> None:
    order_id, return_id, refund_id = uuid4(), uuid4(), uuid4()
    deliver(make(OrderPlaced, order_id))
    deliver(make(ReturnAuthorized, order_id, return_id=return_id, rma="RMA-9"))

    deliver(make(PaymentRefunded, order_id, refund_id=refund_id, return_id=return_id))
    deliver(make(PaymentRefunded, order_id, refund_id=uuid4(), return_id=None))

    context = notice(app, order_id, "payment_refunded", key=str(refund_id)).context
    assert (context["for_return"], context["rma"]) == (True, "RMA-9")


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
