"""orderflow's public event contract: event models, the CloudEvents Kafka envelope, topics.

Parse a consumed record with `from_record(key, value, headers)`; build one with
`to_record(event, event_id=..., time=...)`. Every event class is registered in
`EVENT_TYPES` by its ce_type (`payment.authorized.v1`).
"""

from orderflow_events.base import (
    EVENT_TYPES,
    IntegrationEvent,
    OrderEvent,
    SkuEvent,
    UnknownEventType,
    event_type,
)
from orderflow_events.card import PaymentMethod, contains_card_number
from orderflow_events.catalog import PriceChanged, ProductDelisted, ProductListed, ProductUpdated
from orderflow_events.common import StockLine
from orderflow_events.currencies import ACTIVE_CURRENCIES, MINOR_UNITS
from orderflow_events.envelope import (
    MAX_VALUE_BYTES,
    Envelope,
    InvalidRecord,
    KafkaRecord,
    from_record,
    headers_dict,
    to_record,
)
from orderflow_events.fulfillment import (
    Delivered,
    ItemCondition,
    ReceivedLine,
    ReturnAuthorized,
    ReturnLabel,
    ReturnReceived,
    ReturnRejected,
    Shipped,
)
from orderflow_events.inventory import (
    ReorderRequested,
    RestockOrigin,
    StockCommitted,
    StockLevelLow,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    UnavailableLine,
)
from orderflow_events.money import CurrencyMismatch, Money, quantize
from orderflow_events.notification import Channel, NotificationFailed, NotificationSent
from orderflow_events.orders import (
    Address,
    CancelReason,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    ReturnRequested,
    ShippingMethod,
)
from orderflow_events.payment import (
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
)
from orderflow_events.topics import (
    ALL_TOPICS,
    CATALOG_EVENTS,
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    NOTIFICATION_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    TOPIC_SERVICE,
    dlq_topic,
    service_of,
    source_of,
)

__all__ = [
    "ACTIVE_CURRENCIES",
    "ALL_TOPICS",
    "CATALOG_EVENTS",
    "EVENT_TYPES",
    "FULFILLMENT_EVENTS",
    "INVENTORY_EVENTS",
    "MAX_VALUE_BYTES",
    "MINOR_UNITS",
    "NOTIFICATION_EVENTS",
    "ORDERS_EVENTS",
    "PAYMENT_EVENTS",
    "TOPIC_SERVICE",
    "Address",
    "CancelReason",
    "Channel",
    "CurrencyMismatch",
    "Delivered",
    "Envelope",
    "IntegrationEvent",
    "InvalidRecord",
    "ItemCondition",
    "KafkaRecord",
    "Money",
    "NotificationFailed",
    "NotificationSent",
    "OrderCancelled",
    "OrderEvent",
    "OrderLine",
    "OrderPlaced",
    "PaymentAuthorized",
    "PaymentCaptured",
    "PaymentDeclined",
    "PaymentMethod",
    "PaymentRefunded",
    "PaymentVoided",
    "PriceChanged",
    "ProductDelisted",
    "ProductListed",
    "ProductUpdated",
    "ReceivedLine",
    "ReorderRequested",
    "RestockOrigin",
    "ReturnAuthorized",
    "ReturnLabel",
    "ReturnReceived",
    "ReturnRejected",
    "ReturnRequested",
    "Shipped",
    "ShippingMethod",
    "SkuEvent",
    "StockCommitted",
    "StockLevelLow",
    "StockLine",
    "StockReleased",
    "StockReservationFailed",
    "StockReserved",
    "StockRestocked",
    "UnavailableLine",
    "UnknownEventType",
    "contains_card_number",
    "dlq_topic",
    "event_type",
    "from_record",
    "headers_dict",
    "quantize",
    "service_of",
    "source_of",
    "to_record",
]
