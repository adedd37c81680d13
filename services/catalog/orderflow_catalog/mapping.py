"""Stored Product events -> the public events on `catalog.events` (the relay calls this)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    IntegrationEvent,
    Money,
    PriceChanged,
    ProductDelisted,
    ProductListed,
    ProductUpdated,
)

from orderflow_catalog.domain import (
    PriceChangedEvent,
    ProductDelistedEvent,
    ProductListedEvent,
    ProductUpdatedEvent,
)

_DETAILS = ("name", "description", "category", "attributes", "image_urls", "weight_grams")


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    if isinstance(domain_event, ProductListedEvent):
        return ProductListed(
            sku=domain_event.sku,
            **_details(domain_event),
            price=Money(amount=domain_event.price_amount, currency=domain_event.currency),
            reorder_point=domain_event.reorder_point,
            listed_at=domain_event.timestamp,
        )
    if isinstance(domain_event, ProductUpdatedEvent):
        return ProductUpdated(
            sku=domain_event.sku, **_details(domain_event), updated_at=domain_event.timestamp
        )
    if isinstance(domain_event, PriceChangedEvent):
        currency = domain_event.currency
        return PriceChanged(
            sku=domain_event.sku,
            price=Money(amount=domain_event.price_amount, currency=currency),
            previous_price=Money(amount=domain_event.previous_amount, currency=currency),
            changed_at=domain_event.timestamp,
        )
    if isinstance(domain_event, ProductDelistedEvent):
        return ProductDelisted(sku=domain_event.sku, delisted_at=domain_event.timestamp)
    return None


def _details(domain_event: Any) -> dict[str, Any]:
    return {name: getattr(domain_event, name) for name in _DETAILS}
