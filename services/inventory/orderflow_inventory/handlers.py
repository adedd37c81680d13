"""Integration events in -> stock and order-stock changes through the unit of work.

Events of one order come from three topics in any order: each handler records
what its event says and reserves when the order has both its lines and its
payment. Repeats are no-ops; a cancelled order never reserves afterwards, even
when the cancel arrives before the order itself. A received return restocks its
resellable units once.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from orderflow_events import (
    Envelope,
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorized,
    ProductDelisted,
    ProductListed,
    ReturnReceived,
    Shipped,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.logs import get_logger
from orderflow_runtime.uow import UnitOfWork

from orderflow_inventory.domain import StockItem, Thresholds, stock_id
from orderflow_inventory.reservations import (
    Items,
    OrderStock,
    Status,
    commit_order,
    order_stock_id,
    release_order,
    reserve_order,
)
from orderflow_inventory.returns import ReturnedLine, receive_return

log = get_logger(__name__)


def make_handlers(defaults: Thresholds) -> dict[str, Handler]:
    """The handlers by ce_type; `defaults` are the thresholds of new stock items."""

    def on_product_listed(envelope: Envelope, uow: UnitOfWork) -> None:
        listed = envelope.data
        assert isinstance(listed, ProductListed)
        if uow.find(stock_id(listed.sku), StockItem) is None:
            point = defaults.reorder_point if listed.reorder_point is None else listed.reorder_point
            uow.add(StockItem(listed.sku, point, defaults.reorder_quantity))

    return {
        ProductListed.ce_type: on_product_listed,
        ProductDelisted.ce_type: on_product_delisted,
        OrderPlaced.ce_type: on_order_placed,
        PaymentAuthorized.ce_type: on_payment_authorized,
        Shipped.ce_type: on_shipped,
        OrderCancelled.ce_type: on_order_cancelled,
        ReturnReceived.ce_type: on_return_received,
    }


def on_product_delisted(envelope: Envelope, uow: UnitOfWork) -> None:
    delisted = envelope.data
    assert isinstance(delisted, ProductDelisted)
    item = uow.find(stock_id(delisted.sku), StockItem)
    if item is not None:
        item.deactivate()


def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
    placed = envelope.data
    assert isinstance(placed, OrderPlaced)
    order = _order(uow, placed.order_id)
    order.record_lines([(line.sku, line.quantity) for line in placed.lines])
    _reserve_when_ready(order, uow)


def on_payment_authorized(envelope: Envelope, uow: UnitOfWork) -> None:
    authorized = envelope.data
    assert isinstance(authorized, PaymentAuthorized)
    order = _order(uow, authorized.order_id)
    order.record_payment(authorized.payment_id)
    _reserve_when_ready(order, uow)


def on_shipped(envelope: Envelope, uow: UnitOfWork) -> None:
    shipped = envelope.data
    assert isinstance(shipped, Shipped)
    order = uow.find(order_stock_id(shipped.order_id), OrderStock)
    if order is None or order.status is not Status.RESERVED:
        # Fulfillment ships only reserved orders: this is a repeat (already committed)
        # or a shipment that lost a race with a cancel; the stock has nothing to do.
        status = None if order is None else order.status
        log.warning("shipped order holds no reservation", status=status)
        return
    commit_order(order, _items(uow, order.lines or {}), shipped.shipment_id)


def on_order_cancelled(envelope: Envelope, uow: UnitOfWork) -> None:
    cancelled = envelope.data
    assert isinstance(cancelled, OrderCancelled)
    order = _order(uow, cancelled.order_id)  # created if need be: remembers the cancel
    if order.status is Status.RESERVED:
        release_order(order, _items(uow, order.lines or {}))
    elif order.status is Status.COMMITTED:
        log.warning("cancelled order has shipped; nothing released")
    else:
        order.cancel()


def on_return_received(envelope: Envelope, uow: UnitOfWork) -> None:
    received = envelope.data
    assert isinstance(received, ReturnReceived)
    order = _order(uow, received.order_id)
    lines = [ReturnedLine(ln.sku, ln.quantity, ln.condition.value) for ln in received.lines]
    items = _items(uow, dict.fromkeys(ln.sku for ln in lines))
    if not receive_return(order, items, received.return_id, lines):
        return  # this return was received already
    unmatched = order.returns[str(received.return_id)]["unmatched"]
    if unmatched:
        log.warning("returned units match nothing shipped; not restocked", unmatched=unmatched)


def _order(uow: UnitOfWork, order_id: UUID) -> OrderStock:
    order = uow.find(order_stock_id(order_id), OrderStock)
    if order is None:
        order = OrderStock(order_id)
        uow.add(order)
    return order


def _reserve_when_ready(order: OrderStock, uow: UnitOfWork) -> None:
    if order.ready:
        reserve_order(order, _items(uow, order.lines or {}))


def _items(uow: UnitOfWork, skus: Iterable[str]) -> Items:
    return {sku: uow.find(stock_id(sku), StockItem) for sku in skus}
