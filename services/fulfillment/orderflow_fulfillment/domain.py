"""Fulfillment's aggregates: a Product (what one unit of a sku weighs) and a Shipment per order.

A Shipment records the order (address, method, lines) and the reservation in
whichever order they arrive, and is dispatched once it has both; a cancel before
that stops it for good. It is the arbiter of a cancellation racing the parcel:
one aggregate sees the order's events one at a time, so it either ships or stops,
never both. After delivery it keeps the order's returns (see returns.py).
Guards live in the public methods; the `@event` methods only change state, because
they run again whenever the aggregate is rebuilt.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

from orderflow_fulfillment.returns import (
    ReturnRecord,
    ReturnStatus,
    receipt_mismatch,
    refusal,
    rma_of,
    units_refusal,
)

NAMESPACE = UUID("8a3f5c2e-1d4b-4e6f-9c7a-0b2d4f6a8c03")
Lines = list[dict[str, Any]]
"""Stock lines as stored: [{"sku": str, "quantity": int}]."""


class ShipmentStateError(Exception):
    """A step the shipment's state does not allow."""


class ReturnMismatchError(ValueError):
    """A received parcel does not match its authorised return."""


class Product(TracedAggregate):
    class Listed(TracedAggregate.Created):
        sku: str
        weight_grams: int

    class Reweighed(TracedAggregate.Event):
        weight_grams: int

    @staticmethod
    def create_id(sku: str, weight_grams: int = 0) -> UUID:
        return product_id_of(sku)

    @event(Listed)
    def __init__(self, sku: str, weight_grams: int) -> None:
        self.sku = sku
        self.weight_grams = weight_grams

    def reweigh(self, weight_grams: int) -> None:
        if weight_grams != self.weight_grams:
            self._reweighed(weight_grams=weight_grams)

    @event(Reweighed)
    def _reweighed(self, weight_grams: int) -> None:
        self.weight_grams = weight_grams


class ShipmentStatus(StrEnum):
    WAITING = "waiting"
    """For the order, the reservation, or both."""
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    STUCK = "stuck"
    """No carrier takes the parcel: for operators."""


class Shipment(TracedAggregate):
    class Opened(TracedAggregate.Created):
        order_id: UUID

    class OrderRecorded(TracedAggregate.Event):
        order_id: UUID
        address: dict[str, Any]
        method: str
        lines: Lines

    class ReservationRecorded(TracedAggregate.Event):
        order_id: UUID
        reservation_id: UUID
        lines: Lines

    class Dispatched(TracedAggregate.Event):
        order_id: UUID
        carrier: str
        service_level: str
        tracking_number: str
        lines: Lines
        weight_grams: int
        cost: Decimal
        currency: str
        shipped_at: datetime

    class Stuck(TracedAggregate.Event):
        order_id: UUID
        reason: str
        weight_grams: int

    class DeliveryConfirmed(TracedAggregate.Event):
        order_id: UUID
        delivered_at: datetime

    class Cancelled(TracedAggregate.Event):
        order_id: UUID
        reason: str

    class Stopped(TracedAggregate.Event):
        """The answer to a cancellation request: this order will never ship."""

        order_id: UUID
        shipment_id: UUID | None
        reason: str
        stopped_at: datetime

    class ReturnAuthorized(TracedAggregate.Event):
        order_id: UUID
        return_id: UUID
        rma: str
        lines: Lines
        label: dict[str, str]
        authorized_at: datetime

    class ReturnRejected(TracedAggregate.Event):
        order_id: UUID
        return_id: UUID
        reason: str
        rejected_at: datetime

    class ReturnReceived(TracedAggregate.Event):
        order_id: UUID
        return_id: UUID
        rma: str
        lines: Lines
        """[{"sku", "quantity", "condition"}]"""
        received_at: datetime

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return shipment_id_of(order_id)

    @event(Opened)
    def __init__(self, order_id: UUID) -> None:
        self.order_id = order_id
        self.status = ShipmentStatus.WAITING
        self.address: dict[str, Any] | None = None
        self.method: str | None = None
        self.ordered: Lines | None = None
        self.reservation_id: UUID | None = None
        self.reserved: Lines | None = None
        self.carrier: str | None = None
        self.service_level: str | None = None
        self.tracking_number: str | None = None
        self.weight_grams: int | None = None
        self.cost: Decimal | None = None
        self.currency: str | None = None
        self.shipped_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.note: str | None = None
        """Why it was cancelled or is stuck."""
        self.stopped = False
        """A cancellation request was answered with ShipmentStopped."""
        self.returns: dict[UUID, ReturnRecord] = {}

    @property
    def order_known(self) -> bool:
        return self.address is not None

    @property
    def ready_to_ship(self) -> bool:
        return self.status is ShipmentStatus.WAITING and self.order_known and bool(self.reserved)

    @property
    def has_left(self) -> bool:
        """The parcel is with the carrier (or delivered): too late to stop it."""
        return self.status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)

    def record_order(self, *, address: dict[str, Any], method: str, lines: Lines) -> None:
        if self.order_known:
            raise ShipmentStateError(f"the order of shipment {self.id} is already recorded")
        self._order_recorded(order_id=self.order_id, address=address, method=method, lines=lines)

    def record_reservation(self, *, reservation_id: UUID, lines: Lines) -> None:
        if self.reservation_id is not None:
            raise ShipmentStateError(f"shipment {self.id} already has a reservation")
        self._reservation_recorded(
            order_id=self.order_id, reservation_id=reservation_id, lines=lines
        )

    def dispatch(
        self,
        *,
        carrier: str,
        service_level: str,
        tracking_number: str,
        weight_grams: int,
        cost: Decimal,
        currency: str,
    ) -> None:
        if not self.ready_to_ship or self.reserved is None:
            raise ShipmentStateError(f"shipment {self.id} is {self.status}, not ready to ship")
        self._dispatched(
            order_id=self.order_id,
            carrier=carrier,
            service_level=service_level,
            tracking_number=tracking_number,
            lines=self.reserved,
            weight_grams=weight_grams,
            cost=cost,
            currency=currency,
            shipped_at=datetime.now(UTC),
        )

    def get_stuck(self, *, reason: str, weight_grams: int) -> None:
        if not self.ready_to_ship:
            raise ShipmentStateError(f"shipment {self.id} is {self.status}, not ready to ship")
        self._stuck(order_id=self.order_id, reason=reason, weight_grams=weight_grams)

    def confirm_delivery(self, delivered_at: datetime) -> bool:
        """Record the carrier's confirmation; False when it was confirmed before."""
        if self.status is ShipmentStatus.DELIVERED:
            return False
        if self.status is not ShipmentStatus.SHIPPED:
            raise ShipmentStateError(f"shipment {self.id} is {self.status}, not shipped")
        self._delivery_confirmed(order_id=self.order_id, delivered_at=delivered_at)
        return True

    def cancel(self, reason: str) -> None:
        if self.status not in (ShipmentStatus.WAITING, ShipmentStatus.STUCK):
            raise ShipmentStateError(f"shipment {self.id} is {self.status}: too late to cancel")
        self._cancelled(order_id=self.order_id, reason=reason)

    def stop(self, reason: str) -> None:
        """Stop the order for good: whatever arrives later, it never ships."""
        if self.has_left:
            raise ShipmentStateError(f"shipment {self.id} is {self.status}: too late to stop")
        if self.stopped:
            raise ShipmentStateError(f"shipment {self.id} is already stopped")
        self._stopped(
            order_id=self.order_id,
            shipment_id=self.id if self.reservation_id is not None else None,
            reason=reason,
            stopped_at=datetime.now(UTC),
        )

    def return_refusal(self, lines: Lines, requested_at: datetime, window: timedelta) -> str | None:
        """Why these units may not come back (for the customer); None when they may."""
        delivered_at = self.delivered_at if self.status is ShipmentStatus.DELIVERED else None
        return refusal(
            shipped=self.reserved,
            delivered_at=delivered_at,
            returns=self.returns.values(),
            requested=lines,
            requested_at=requested_at,
            window=window,
        )

    def authorize_return(self, *, return_id: UUID, lines: Lines, label: dict[str, str]) -> None:
        """Issue an RMA and a label (the return window is the caller's judgement)."""
        self._require_new_return(return_id)
        if self.status is not ShipmentStatus.DELIVERED or self.reserved is None:
            raise ShipmentStateError(f"shipment {self.id} is {self.status}, not delivered")
        refused = units_refusal(
            shipped=self.reserved, returns=self.returns.values(), requested=lines
        )
        if refused is not None:
            raise ShipmentStateError(refused)
        self._return_authorized(
            order_id=self.order_id,
            return_id=return_id,
            rma=rma_of(return_id),
            lines=lines,
            label=label,
            authorized_at=datetime.now(UTC),
        )

    def reject_return(self, *, return_id: UUID, reason: str) -> None:
        self._require_new_return(return_id)
        self._return_rejected(
            order_id=self.order_id,
            return_id=return_id,
            reason=reason,
            rejected_at=datetime.now(UTC),
        )

    def receive_return(self, rma: str, lines: Lines, received_at: datetime) -> ReturnRecord:
        """Record the parcel of an authorised return; raises LookupError for an unknown
        RMA, ShipmentStateError when it was received before, ReturnMismatchError when
        the units do not match the authorisation."""
        record = self.return_by_rma(rma)
        if record is None:
            raise LookupError(f"no return {rma} for order {self.order_id}")
        if record.status is not ReturnStatus.AUTHORIZED:
            raise ShipmentStateError(f"return {rma} was {record.status} already")
        mismatch = receipt_mismatch(record.lines, lines)
        if mismatch is not None:
            raise ReturnMismatchError(mismatch)
        self._return_received(
            order_id=self.order_id,
            return_id=record.return_id,
            rma=rma,
            lines=lines,
            received_at=received_at,
        )
        return self.returns[record.return_id]

    def return_by_rma(self, rma: str) -> ReturnRecord | None:
        return next((r for r in self.returns.values() if r.rma == rma), None)

    def _require_new_return(self, return_id: UUID) -> None:
        if return_id in self.returns:
            raise ShipmentStateError(f"return {return_id} was decided already")

    @event(OrderRecorded)
    def _order_recorded(
        self, order_id: UUID, address: dict[str, Any], method: str, lines: Lines
    ) -> None:
        self.address, self.method, self.ordered = address, method, lines

    @event(ReservationRecorded)
    def _reservation_recorded(self, order_id: UUID, reservation_id: UUID, lines: Lines) -> None:
        self.reservation_id, self.reserved = reservation_id, lines

    @event(Dispatched)
    def _dispatched(
        self,
        order_id: UUID,
        carrier: str,
        service_level: str,
        tracking_number: str,
        lines: Lines,
        weight_grams: int,
        cost: Decimal,
        currency: str,
        shipped_at: datetime,
    ) -> None:
        self.status = ShipmentStatus.SHIPPED
        self.carrier, self.service_level, self.tracking_number = (
            carrier,
            service_level,
            tracking_number,
        )
        self.weight_grams, self.cost, self.currency = weight_grams, cost, currency
        self.shipped_at = shipped_at

    @event(Stuck)
    def _stuck(self, order_id: UUID, reason: str, weight_grams: int) -> None:
        self.status, self.note, self.weight_grams = ShipmentStatus.STUCK, reason, weight_grams

    @event(DeliveryConfirmed)
    def _delivery_confirmed(self, order_id: UUID, delivered_at: datetime) -> None:
        self.status, self.delivered_at = ShipmentStatus.DELIVERED, delivered_at

    @event(Cancelled)
    def _cancelled(self, order_id: UUID, reason: str) -> None:
        self.status, self.note = ShipmentStatus.CANCELLED, reason

    @event(Stopped)
    def _stopped(
        self, order_id: UUID, shipment_id: UUID | None, reason: str, stopped_at: datetime
    ) -> None:
        if self.status is not ShipmentStatus.CANCELLED:
            self.status, self.note = ShipmentStatus.CANCELLED, reason
        self.stopped = True

    @event(ReturnAuthorized)
    def _return_authorized(
        self,
        order_id: UUID,
        return_id: UUID,
        rma: str,
        lines: Lines,
        label: dict[str, str],
        authorized_at: datetime,
    ) -> None:
        self.returns[return_id] = ReturnRecord(
            return_id, ReturnStatus.AUTHORIZED, authorized_at, lines, rma=rma, label=label
        )

    @event(ReturnRejected)
    def _return_rejected(
        self, order_id: UUID, return_id: UUID, reason: str, rejected_at: datetime
    ) -> None:
        self.returns[return_id] = ReturnRecord(
            return_id, ReturnStatus.REJECTED, rejected_at, [], reason=reason
        )

    @event(ReturnReceived)
    def _return_received(
        self, order_id: UUID, return_id: UUID, rma: str, lines: Lines, received_at: datetime
    ) -> None:
        self.returns[return_id] = replace(
            self.returns[return_id],
            status=ReturnStatus.RECEIVED,
            received=lines,
            received_at=received_at,
        )


def shipment_id_of(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"shipment:{order_id}")


def product_id_of(sku: str) -> UUID:
    return uuid5(NAMESPACE, f"product:{sku}")
