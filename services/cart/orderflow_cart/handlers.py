"""Integration events in -> the product view and the orders' facts. Nothing else.

Catalog events of one sku arrive in order (one topic, keyed by sku). Order facts
come from three topics in any order; each is recorded once (see `order.py`).
A declined payment or missing stock cancels the order; fulfillment's
`ShipmentStopped` (its answer to a cancellation request) cancels it for the
reason requested; a `Shipped` that came first refuses the request.
An order the cart does not know cannot exist (the cart makes every order before
anyone hears of it): such an event is bad data, so the handler raises and the
inbox retries it, then dead-letters it for operators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from orderflow_events import (
    CancelReason,
    Delivered,
    Envelope,
    IntegrationEvent,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
    PriceChanged,
    ProductDelisted,
    ProductListed,
    ProductUpdated,
    ReturnAuthorized,
    ReturnReceived,
    ReturnRejected,
    ShipmentStopped,
    Shipped,
    StockLine,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.logs import get_logger
from orderflow_runtime.uow import UnitOfWork
from prometheus_client import Histogram

from orderflow_cart.order import Fact, Order
from orderflow_cart.product import Product, product_id

E = TypeVar("E", bound=IntegrationEvent)
log = get_logger(__name__)
SAGA_STAGE_SECONDS = Histogram(
    "orderflow_saga_stage_seconds",
    "Seconds from checkout until each saga fact (authorised, reserved, shipped, ...).",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)


class UnknownOrderError(LookupError):
    """An event names an order this service never placed."""


def _data(envelope: Envelope, kind: type[E]) -> E:
    if not isinstance(envelope.data, kind):
        raise TypeError(f"{envelope.type} carries {type(envelope.data).__name__}")
    return envelope.data


# -- catalog: the product view


def on_product_listed(envelope: Envelope, uow: UnitOfWork) -> None:
    listed = _data(envelope, ProductListed)
    listing: dict[str, Any] = {
        "name": listed.name,
        "price": listed.price.amount,
        "currency": listed.price.currency,
        "weight_grams": listed.weight_grams,
        "attributes": dict(listed.attributes),
    }
    product = uow.find(product_id(listed.sku), Product)
    if product is None:
        uow.add(Product(sku=listed.sku, **listing))
    else:  # listed again after a delisting: it is for sale again, as now described
        product.relist(**listing)


def on_product_updated(envelope: Envelope, uow: UnitOfWork) -> None:
    updated = _data(envelope, ProductUpdated)
    product = _product(uow, updated.sku)
    if product is not None:
        product.update(updated.name, updated.weight_grams, dict(updated.attributes))


def on_price_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    changed = _data(envelope, PriceChanged)
    product = _product(uow, changed.sku)
    if product is not None:
        product.change_price(changed.price.amount, changed.price.currency)


def on_product_delisted(envelope: Envelope, uow: UnitOfWork) -> None:
    delisted = _data(envelope, ProductDelisted)
    product = _product(uow, delisted.sku)
    if product is not None:
        product.delist()


def _product(uow: UnitOfWork, sku: str) -> Product | None:
    product = uow.find(product_id(sku), Product)
    if product is None:  # catalog events of a sku are in order: nothing to change yet
        log.warning("catalog event for a sku never listed; ignored", sku=sku)
    return product


# -- order facts


def on_payment_authorized(envelope: Envelope, uow: UnitOfWork) -> None:
    paid = _data(envelope, PaymentAuthorized)
    details = {
        "payment_id": paid.payment_id,
        "amount": paid.amount.amount,
        "auth_code": paid.auth_code,
    }
    _record(uow, envelope, paid.order_id, Fact.PAYMENT_AUTHORIZED, paid.authorized_at, details)


def on_payment_captured(envelope: Envelope, uow: UnitOfWork) -> None:
    captured = _data(envelope, PaymentCaptured)
    details = {"payment_id": captured.payment_id, "amount": captured.amount.amount}
    _record(uow, envelope, captured.order_id, Fact.PAYMENT_CAPTURED, captured.captured_at, details)


def on_payment_voided(envelope: Envelope, uow: UnitOfWork) -> None:
    voided = _data(envelope, PaymentVoided)
    details = {"payment_id": voided.payment_id, "amount": voided.amount.amount}
    _record(uow, envelope, voided.order_id, Fact.PAYMENT_VOIDED, voided.voided_at, details)


def on_payment_declined(envelope: Envelope, uow: UnitOfWork) -> None:
    declined = _data(envelope, PaymentDeclined)
    details = {"reason": declined.reason, "detail": declined.detail, "attempts": declined.attempts}
    at = declined.declined_at
    order = _record(uow, envelope, declined.order_id, Fact.PAYMENT_DECLINED, at, details)
    _cancel(order, CancelReason.PAYMENT_DECLINED, declined.reason, at)


def on_payment_refunded(envelope: Envelope, uow: UnitOfWork) -> None:
    refunded = _data(envelope, PaymentRefunded)
    order = _order(uow, envelope, refunded.order_id)
    amount, at = refunded.amount.amount, refunded.refunded_at
    if not order.record_refund(refunded.refund_id, amount, refunded.return_id, at=at):
        log.info("refund already recorded; ignored", refund_id=str(refunded.refund_id))


def on_stock_reserved(envelope: Envelope, uow: UnitOfWork) -> None:
    reserved = _data(envelope, StockReserved)
    details = {"reservation_id": reserved.reservation_id}
    _record(uow, envelope, reserved.order_id, Fact.STOCK_RESERVED, reserved.reserved_at, details)


def on_stock_reservation_failed(envelope: Envelope, uow: UnitOfWork) -> None:
    failed = _data(envelope, StockReservationFailed)
    details = {"unavailable": [line.model_dump(mode="python") for line in failed.unavailable]}
    fact, at = Fact.STOCK_RESERVATION_FAILED, failed.failed_at
    order = _record(uow, envelope, failed.order_id, fact, at, details)
    short = ", ".join(
        f"{line.sku}: {line.requested} requested, {line.available} available"
        for line in failed.unavailable
    )
    _cancel(order, CancelReason.OUT_OF_STOCK, short, at)


def on_stock_released(envelope: Envelope, uow: UnitOfWork) -> None:
    released = _data(envelope, StockReleased)
    details = {"reservation_id": released.reservation_id, "lines": _lines(released.lines)}
    _record(uow, envelope, released.order_id, Fact.STOCK_RELEASED, released.released_at, details)


def on_shipped(envelope: Envelope, uow: UnitOfWork) -> None:
    shipped = _data(envelope, Shipped)
    details = {
        "shipment_id": shipped.shipment_id,
        "carrier": shipped.carrier,
        "service_level": shipped.service_level,
        "tracking_number": shipped.tracking_number,
        "shipped_at": shipped.shipped_at,
        "lines": _lines(shipped.lines),
    }
    order = _record(uow, envelope, shipped.order_id, Fact.SHIPPED, shipped.shipped_at, details)
    if order.cancelled is not None:  # fulfillment arbitrates: this must never happen
        log.error("shipped after the order was cancelled", reason=order.cancelled["reason"])


def on_shipment_stopped(envelope: Envelope, uow: UnitOfWork) -> None:
    stopped = _data(envelope, ShipmentStopped)
    details = {"shipment_id": stopped.shipment_id, "reason": stopped.reason}
    at = stopped.stopped_at
    order = _record(uow, envelope, stopped.order_id, Fact.SHIPMENT_STOPPED, at, details)
    if not order.cancel_as_requested(at=at) and order.shipped:
        log.error("shipment stopped after the order shipped; not cancelled")


def on_delivered(envelope: Envelope, uow: UnitOfWork) -> None:
    delivered = _data(envelope, Delivered)
    details = {"shipment_id": delivered.shipment_id}
    _record(uow, envelope, delivered.order_id, Fact.DELIVERED, delivered.delivered_at, details)


# -- returns


def on_return_authorized(envelope: Envelope, uow: UnitOfWork) -> None:
    authorized = _data(envelope, ReturnAuthorized)
    order = _order(uow, envelope, authorized.order_id)
    label = authorized.label.model_dump(mode="python")
    lines = _lines(authorized.lines)
    at = authorized.authorized_at
    if not order.authorize_return(authorized.return_id, authorized.rma, label, lines, at=at):
        log.info("return not open; authorisation ignored", return_id=str(authorized.return_id))


def on_return_rejected(envelope: Envelope, uow: UnitOfWork) -> None:
    rejected = _data(envelope, ReturnRejected)
    order = _order(uow, envelope, rejected.order_id)
    if not order.reject_return(rejected.return_id, rejected.reason, at=rejected.rejected_at):
        log.info("return not open; rejection ignored", return_id=str(rejected.return_id))


def on_return_received(envelope: Envelope, uow: UnitOfWork) -> None:
    received = _data(envelope, ReturnReceived)
    order = _order(uow, envelope, received.order_id)
    lines = [line.model_dump(mode="json") for line in received.lines]  # condition as text
    at = received.received_at
    if not order.receive_return(received.return_id, received.rma, lines, at=at):
        log.info("return already received; ignored", return_id=str(received.return_id))


# -- helpers


def _order(uow: UnitOfWork, envelope: Envelope, order_id: UUID) -> Order:
    order = uow.find(order_id, Order)
    if order is None:
        raise UnknownOrderError(f"{envelope.type} for order {order_id}, which cart never placed")
    return order


def _record(
    uow: UnitOfWork,
    envelope: Envelope,
    order_id: UUID,
    fact: Fact,
    at: datetime,
    details: dict[str, Any],
) -> Order:
    order = _order(uow, envelope, order_id)
    if not order.record(fact, at=at, ce_type=envelope.type, details=details):
        log.info("fact already recorded; ignored", fact=fact.value)
    else:
        # How long after checkout each stage of the saga was reached (producer's clock).
        SAGA_STAGE_SECONDS.labels(fact.value).observe(
            max(0.0, (at - order.placed_at).total_seconds())
        )
    return order


def _cancel(order: Order, reason: CancelReason, detail: str | None, at: datetime) -> None:
    if not order.cancel(reason, (detail or "")[:500] or None, at=at):
        log.info("not cancelled: cancelled already or shipped", reason=reason.value)


def _lines(lines: Sequence[StockLine]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity} for line in lines]


HANDLERS: Mapping[str, Handler] = {
    ProductListed.ce_type: on_product_listed,
    ProductUpdated.ce_type: on_product_updated,
    PriceChanged.ce_type: on_price_changed,
    ProductDelisted.ce_type: on_product_delisted,
    PaymentAuthorized.ce_type: on_payment_authorized,
    PaymentCaptured.ce_type: on_payment_captured,
    PaymentVoided.ce_type: on_payment_voided,
    PaymentDeclined.ce_type: on_payment_declined,
    PaymentRefunded.ce_type: on_payment_refunded,
    StockReserved.ce_type: on_stock_reserved,
    StockReservationFailed.ce_type: on_stock_reservation_failed,
    StockReleased.ce_type: on_stock_released,
    Shipped.ce_type: on_shipped,
    ShipmentStopped.ce_type: on_shipment_stopped,
    Delivered.ce_type: on_delivered,
    ReturnAuthorized.ce_type: on_return_authorized,
    ReturnRejected.ce_type: on_return_rejected,
    ReturnReceived.ce_type: on_return_received,
}
"""The inbox's handlers by ce_type; other event types on our topics are ignored."""
