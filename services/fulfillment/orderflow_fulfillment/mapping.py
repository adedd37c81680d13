"""Stored Shipment events -> the integration events on `fulfillment.events` (others private)."""

from __future__ import annotations

from typing import Any

from orderflow_events import Delivered, IntegrationEvent, Money, Shipped, StockLine

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
    return None
