"""Integration events in -> notices requested (never sent here: the dispatcher sends).

A notice for an order whose contact is not known yet (Shipped before OrderPlaced)
is parked in the order's contact and requested when OrderPlaced arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from orderflow_events import (
    Delivered,
    Envelope,
    IntegrationEvent,
    OrderCancelled,
    OrderEvent,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    Shipped,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.uow import UnitOfWork

from orderflow_notification import content
from orderflow_notification.contacts import OrderContact
from orderflow_notification.domain import Notice, notice_id

Describe = Callable[[Any], dict[str, Any]]


def build_handlers(*, sms_enabled: bool) -> dict[str, Handler]:
    """The inbox handlers by ce_type; SMS notices are requested only if SMS is configured."""

    def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
        placed = envelope.data
        assert isinstance(placed, OrderPlaced)
        contact = _contact(uow, placed.order_id)
        address = placed.shipping_address
        contact.register(
            placed.customer_email, address.phone, address.name, content.receipt(placed)
        )
        _request(uow, contact, _request_of(envelope, content.ORDER_CONFIRMATION, {}), sms_enabled)
        for parked in contact.release_parked():
            _request(uow, contact, parked, sms_enabled)

    def reacting(
        kind: type[IntegrationEvent], template: str, describe: Describe, key: str | None = None
    ) -> Handler:
        def handle(envelope: Envelope, uow: UnitOfWork) -> None:
            event = envelope.data
            assert isinstance(event, kind)
            assert isinstance(event, OrderEvent)
            request = _request_of(envelope, template, describe(event))
            if key is not None:
                request["key"] = str(getattr(event, key))
            contact = _contact(uow, event.order_id)
            if contact.known:
                _request(uow, contact, request, sms_enabled)
            else:
                contact.park(request)

        return handle

    return {
        OrderPlaced.ce_type: on_order_placed,
        Shipped.ce_type: reacting(Shipped, content.SHIPPING_CONFIRMATION, content.shipped),
        Delivered.ce_type: reacting(Delivered, content.DELIVERY_CONFIRMATION, content.delivered),
        OrderCancelled.ce_type: reacting(
            OrderCancelled, content.ORDER_CANCELLED, content.cancelled
        ),
        PaymentDeclined.ce_type: reacting(
            PaymentDeclined, content.PAYMENT_DECLINED, content.declined
        ),
        PaymentRefunded.ce_type: reacting(
            PaymentRefunded, content.PAYMENT_REFUNDED, content.refunded, key="refund_id"
        ),
    }


def _request_of(envelope: Envelope, template: str, data: dict[str, Any]) -> dict[str, Any]:
    """A notice request as plain values: it may be parked in the contact's events."""
    return {
        "template": template,
        "key": None,
        "data": data,
        "cause_id": UUID(envelope.id),
        "traceparent": envelope.traceparent,
    }


def _contact(uow: UnitOfWork, order_id: UUID) -> OrderContact:
    contact = uow.find(OrderContact.create_id(order_id), OrderContact)
    if contact is None:
        contact = OrderContact(order_id=order_id)
        uow.add(contact)
    return contact


def _request(
    uow: UnitOfWork, contact: OrderContact, request: dict[str, Any], sms_enabled: bool
) -> None:
    """One notice per channel; a notice that exists already (a replay) is left alone."""
    template, key = request["template"], request["key"]
    data = content.personalised(request["data"], contact.order_id, contact.name, contact.receipt)
    for channel, recipient in contact.recipients(sms_enabled):
        id_ = notice_id(contact.order_id, template, channel, key)
        if uow.find(id_, Notice) is not None:
            continue
        notice = Notice(
            order_id=contact.order_id,
            template=template,
            channel=channel,
            key=key,
            recipient=recipient,
            context=data,
            cause_id=request["cause_id"],
            traceparent=request["traceparent"],
        )
        uow.add(notice)
