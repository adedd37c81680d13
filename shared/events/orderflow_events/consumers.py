"""Who reacts to each event type: the "consumed by" column of the event catalog, in code.

It feeds the generated docs (`docs/asyncapi.yaml`, `docs/events.md`). It mirrors the
catalog in the design (`events.md`) and the handler tables the services wire up; when a
service starts or stops handling an event type, change it here and regenerate the docs.
Entries that are not services (`operators`, `timeline`) are people and tools reading
the topic, not the saga.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

OPERATORS: Final = "operators"
"""People watching the topic (`orderflow timeline`, alerts, dashboards), not a service."""

_CONSUMERS: Final[dict[str, tuple[str, ...]]] = {
    # catalog.events
    "catalog.product_listed.v1": ("cart", "inventory", "fulfillment"),
    "catalog.product_updated.v1": ("cart", "fulfillment"),
    "catalog.price_changed.v1": ("cart",),
    "catalog.product_delisted.v1": ("cart", "inventory"),
    # orders.events
    "orders.placed.v1": ("payment", "inventory", "fulfillment", "notification"),
    "orders.cancelled.v1": ("payment", "inventory", "fulfillment", "notification"),
    "orders.cancellation_requested.v1": ("fulfillment",),
    "orders.return_requested.v1": ("fulfillment",),
    # payment.events
    "payment.authorized.v1": ("cart", "inventory"),
    "payment.declined.v1": ("cart", "notification"),
    "payment.voided.v1": ("cart",),
    "payment.captured.v1": ("cart",),
    "payment.refunded.v1": ("cart", "notification"),
    # inventory.events
    "inventory.stock_reserved.v1": ("cart", "fulfillment"),
    "inventory.stock_reservation_failed.v1": ("cart", "notification"),
    "inventory.stock_released.v1": ("cart",),
    "inventory.stock_committed.v1": (OPERATORS,),
    "inventory.stock_restocked.v1": (OPERATORS,),
    "inventory.stock_level_low.v1": (OPERATORS,),
    "inventory.reorder_requested.v1": (OPERATORS,),
    # fulfillment.events
    "fulfillment.shipped.v1": ("cart", "payment", "inventory", "notification"),
    "fulfillment.delivered.v1": ("cart", "notification"),
    "fulfillment.shipment_stopped.v1": ("cart",),
    "fulfillment.return_authorized.v1": ("cart", "notification"),
    "fulfillment.return_rejected.v1": ("cart", "notification"),
    "fulfillment.return_received.v1": ("cart", "inventory", "payment"),
    # notification.events
    "notification.sent.v1": (OPERATORS,),
    "notification.failed.v1": (OPERATORS,),
}

CONSUMERS: Final = MappingProxyType(_CONSUMERS)
"""ce_type -> who consumes it (service names, or `operators`)."""


def consumers_of(ce_type: str) -> tuple[str, ...]:
    """Who consumes `ce_type`; raises KeyError for an event type missing from the table."""
    try:
        return CONSUMERS[ce_type]
    except KeyError:
        raise KeyError(
            f"{ce_type} is not in orderflow_events.consumers: add who consumes it"
        ) from None
