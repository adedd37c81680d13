"""The base of every integration event, and the registry of event types by ce_type."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final
from uuid import UUID

from pydantic import Field

from orderflow_events.common import ContractModel, Sku
from orderflow_events.topics import TOPIC_SERVICE, source_of

_STEM_RE: Final = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*$")

EVENT_TYPES: Final[dict[str, type[IntegrationEvent]]] = {}
"""Every concrete event class by its ce_type (`payment.authorized.v1`), filled on import."""


class UnknownEventType(LookupError):  # noqa: N818 (reads as a fact, like KeyError)
    """No event class is registered for a ce_type."""

    def __init__(self, ce_type: str) -> None:
        super().__init__(
            f"unknown event type {ce_type[:100]!r}: not in orderflow_events "
            f"({len(EVENT_TYPES)} types known; a newer package version may define it)"
        )
        self.ce_type = ce_type


class IntegrationEvent(ContractModel):
    """A public event on Kafka. Concrete subclasses set the ClassVars below and register."""

    type_stem: ClassVar[str]
    """`<topic prefix>.<event>`, e.g. `payment.authorized`."""
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    source: ClassVar[str]
    """CloudEvents source, `/services/<name>`; derived from the topic when not set."""
    key_field: ClassVar[str]
    """The field whose value is the record key (the order id, or the sku)."""
    ce_type: ClassVar[str]
    """`<type_stem>.v<version>`, set on registration."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "type_stem" in cls.__dict__:  # abstract intermediate bases declare none
            _register(cls)

    def partition_key(self) -> str:
        """The Kafka record key: keeps one order's (or one sku's) events in order."""
        return str(getattr(self, self.key_field))

    def subject(self) -> str | None:
        """The CloudEvents subject: the order id where the event belongs to an order."""
        order_id = getattr(self, "order_id", None)
        return None if order_id is None else str(order_id)


class OrderEvent(IntegrationEvent):
    """An event about one order, keyed by its order id."""

    key_field: ClassVar[str] = "order_id"

    order_id: UUID = Field(description="The order this event belongs to.")


class SkuEvent(IntegrationEvent):
    """An event about one sku (catalog, stock levels), keyed by the sku."""

    key_field: ClassVar[str] = "sku"

    sku: Sku = Field(description="The stock keeping unit this event is about.")


def _register(cls: type[IntegrationEvent]) -> None:
    stem, topic = cls.type_stem, cls.topic
    if not _STEM_RE.fullmatch(stem) or f"{stem.split('.')[0]}.events" != topic:
        raise TypeError(f"{cls.__name__}: type_stem {stem!r} must be '<topic prefix>.<event>'")
    if topic not in TOPIC_SERVICE:
        raise TypeError(f"{cls.__name__}: unknown topic {topic!r}")
    if "source" not in cls.__dict__:
        cls.source = source_of(topic)
    elif cls.source != source_of(topic):
        raise TypeError(f"{cls.__name__}: source {cls.source!r} does not publish to {topic}")
    if cls.version < 1:
        raise TypeError(f"{cls.__name__}: version must be >= 1")
    cls.ce_type = f"{stem}.v{cls.version}"
    if cls.ce_type in EVENT_TYPES:
        raise TypeError(f"{cls.__name__}: {cls.ce_type} is already {EVENT_TYPES[cls.ce_type]}")
    EVENT_TYPES[cls.ce_type] = cls


def event_type(ce_type: str) -> type[IntegrationEvent]:
    """The event class of a ce_type; raises UnknownEventType."""
    try:
        return EVENT_TYPES[ce_type]
    except KeyError:
        raise UnknownEventType(ce_type) from None
