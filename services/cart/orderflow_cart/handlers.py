"""Integration events in -> the product view and the orders' facts. Nothing else.

Catalog events of one sku arrive in order (one topic, keyed by sku). Order facts
come from three topics in any order; each is recorded once (see `order.py`).
An order the cart does not know cannot exist (the cart makes every order before
anyone hears of it): such an event is bad data, so the handler raises and the
inbox retries it, then dead-letters it for operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from orderflow_events import (
    Delivered,
    Envelope,
    IntegrationEvent,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PriceChanged,
    ProductDelisted,
    ProductListed,
    ProductUpdated,
    Shipped,
    StockReservationFailed,
    StockReserved,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.logs import get_logger
from orderflow_runtime.uow import UnitOfWork

from orderflow_cart.order import Fact, Order
from orderflow_cart.product import Product, product_id

E = TypeVar("E", bound=IntegrationEvent)
log = get_logger(__name__)


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


def on_payment_declined(envelope: Envelope, uow: UnitOfWork) -> None:
    declined = _data(envelope, PaymentDeclined)
    details = {"reason": declined.reason, "detail": declined.detail, "attempts": declined.attempts}
    _record(uow, envelope, declined.order_id, Fact.PAYMENT_DECLINED, declined.declined_at, details)


def on_stock_reserved(envelope: Envelope, uow: UnitOfWork) -> None:
    reserved = _data(envelope, StockReserved)
    details = {"reservation_id": reserved.reservation_id}
    _record(uow, envelope, reserved.order_id, Fact.STOCK_RESERVED, reserved.reserved_at, details)


def on_stock_reservation_failed(envelope: Envelope, uow: UnitOfWork) -> None:
    failed = _data(envelope, StockReservationFailed)
    details = {"unavailable": [line.model_dump(mode="python") for line in failed.unavailable]}
    fact = Fact.STOCK_RESERVATION_FAILED
    _record(uow, envelope, failed.order_id, fact, failed.failed_at, details)


def on_shipped(envelope: Envelope, uow: UnitOfWork) -> None:
    shipped = _data(envelope, Shipped)
    details = {
        "shipment_id": shipped.shipment_id,
        "carrier": shipped.carrier,
        "service_level": shipped.service_level,
        "tracking_number": shipped.tracking_number,
        "shipped_at": shipped.shipped_at,
    }
    _record(uow, envelope, shipped.order_id, Fact.SHIPPED, shipped.shipped_at, details)


def on_delivered(envelope: Envelope, uow: UnitOfWork) -> None:
    delivered = _data(envelope, Delivered)
    details = {"shipment_id": delivered.shipment_id}
    _record(uow, envelope, delivered.order_id, Fact.DELIVERED, delivered.delivered_at, details)


def _record(
    uow: UnitOfWork,
    envelope: Envelope,
    order_id: UUID,
    fact: Fact,
    at: datetime,
    details: dict[str, Any],
) -> None:
    order = uow.find(order_id, Order)
    if order is None:
        raise UnknownOrderError(f"{envelope.type} for order {order_id}, which cart never placed")
    if not order.record(fact, at=at, ce_type=envelope.type, details=details):
        log.info("fact already recorded; ignored", fact=fact.value)


HANDLERS: Mapping[str, Handler] = {
    ProductListed.ce_type: on_product_listed,
    ProductUpdated.ce_type: on_product_updated,
    PriceChanged.ce_type: on_price_changed,
    ProductDelisted.ce_type: on_product_delisted,
    PaymentAuthorized.ce_type: on_payment_authorized,
    PaymentCaptured.ce_type: on_payment_captured,
    PaymentDeclined.ce_type: on_payment_declined,
    StockReserved.ce_type: on_stock_reserved,
    StockReservationFailed.ce_type: on_stock_reservation_failed,
    Shipped.ce_type: on_shipped,
    Delivered.ce_type: on_delivered,
}
"""The inbox's handlers by ce_type; other event types on our topics are ignored."""
