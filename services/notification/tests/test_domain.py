"""Notice states: requested -> claimed -> sent | failed, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from orderflow_notification.contacts import OrderContact
from orderflow_notification.domain import Notice, NoticeStateError, NoticeStatus, notice_id

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def new_notice(key: str | None = None) -> Notice:
    return Notice(
        order_id=uuid4(),
        template="order_confirmation",
        channel="email",
        key=key,
        recipient="ada@example.com",
        context={},
        cause_id=uuid4(),
        traceparent=None,
    )


def test_the_id_is_derived_from_order_template_channel_and_key() -> None:
    notice = new_notice(key="refund-1")
    assert notice.id == notice_id(notice.order_id, "order_confirmation", "email", "refund-1")
    assert notice.id != notice_id(notice.order_id, "order_confirmation", "email")
    assert notice.id != notice_id(notice.order_id, "order_confirmation", "sms", "refund-1")


def test_only_a_claimed_notice_can_be_sent_or_failed_and_only_once() -> None:
    notice = new_notice()
    with pytest.raises(NoticeStateError):
        notice.mark_sent(1, NOW)

    notice.claim(NOW)
    with pytest.raises(NoticeStateError):
        notice.claim(NOW)
    notice.mark_failed("x" * 900, 0, NOW)

    assert notice.status == NoticeStatus.FAILED
    assert notice.attempts == 1  # at least one attempt is reported
    with pytest.raises(NoticeStateError):
        notice.mark_sent(1, NOW)


def test_a_contact_registers_once_and_hands_back_what_was_parked() -> None:
    contact = OrderContact(order_id=uuid4())
    request = {"template": "shipping_confirmation", "cause_id": uuid4()}
    contact.park(request)
    assert contact.recipients(sms_enabled=True) == []
    assert contact.release_parked() == []  # not before the contact is known

    contact.register("ada@example.com", "+4479460000", "Ada", {})
    contact.register("eve@example.com", None, "Eve", {})

    assert contact.recipients(sms_enabled=True) == [
        ("email", "ada@example.com"),
        ("sms", "+4479460000"),
    ]
    assert contact.recipients(sms_enabled=False) == [("email", "ada@example.com")]
    assert contact.release_parked() == [request]
    assert contact.release_parked() == []


def test_a_parked_request_that_needs_the_shortage_waits_for_it_too() -> None:
    contact = OrderContact(order_id=uuid4())
    contact.register("ada@example.com", None, "Ada", {})
    cancel = {"template": "order_cancelled", "cause_id": uuid4(), "needs": ["shortage"]}
    other = {"template": "shipping_confirmation", "cause_id": uuid4()}
    contact.park(cancel)
    contact.park(other)

    assert contact.waiting_for(cancel) == ["shortage"]
    assert contact.release_parked() == [other]  # the other one goes, the cancel stays
    contact.record_shortage([{"sku": "A", "requested": 2, "available": 1}])
    contact.record_shortage([{"sku": "B", "requested": 1, "available": 0}])  # a repeat: ignored

    assert contact.release_parked() == [cancel]
    assert contact.parked == []
    assert contact.shortage == [{"sku": "A", "requested": 2, "available": 1}]
