"""The fulfillment store, its queries, and the use cases the API drives: a carrier's
delivery confirmation and the warehouse's receipt of a returned parcel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_runtime.store import EventStoreApplication

from orderflow_fulfillment.domain import Lines, Shipment, ShipmentStatus
from orderflow_fulfillment.returns import ReturnRecord

T = TypeVar("T")


@dataclass(frozen=True)
class ShipmentView:
    order_id: UUID
    shipment_id: UUID
    status: ShipmentStatus
    shipping_method: str | None
    destination_country: str | None
    ordered: Lines
    reservation_id: UUID | None
    reserved: Lines
    carrier: str | None
    service_level: str | None
    tracking_number: str | None
    weight_grams: int | None
    cost: Decimal | None
    currency: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    note: str | None
    returns: list[ReturnRecord]


class FulfillmentApplication(EventStoreApplication):
    name = "Fulfillment"

    def shipment(self, order_id: UUID) -> ShipmentView | None:
        """The order's shipment, or None when fulfillment has heard nothing of the order."""
        shipment = self._find(order_id)
        if shipment is None:
            return None
        address: dict[str, Any] = shipment.address or {}
        return ShipmentView(
            order_id=shipment.order_id,
            shipment_id=shipment.id,
            status=shipment.status,
            shipping_method=shipment.method,
            destination_country=address.get("country"),
            ordered=shipment.ordered or [],
            reservation_id=shipment.reservation_id,
            reserved=shipment.reserved or [],
            carrier=shipment.carrier,
            service_level=shipment.service_level,
            tracking_number=shipment.tracking_number,
            weight_grams=shipment.weight_grams,
            cost=shipment.cost,
            currency=shipment.currency,
            shipped_at=shipment.shipped_at,
            delivered_at=shipment.delivered_at,
            note=shipment.note,
            returns=sorted(shipment.returns.values(), key=lambda r: r.decided_at),
        )

    def confirm_delivery(self, order_id: UUID, delivered_at: datetime) -> bool:
        """Record the carrier's delivery confirmation; False when it was recorded before.

        Raises ShipmentStateError when the shipment has not shipped.
        """
        return self._change(order_id, lambda shipment: shipment.confirm_delivery(delivered_at))

    def receive_return(
        self, order_id: UUID, rma: str, lines: Lines, received_at: datetime
    ) -> ReturnRecord:
        """Record the parcel of an authorised return (-> ReturnReceived).

        Raises LookupError (unknown RMA), ShipmentStateError (received before) or
        ReturnMismatchError (units not in the authorisation).
        """
        return self._change(order_id, lambda s: s.receive_return(rma, lines, received_at))

    def return_of(self, order_id: UUID, rma: str) -> ReturnRecord | None:
        shipment = self._find(order_id)
        return None if shipment is None else shipment.return_by_rma(rma)

    def _change(self, order_id: UUID, change: Callable[[Shipment], T]) -> T:
        """Apply `change` to the order's shipment and save it; when the inbox saved the
        shipment meanwhile, reload it and apply the change once more."""
        for attempt in (1, 2):
            shipment = self._find(order_id)
            if shipment is None:
                raise LookupError(f"no shipment for order {order_id}")
            result = change(shipment)
            if not shipment.pending_events:  # nothing changed (a repeat): nothing to save
                return result
            try:
                self.save(shipment)
                return result
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable: the loop returns or raises")

    def _find(self, order_id: UUID) -> Shipment | None:
        try:
            shipment: object = self.repository.get(Shipment.create_id(order_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(shipment, Shipment):
            raise TypeError(f"{Shipment.create_id(order_id)} is not a Shipment")
        return shipment
