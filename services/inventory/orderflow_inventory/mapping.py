"""Stored domain events -> the public events on `inventory.events` (the relay calls this)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    IntegrationEvent,
    ReorderRequested,
    RestockOrigin,
    StockCommitted,
    StockLevelLow,
    StockLine,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    UnavailableLine,
)

from orderflow_inventory.domain import (
    ReorderRequestedEvent,
    StockLevelLowEvent,
    StockReceivedEvent,
)
from orderflow_inventory.reservations import (
    OrderCommittedEvent,
    OrderReleasedEvent,
    OrderReservationFailedEvent,
    OrderReservedEvent,
    OrderReturnReceivedEvent,
)


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    e, at = domain_event, getattr(domain_event, "timestamp", None)
    if isinstance(e, OrderReservedEvent):
        return StockReserved(
            order_id=e.order_id, reservation_id=e.reservation_id, lines=_lines(e), reserved_at=at
        )
    if isinstance(e, OrderReservationFailedEvent):
        unavailable = [UnavailableLine(**line) for line in e.unavailable]
        return StockReservationFailed(order_id=e.order_id, unavailable=unavailable, failed_at=at)
    if isinstance(e, OrderReleasedEvent):
        return StockReleased(
            order_id=e.order_id, reservation_id=e.reservation_id, lines=_lines(e), released_at=at
        )
    if isinstance(e, OrderCommittedEvent):
        return StockCommitted(
            order_id=e.order_id,
            reservation_id=e.reservation_id,
            lines=_lines(e),
            shipment_id=e.shipment_id,
            committed_at=at,
        )
    if isinstance(e, OrderReturnReceivedEvent):
        return _restocked_from_return(e)
    return _sku_event(e)


def _restocked_from_return(e: Any) -> IntegrationEvent | None:
    """Resellable units of a return back on hand; a return with none publishes nothing."""
    if not e.restocked:
        return None
    return StockRestocked(
        origin=RestockOrigin.RETURN,
        order_id=e.order_id,
        return_id=e.return_id,
        reservation_id=e.reservation_id,
        lines=[StockLine(sku=line["sku"], quantity=line["quantity"]) for line in e.restocked],
        restocked_at=e.timestamp,
    )


def _sku_event(e: Any) -> IntegrationEvent | None:
    """The events keyed by sku: receipts, low levels and reorders."""
    at = e.timestamp
    if isinstance(e, StockReceivedEvent):
        return StockRestocked(
            origin=RestockOrigin.RECEIPT,
            receipt_id=e.receipt_id,
            lines=[StockLine(sku=e.sku, quantity=e.quantity)],
            restocked_at=at,
        )
    if isinstance(e, StockLevelLowEvent):
        return StockLevelLow(
            sku=e.sku,
            on_hand=e.on_hand,
            available=e.available,
            reorder_point=e.reorder_point,
            detected_at=at,
        )
    if isinstance(e, ReorderRequestedEvent):
        return ReorderRequested(
            sku=e.sku,
            reorder_id=e.reorder_id,
            quantity=e.quantity,
            available=e.available,
            reorder_point=e.reorder_point,
            requested_at=at,
        )
    return None


def _lines(e: Any) -> list[StockLine]:
    return [StockLine(sku=line["sku"], quantity=line["quantity"]) for line in e.lines]
