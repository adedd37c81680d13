"""The notice aggregate: one message to one recipient, sent at most once.

A `Notice` (one per order, template, channel and, for refunds, refund) moves
requested -> claimed -> sent | failed. Who to write to is an order's
`OrderContact` (contacts.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

NAMESPACE = UUID("5b0e7c4a-2f0d-4c58-8d3e-6a1f9c2b7e41")
UNKNOWN_OUTCOME = "outcome unknown after restart"


class NoticeStatus(StrEnum):
    REQUESTED = "requested"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"


class NoticeStateError(Exception):
    """A notice was asked to move on from a state that does not allow it."""


def notice_id(order_id: UUID, template: str, channel: str, key: str | None = None) -> UUID:
    """The id of a notice: the same order, template, channel (and key) is one notice."""
    name = f"notice:{order_id}:{template}:{channel}"
    return uuid5(NAMESPACE, name if key is None else f"{name}:{key}")


class Notice(TracedAggregate):
    """One message to one recipient on one channel; sent at most once."""

    # `cause_id`, not `caused_by`: the chassis stamps `caused_by` on every domain event.
    class Requested(TracedAggregate.Created):
        order_id: UUID
        template: str
        channel: str
        key: str | None
        recipient: str
        context: dict[str, Any]
        cause_id: UUID
        traceparent: str | None

    class Claimed(TracedAggregate.Event):
        at: datetime

    class Sent(TracedAggregate.Event):
        order_id: UUID
        template: str
        channel: str
        cause_id: UUID
        attempts: int
        at: datetime

    class Failed(TracedAggregate.Event):
        order_id: UUID
        template: str
        channel: str
        cause_id: UUID
        error: str
        attempts: int
        at: datetime

    @staticmethod
    def create_id(order_id: UUID, template: str, channel: str, key: str | None) -> UUID:
        return notice_id(order_id, template, channel, key)

    @event(Requested)
    def __init__(
        self,
        order_id: UUID,
        template: str,
        channel: str,
        key: str | None,
        recipient: str,
        context: dict[str, Any],
        cause_id: UUID,
        traceparent: str | None,
    ) -> None:
        self.order_id, self.template, self.channel = order_id, template, channel
        self.recipient, self.context = recipient, context
        self.cause_id, self.traceparent = cause_id, traceparent
        self.status = NoticeStatus.REQUESTED
        self.attempts = 0
        self.claimed_at: datetime | None = None

    def claim(self, at: datetime) -> None:
        """Taken by a dispatcher, in its own transaction, before anything is sent."""
        self._require(NoticeStatus.REQUESTED)
        self._claimed(at)

    @event(Claimed)
    def _claimed(self, at: datetime) -> None:
        self.status, self.claimed_at = NoticeStatus.CLAIMED, at

    def mark_sent(self, attempts: int, at: datetime) -> None:
        self._require(NoticeStatus.CLAIMED)
        self._sent(self.order_id, self.template, self.channel, self.cause_id, attempts, at)

    def mark_failed(self, error: str, attempts: int, at: datetime) -> None:
        self._require(NoticeStatus.CLAIMED)
        args = (self.order_id, self.template, self.channel, self.cause_id)
        self._failed(*args, error[:500], max(attempts, 1), at)

    @event(Sent)
    def _sent(
        self,
        order_id: UUID,
        template: str,
        channel: str,
        cause_id: UUID,
        attempts: int,
        at: datetime,
    ) -> None:
        self.status, self.attempts = NoticeStatus.SENT, attempts

    @event(Failed)
    def _failed(
        self,
        order_id: UUID,
        template: str,
        channel: str,
        cause_id: UUID,
        error: str,
        attempts: int,
        at: datetime,
    ) -> None:
        self.status, self.attempts = NoticeStatus.FAILED, attempts

    def _require(self, status: NoticeStatus) -> None:
        if self.status != status:
            raise NoticeStateError(f"notice {self.id} is {self.status}, not {status}")
