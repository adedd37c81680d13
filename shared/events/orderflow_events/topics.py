"""Kafka topic names: one topic per producing service, plus a dead-letter topic each."""

from types import MappingProxyType
from typing import Final

CATALOG_EVENTS: Final = "catalog.events"
ORDERS_EVENTS: Final = "orders.events"
PAYMENT_EVENTS: Final = "payment.events"
INVENTORY_EVENTS: Final = "inventory.events"
FULFILLMENT_EVENTS: Final = "fulfillment.events"
NOTIFICATION_EVENTS: Final = "notification.events"

ALL_TOPICS: Final[tuple[str, ...]] = (
    CATALOG_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    INVENTORY_EVENTS,
    FULFILLMENT_EVENTS,
    NOTIFICATION_EVENTS,
)

TOPIC_SERVICE: Final = MappingProxyType(
    {
        CATALOG_EVENTS: "catalog",
        ORDERS_EVENTS: "cart",  # the cart service owns orders and publishes their events
        PAYMENT_EVENTS: "payment",
        INVENTORY_EVENTS: "inventory",
        FULFILLMENT_EVENTS: "fulfillment",
        NOTIFICATION_EVENTS: "notification",
    }
)
"""Topic -> name of the only service that publishes to it."""

DLQ_SUFFIX: Final = ".dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`: records its consumers could not process."""
    return f"{topic}{DLQ_SUFFIX}"


def service_of(topic: str) -> str:
    """The service that publishes to `topic` (`orders.events` -> `cart`)."""
    try:
        return TOPIC_SERVICE[topic]
    except KeyError:
        raise ValueError(f"unknown topic {topic!r}; known: {', '.join(ALL_TOPICS)}") from None


def source_of(topic: str) -> str:
    """The CloudEvents source of the events on `topic`, e.g. `/services/payment`."""
    return f"/services/{service_of(topic)}"
