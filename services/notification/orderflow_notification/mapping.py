"""Stored domain events -> the integration events the relay publishes on notification.events."""

from __future__ import annotations

from typing import Any

from orderflow_events import Channel, IntegrationEvent, NotificationFailed, NotificationSent

from orderflow_notification.domain import Notice


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Only outcomes are public; contacts, requests and claims stay private."""
    if isinstance(domain_event, Notice.Sent):
        return NotificationSent(
            order_id=domain_event.order_id,
            notification_id=domain_event.originator_id,
            channel=Channel(domain_event.channel),
            template=domain_event.template,
            caused_by=domain_event.cause_id,
            sent_at=domain_event.at,
        )
    if isinstance(domain_event, Notice.Failed):
        return NotificationFailed(
            order_id=domain_event.order_id,
            notification_id=domain_event.originator_id,
            channel=Channel(domain_event.channel),
            template=domain_event.template,
            caused_by=domain_event.cause_id,
            error=domain_event.error,
            attempts=domain_event.attempts,
            failed_at=domain_event.at,
        )
    return None
