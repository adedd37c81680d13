"""One order's stock: its lines, its payment, its reservation. No I/O here.

`OrderStock` records what OrderPlaced and PaymentAuthorized say, in whichever
order they arrive; once it has both, `reserve_order` reserves every line at once
or none, changing the StockItems in the same unit of work (so the same
transaction: two orders can never hold the same unit).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

from orderflow_inventory.domain import NAMESPACE, StockInvariantError, StockItem, merge_lines


class Status(StrEnum):
    PENDING = "pending"  # waiting for the lines, the payment, or both
    RESERVED = "reserved"
    FAILED = "failed"
    RELEASED = "released"
    COMMITTED = "committed"
    CANCELLED = "cancelled"  # before any reservation: nothing to give back


@dataclass(frozen=True)
class OrderStockView:
    order_id: uuid.UUID
    status: Status
    lines: dict[str, int]
    payment_id: uuid.UUID | None
    reservation_id: uuid.UUID | None
    unavailable: list[dict[str, Any]]
    shipment_id: uuid.UUID | None
    returns: dict[str, dict[str, Any]]


def order_stock_id(order_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"order-stock:{order_id}")


def reservation_id(order_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"reservation:{order_id}")


class OrderStock(TracedAggregate):
    """One order as inventory sees it; its id is derived from the order id."""

    @staticmethod
    def create_id(order_id: uuid.UUID) -> uuid.UUID:
        return order_stock_id(order_id)

    @event("Opened")
    def __init__(self, order_id: uuid.UUID) -> None:
        self.order_id = order_id
        self.lines: dict[str, int] | None = None
        self.payment_id: uuid.UUID | None = None
        self.status = Status.PENDING
        self.unavailable: list[dict[str, Any]] = []
        self.shipment_id: uuid.UUID | None = None
        self.returns: dict[str, dict[str, Any]] = {}  # by return id: what became of it

    @property
    def ready(self) -> bool:
        """Lines and payment known, nothing tried yet, not cancelled."""
        return self.status is Status.PENDING and bool(self.lines) and self.payment_id is not None

    @property
    def reservation_id(self) -> uuid.UUID | None:
        reserved = (Status.RESERVED, Status.RELEASED, Status.COMMITTED)
        return reservation_id(self.order_id) if self.status in reserved else None

    def view(self) -> OrderStockView:
        return OrderStockView(
            order_id=self.order_id,
            status=self.status,
            lines=dict(self.lines or {}),
            payment_id=self.payment_id,
            reservation_id=self.reservation_id,
            unavailable=[dict(line) for line in self.unavailable],
            shipment_id=self.shipment_id,
            returns={rid: dict(summary) for rid, summary in self.returns.items()},
        )

    def has_return(self, return_id: uuid.UUID) -> bool:
        return str(return_id) in self.returns

    def returnable(self) -> dict[str, int]:
        """Units per sku shipped to this order and not yet returned (none unless shipped)."""
        if self.status is not Status.COMMITTED:
            return {}
        left = dict(self.lines or {})
        for summary in self.returns.values():
            for line in (*summary["restocked"], *summary["written_off"]):
                left[line["sku"]] -= line["quantity"]
        return left

    def record_lines(self, lines: list[tuple[str, int]]) -> None:
        if self.lines is None:  # a repeated OrderPlaced changes nothing
            merged = merge_lines(lines)
            self._lines_recorded(lines=[{"sku": s, "quantity": q} for s, q in merged.items()])

    def record_payment(self, payment_id: uuid.UUID) -> None:
        if self.payment_id is None:  # a second authorisation changes nothing
            self._payment_recorded(payment_id=payment_id)

    def cancel(self) -> None:
        """Cancelled before a reservation: remember it, so nothing is reserved later."""
        if self.status in (Status.PENDING, Status.FAILED):
            self._cancelled()

    def hold(self) -> None:
        """Every line was reserved on its stock item."""
        self._require(ready=True)
        rid = reservation_id(self.order_id)
        self._reserved(order_id=self.order_id, reservation_id=rid, lines=self._event_lines())

    def fail(self, unavailable: list[dict[str, Any]]) -> None:
        """Some line was short, so nothing was reserved."""
        self._require(ready=True)
        self._failed(order_id=self.order_id, unavailable=unavailable)

    def release(self) -> None:
        """The reservation was given back to the stock items."""
        self._require(status=Status.RESERVED)
        rid = reservation_id(self.order_id)
        self._released(order_id=self.order_id, reservation_id=rid, lines=self._event_lines())

    def commit(self, shipment_id: uuid.UUID) -> None:
        """The reserved units shipped."""
        self._require(status=Status.RESERVED)
        self._committed(
            order_id=self.order_id,
            reservation_id=reservation_id(self.order_id),
            lines=self._event_lines(),
            shipment_id=shipment_id,
        )

    def record_return(
        self,
        return_id: uuid.UUID,
        restocked: list[dict[str, Any]],
        written_off: list[dict[str, Any]],
        unmatched: list[dict[str, Any]],
    ) -> None:
        """A returned parcel: what goes back on hand, what is written off, what matched
        nothing this order shipped (recorded for operators, never restocked)."""
        if self.has_return(return_id):
            raise StockInvariantError(f"return {return_id} of {self.order_id} was received")
        self._return_received(
            order_id=self.order_id,
            return_id=return_id,
            reservation_id=self.reservation_id,
            restocked=restocked,
            written_off=written_off,
            unmatched=unmatched,
        )

    def _require(self, *, ready: bool = False, status: Status | None = None) -> None:
        if (ready and not self.ready) or (status is not None and self.status is not status):
            raise StockInvariantError(f"order {self.order_id} is {self.status}, not {status}")

    @event("LinesRecorded")
    def _lines_recorded(self, lines: list[dict[str, Any]]) -> None:
        self.lines = {line["sku"]: line["quantity"] for line in lines}

    @event("PaymentRecorded")
    def _payment_recorded(self, payment_id: uuid.UUID) -> None:
        self.payment_id = payment_id

    # The events below name the order, reservation and lines, so that the relay
    # maps each stored event to a public one on its own.
    @event("Reserved")
    def _reserved(
        self, order_id: uuid.UUID, reservation_id: uuid.UUID, lines: list[dict[str, Any]]
    ) -> None:
        self.status = Status.RESERVED

    @event("ReservationFailed")
    def _failed(self, order_id: uuid.UUID, unavailable: list[dict[str, Any]]) -> None:
        self.status = Status.FAILED
        self.unavailable = [dict(line) for line in unavailable]

    @event("Released")
    def _released(
        self, order_id: uuid.UUID, reservation_id: uuid.UUID, lines: list[dict[str, Any]]
    ) -> None:
        self.status = Status.RELEASED

    @event("Committed")
    def _committed(
        self,
        order_id: uuid.UUID,
        reservation_id: uuid.UUID,
        lines: list[dict[str, Any]],
        shipment_id: uuid.UUID,
    ) -> None:
        self.status = Status.COMMITTED
        self.shipment_id = shipment_id

    @event("Cancelled")
    def _cancelled(self) -> None:
        self.status = Status.CANCELLED

    @event("ReturnReceived")
    def _return_received(
        self,
        order_id: uuid.UUID,
        return_id: uuid.UUID,
        reservation_id: uuid.UUID | None,
        restocked: list[dict[str, Any]],
        written_off: list[dict[str, Any]],
        unmatched: list[dict[str, Any]],
    ) -> None:
        self.returns[str(return_id)] = {
            "restocked": restocked,
            "written_off": written_off,
            "unmatched": unmatched,
        }

    def _event_lines(self) -> list[dict[str, Any]]:
        return [{"sku": sku, "quantity": quantity} for sku, quantity in (self.lines or {}).items()]


Items = Mapping[str, StockItem | None]
"""The stock item of each sku of an order; None for a sku inventory does not know."""


def reserve_order(order: OrderStock, items: Items) -> bool:
    """Reserve every line of a ready order, or none; True when reserved.

    A sku that is unknown or delisted counts as having nothing available.
    """
    short = []
    for sku, quantity in (order.lines or {}).items():
        item = items.get(sku)
        if item is None or not item.can_reserve(quantity):
            available = item.available if item is not None and item.active else 0
            short.append({"sku": sku, "requested": quantity, "available": available})
    if short:
        order.fail(short)
        return False
    order.hold()  # checks the order first: nothing is reserved for an order not ready
    for sku, quantity in (order.lines or {}).items():
        _item(items, sku).reserve(order.order_id, quantity)
    return True


def release_order(order: OrderStock, items: Items) -> None:
    """Give a reserved order's units back (the order was cancelled before shipping)."""
    order.release()
    for sku, quantity in (order.lines or {}).items():
        _item(items, sku).release(order.order_id, quantity)


def commit_order(order: OrderStock, items: Items, shipment_id: uuid.UUID) -> None:
    """The reserved units shipped: they leave on hand for good."""
    order.commit(shipment_id)
    for sku, quantity in (order.lines or {}).items():
        _item(items, sku).commit(order.order_id, quantity)


def _item(items: Items, sku: str) -> StockItem:
    item = items.get(sku)
    if item is None:
        raise StockInvariantError(f"no stock item for {sku}")
    return item


# Typed handles on the event classes that @event generates (mypy cannot see them).
OrderReservedEvent: type[Any] = OrderStock.Reserved  # type: ignore[attr-defined]
OrderReservationFailedEvent: type[Any] = OrderStock.ReservationFailed  # type: ignore[attr-defined]
OrderReleasedEvent: type[Any] = OrderStock.Released  # type: ignore[attr-defined]
OrderCommittedEvent: type[Any] = OrderStock.Committed  # type: ignore[attr-defined]
OrderReturnReceivedEvent: type[Any] = OrderStock.ReturnReceived  # type: ignore[attr-defined]
OrderStockEvent: type[Any] = OrderStock.Event
OrderOpenedEvent: type[Any] = OrderStock.Opened  # type: ignore[attr-defined]
OrderLinesRecordedEvent: type[Any] = OrderStock.LinesRecorded  # type: ignore[attr-defined]
OrderCancelledEvent: type[Any] = OrderStock.Cancelled  # type: ignore[attr-defined]
