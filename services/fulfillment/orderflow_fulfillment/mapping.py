"""Stored Shipment events -> the integration events on `fulfillment.events` (others private)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    Delivered,
    IntegrationEvent,
    Money,
    ReceivedLine,
    ReturnAuthorized,
    ReturnLabel,
    ReturnReceived,
    ReturnRejected,
    ShipmentStopped,
    Shipped,
    StockLine,
)

from orderflow_fulfillment.domain import Shipment


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    match domain_event:
        case Shipment.Dispatched():
            return Shipped(
                order_id=domain_event.order_id,
                shipment_id=domain_event.originator_id,
                carrier=domain_event.carrier,
                service_level=domain_event.service_level,
                tracking_number=domain_event.tracking_number,
                lines=[StockLine.model_validate(line) for line in domain_event.lines],
                shipping_cost=Money(amount=domain_event.cost, currency=domain_event.currency),
                shipped_at=domain_event.shipped_at,
            )
        case Shipment.DeliveryConfirmed():
            return Delivered(
                order_id=domain_event.order_id,
                shipment_id=domain_event.originator_id,
                delivered_at=domain_event.delivered_at,
            )
        case Shipment.Stopped():
            return ShipmentStopped(
                order_id=domain_event.order_id,
                shipment_id=domain_event.shipment_id,
                reason=domain_event.reason,
                stopped_at=domain_event.stopped_at,
            )
        case Shipment.ReturnAuthorized():
            return ReturnAuthorized(
                order_id=domain_event.order_id,
                return_id=domain_event.return_id,
                rma=domain_event.rma,
                label=ReturnLabel.model_validate(domain_event.label),
                lines=[StockLine.model_validate(line) for line in domain_event.lines],
                authorized_at=domain_event.authorized_at,
            )
        case Shipment.ReturnRejected():
            return ReturnRejected(
                order_id=domain_event.order_id,
                return_id=domain_event.return_id,
                reason=domain_event.reason,
                rejected_at=domain_event.rejected_at,
            )
        case Shipment.ReturnReceived():
            return ReturnReceived(
                order_id=domain_event.order_id,
                return_id=domain_event.return_id,
                rma=domain_event.rma,
                lines=[ReceivedLine.model_validate(line) for line in domain_event.lines],
                received_at=domain_event.received_at,
            )
    return None  # Opened, OrderRecorded, ReservationRecorded, Stuck, Cancelled: private
