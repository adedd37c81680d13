"""Integration events in -> product weights and the order's Shipment (via the unit of work).

The Shipment is the arbiter of a cancellation racing the parcel: CancellationRequested
stops it unless it has shipped (then Shipped was the answer); a StockReserved after
that never ships it. Returns are decided by the return desk on the same aggregate.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from orderflow_events import (
    CancellationRequested,
    Envelope,
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    ProductListed,
    ProductUpdated,
    ReturnRequested,
    StockReserved,
)
from orderflow_runtime.inbox import Handler
from orderflow_runtime.logs import get_logger
from orderflow_runtime.uow import UnitOfWork

from orderflow_fulfillment.desk import ReturnDesk
from orderflow_fulfillment.dispatch import Dispatcher
from orderflow_fulfillment.domain import Product, Shipment, ShipmentStatus

E = TypeVar("E", bound=IntegrationEvent)
log = get_logger(__name__)


def data_of(envelope: Envelope, kind: type[E]) -> E:
    if not isinstance(envelope.data, kind):
        raise TypeError(f"{envelope.type} carries {type(envelope.data).__name__}, not {kind}")
    return envelope.data


def shipment_of(uow: UnitOfWork, order_id: UUID) -> Shipment:
    """The order's shipment; opened by whichever of its events comes first."""
    shipment = uow.find(Shipment.create_id(order_id), Shipment)
    if shipment is None:
        shipment = Shipment(order_id)
        uow.add(shipment)
    return shipment


def weight_of(uow: UnitOfWork, sku: str) -> int | None:
    product = uow.find(Product.create_id(sku), Product)
    return None if product is None else product.weight_grams


def make_handlers(dispatcher: Dispatcher, desk: ReturnDesk) -> dict[str, Handler]:
    def ship_if_ready(shipment: Shipment, uow: UnitOfWork) -> None:
        if shipment.ready_to_ship:
            assert shipment.reserved is not None
            weights = {line["sku"]: weight_of(uow, line["sku"]) for line in shipment.reserved}
            dispatcher.dispatch(shipment, weights)

    def on_product(envelope: Envelope, uow: UnitOfWork) -> None:
        product = envelope.data
        if not isinstance(product, ProductListed | ProductUpdated):
            raise TypeError(f"{envelope.type} carries {type(product).__name__}")
        known = uow.find(Product.create_id(product.sku), Product)
        if known is None:
            uow.add(Product(product.sku, product.weight_grams))
        else:
            known.reweigh(product.weight_grams)

    def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
        placed = data_of(envelope, OrderPlaced)
        shipment = shipment_of(uow, placed.order_id)
        if shipment.order_known:
            return  # a redelivery
        shipment.record_order(
            address=placed.shipping_address.model_dump(mode="python"),
            method=str(placed.shipping_method),
            lines=[{"sku": line.sku, "quantity": line.quantity} for line in placed.lines],
        )
        ship_if_ready(shipment, uow)

    def on_stock_reserved(envelope: Envelope, uow: UnitOfWork) -> None:
        reserved = data_of(envelope, StockReserved)
        shipment = shipment_of(uow, reserved.order_id)
        if shipment.reservation_id is not None:
            return  # a redelivery
        shipment.record_reservation(
            reservation_id=reserved.reservation_id,
            lines=[line.model_dump(mode="python") for line in reserved.lines],
        )
        ship_if_ready(shipment, uow)  # never ships a cancelled shipment: it is not waiting

    def on_order_cancelled(envelope: Envelope, uow: UnitOfWork) -> None:
        cancelled = data_of(envelope, OrderCancelled)
        shipment = shipment_of(uow, cancelled.order_id)
        if shipment.status in (ShipmentStatus.WAITING, ShipmentStatus.STUCK):
            shipment.cancel(str(cancelled.reason))
        elif shipment.status is not ShipmentStatus.CANCELLED:
            log.warning("cancel after shipping: the parcel has left", status=str(shipment.status))

    def on_cancellation_requested(envelope: Envelope, uow: UnitOfWork) -> None:
        request = data_of(envelope, CancellationRequested)
        shipment = shipment_of(uow, request.order_id)
        if shipment.has_left:
            log.info("cancellation refused: Shipped was the answer", status=str(shipment.status))
        elif shipment.stopped:
            log.info("cancellation requested again: already stopped")
        else:
            shipment.stop(str(request.reason))

    def on_return_requested(envelope: Envelope, uow: UnitOfWork) -> None:
        requested = data_of(envelope, ReturnRequested)
        desk.decide(shipment_of(uow, requested.order_id), requested)

    return {
        ProductListed.ce_type: on_product,
        ProductUpdated.ce_type: on_product,
        OrderPlaced.ce_type: on_order_placed,
        StockReserved.ce_type: on_stock_reserved,
        OrderCancelled.ce_type: on_order_cancelled,
        CancellationRequested.ce_type: on_cancellation_requested,
        ReturnRequested.ce_type: on_return_requested,
    }
