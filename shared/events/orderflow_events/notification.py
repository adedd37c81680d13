"""Events of the notification service on `notification.events`, keyed by order id."""

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from orderflow_events.base import OrderEvent
from orderflow_events.common import Code, ShortText, UtcDateTime
from orderflow_events.topics import NOTIFICATION_EVENTS


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class NotificationEvent(OrderEvent):
    topic: ClassVar[str] = NOTIFICATION_EVENTS

    notification_id: UUID = Field(description="The notification; sent at most once.")
    channel: Channel = Field(description="How the customer is reached.")
    template: Code = Field(description="Template name, e.g. 'order_confirmation'.")
    caused_by: UUID = Field(description="ce_id of the event that triggered the notification.")


class NotificationSent(NotificationEvent):
    """A customer notification was handed to the provider."""

    type_stem: ClassVar[str] = "notification.sent"

    sent_at: UtcDateTime = Field(description="When the provider accepted it.")


class NotificationFailed(NotificationEvent):
    """A customer notification could not be sent, after retries; operators follow up."""

    type_stem: ClassVar[str] = "notification.failed"

    error: ShortText = Field(description="What went wrong (no recipient details).")
    attempts: int = Field(ge=1, description="Delivery attempts made.")
    failed_at: UtcDateTime = Field(description="When notification gave up.")
