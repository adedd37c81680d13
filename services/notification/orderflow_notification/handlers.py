"""Integration events in -> notices requested (never sent here: the dispatcher sends).

A notice whose order's contact is not known yet (Shipped before OrderPlaced), or
that needs a fact not known yet (an out-of-stock cancel before the inventory's
StockReservationFailed), is parked in the order's contact and requested once the
missing part arrives. A cancel for a declined payment asks for no notice: the
decline notice told the customer already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from orderflow_events import (
    CancelReason,
    Delivered,
    Envelope,
    IntegrationEvent,
    OrderCancelled,
    OrderEvent,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnRejected,
    Shipped,
    StockReservationFailed,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.uow import UnitOfWork

from orderflow_notification import content
from orderflow_notification.contacts import OrderContact
from orderflow_notification.domain import Notice, notice_id

Describe = Callable[[Any], dict[str, Any]]


def build_handlers(*, sms_enabled: bool) -> dict[str, Handler]:
    """The inbox handlers by ce_type; SMS notices are requested only if SMS is configured."""

    def submit(uow: UnitOfWork, contact: OrderContact, request: dict[str, Any]) -> None:
        if contact.waiting_for(request):
            contact.park(request)
        else:
            _request(uow, contact, request, sms_enabled)

    def release(uow: UnitOfWork, contact: OrderContact) -> None:
        for parked in contact.release_parked():
            _request(uow, contact, parked, sms_enabled)

    def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
        placed = envelope.data
        assert isinstance(placed, OrderPlaced)
        contact = _contact(uow, placed.order_id)
        address = placed.shipping_address
        contact.register(
            placed.customer_email, address.phone, address.name, content.receipt(placed)
        )
        _request(uow, contact, _request_of(envelope, content.ORDER_CONFIRMATION, {}), sms_enabled)
        release(uow, contact)

    def on_order_cancelled(envelope: Envelope, uow: UnitOfWork) -> None:
        cancelled = envelope.data
        assert isinstance(cancelled, OrderCancelled)
        if cancelled.reason is CancelReason.PAYMENT_DECLINED:
            return  # the decline notice said it all: one message, not two
        request = _request_of(envelope, content.ORDER_CANCELLED, content.cancelled(cancelled))
        if cancelled.reason is CancelReason.OUT_OF_STOCK:
            request["needs"] = ["shortage"]  # name the short items: wait for inventory's word
        submit(uow, _contact(uow, cancelled.order_id), request)

    def on_stock_reservation_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        failed = envelope.data
        assert isinstance(failed, StockReservationFailed)
        contact = _contact(uow, failed.order_id)
        contact.record_shortage(content.shortage(failed))
        release(uow, contact)

    def on_return_authorized(envelope: Envelope, uow: UnitOfWork) -> None:
        authorized = envelope.data
        assert isinstance(authorized, ReturnAuthorized)
        contact = _contact(uow, authorized.order_id)
        contact.record_return(str(authorized.return_id), authorized.rma)  # for the refund
        data = content.return_authorized(authorized)
        request = _request_of(envelope, content.RETURN_AUTHORIZED, data)
        submit(uow, contact, {**request, "key": str(authorized.return_id)})

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
            submit(uow, _contact(uow, event.order_id), request)

        return handle

    return {
        OrderPlaced.ce_type: on_order_placed,
        Shipped.ce_type: reacting(Shipped, content.SHIPPING_CONFIRMATION, content.shipped),
        Delivered.ce_type: reacting(Delivered, content.DELIVERY_CONFIRMATION, content.delivered),
        OrderCancelled.ce_type: on_order_cancelled,
        StockReservationFailed.ce_type: on_stock_reservation_failed,
        PaymentDeclined.ce_type: reacting(
            PaymentDeclined, content.PAYMENT_DECLINED, content.declined
        ),
        PaymentRefunded.ce_type: reacting(
            PaymentRefunded, content.PAYMENT_REFUNDED, content.refunded, key="refund_id"
        ),
        ReturnAuthorized.ce_type: on_return_authorized,
        ReturnRejected.ce_type: reacting(
            ReturnRejected, content.RETURN_REJECTED, content.return_rejected, key="return_id"
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
    data = content.completed(template, data, contact.shortage, contact.rmas)
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
