"""The fulfillment store, its queries, and the one use case the API drives: delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_runtime.store import EventStoreApplication

from orderflow_fulfillment.domain import Lines, Shipment, ShipmentStatus


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
        )

    def confirm_delivery(self, order_id: UUID, delivered_at: datetime) -> bool:
        """Record the carrier's delivery confirmation; False when it was recorded before.

        Raises ShipmentStateError when the shipment has not shipped.
        """
        for attempt in (1, 2):
            shipment = self._find(order_id)
            if shipment is None:
                raise LookupError(f"no shipment for order {order_id}")
            if not shipment.confirm_delivery(delivered_at):
                return False
            try:
                self.save(shipment)
                return True
            except IntegrityError:  # the inbox saved this shipment meanwhile: reload once
                if attempt == 2:
                    raise
        return False  # unreachable: the loop returns or raises

    def _find(self, order_id: UUID) -> Shipment | None:
        try:
            shipment: object = self.repository.get(Shipment.create_id(order_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(shipment, Shipment):
            raise TypeError(f"{Shipment.create_id(order_id)} is not a Shipment")
        return shipment
