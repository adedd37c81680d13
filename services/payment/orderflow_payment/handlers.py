"""Integration events in -> payment steps on the order's Payment (via the unit of work)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from orderflow_events import (
    Envelope,
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    ReturnReceived,
    Shipped,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.logs import get_logger
from orderflow_runtime.uow import UnitOfWork

from orderflow_payment.domain import Payment, PaymentStatus
from orderflow_payment.processing import PaymentProcessor

E = TypeVar("E", bound=IntegrationEvent)
log = get_logger(__name__)


def data_of(envelope: Envelope, kind: type[E]) -> E:
    if not isinstance(envelope.data, kind):
        raise TypeError(f"{envelope.type} carries {type(envelope.data).__name__}, not {kind}")
    return envelope.data


def payment_of(uow: UnitOfWork, order_id: UUID) -> Payment:
    """The order's payment; opened when this is the first event about the order."""
    payment = uow.find(Payment.create_id(order_id), Payment)
    if payment is None:
        payment = Payment(order_id)
        uow.add(payment)
    return payment


def prices_of(placed: OrderPlaced) -> dict[str, Any]:
    """The order's charges as Payment.record_prices takes them (a sku on two lines: the
    lower price, so that a refund never exceeds what was paid)."""
    unit_prices: dict[str, Decimal] = {}
    quantities: dict[str, int] = {}
    for line in placed.lines:
        price = line.unit_price.amount
        unit_prices[line.sku] = min(price, unit_prices.get(line.sku, price))
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    return {
        "currency": placed.currency,
        "unit_prices": unit_prices,
        "quantities": quantities,
        "subtotal": placed.subtotal.amount,
        "shipping_fee": placed.shipping_fee.amount,
        "tax": placed.tax.amount,
    }


def make_handlers(processor: PaymentProcessor) -> dict[str, Handler]:
    def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
        placed = data_of(envelope, OrderPlaced)
        payment = payment_of(uow, placed.order_id)
        if not payment.awaits_authorization:  # a redelivery, or cancelled before it came
            log.info("OrderPlaced ignored", status=str(payment.status))
            return
        payment.record_prices(**prices_of(placed))
        processor.authorize(payment, placed)

    def on_shipped(envelope: Envelope, uow: UnitOfWork) -> None:
        shipped = data_of(envelope, Shipped)
        payment = payment_of(uow, shipped.order_id)
        if payment.awaits_authorization:  # Shipped overtook OrderPlaced (another topic)
            log.info("capture parked until the authorisation")
            payment.park_capture(shipped.shipment_id)
            return
        processor.capture(payment, shipped.shipment_id)

    def on_order_cancelled(envelope: Envelope, uow: UnitOfWork) -> None:
        cancelled = data_of(envelope, OrderCancelled)
        payment = payment_of(uow, cancelled.order_id)
        if payment.status is PaymentStatus.OPEN:
            payment.record_cancel(str(cancelled.reason))
        elif payment.status is PaymentStatus.AUTHORIZED:
            processor.void(payment)
        elif payment.status is PaymentStatus.CAPTURED:
            processor.refund_all(payment)
        else:  # declined, voided, refunded or cancelled: nothing is held
            log.info("OrderCancelled: nothing to release", status=str(payment.status))

    def on_return_received(envelope: Envelope, uow: UnitOfWork) -> None:
        received = data_of(envelope, ReturnReceived)
        payment = payment_of(uow, received.order_id)
        if received.return_id in payment.returns:  # a redelivery (or waiting for the capture)
            log.info("ReturnReceived settled before", return_id=str(received.return_id))
            return
        processor.settle_return(payment, received)

    return {
        OrderPlaced.ce_type: on_order_placed,
        Shipped.ce_type: on_shipped,
        OrderCancelled.ce_type: on_order_cancelled,
        ReturnReceived.ce_type: on_return_received,
    }
