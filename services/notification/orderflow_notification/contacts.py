"""An order's contact details, and the notices waiting for them.

`OrderContact` (one per order) learns who to write to from OrderPlaced; a notice
asked for before that (Shipped before OrderPlaced) is parked in it, as plain
values, until the contact arrives.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

from orderflow_notification.domain import NAMESPACE


class OrderContact(TracedAggregate):
    """Who to notify about an order, and the notices waiting until that is known."""

    class Opened(TracedAggregate.Created):
        order_id: UUID

    class Registered(TracedAggregate.Event):
        email: str
        phone: str | None
        name: str
        receipt: dict[str, Any]

    class NoticeParked(TracedAggregate.Event):
        request: dict[str, Any]

    class ParkedReleased(TracedAggregate.Event):
        pass

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"contact:{order_id}")

    @event(Opened)
    def __init__(self, order_id: UUID) -> None:
        self.order_id = order_id
        self.email: str | None = None
        self.phone: str | None = None
        self.name = ""
        self.receipt: dict[str, Any] = {}
        self.parked: list[dict[str, Any]] = []

    @property
    def known(self) -> bool:
        return self.email is not None

    def register(self, email: str, phone: str | None, name: str, receipt: dict[str, Any]) -> None:
        """Learn the contact from the order; a second OrderPlaced changes nothing."""
        if not self.known:
            self._registered(email, phone, name, receipt)

    @event(Registered)
    def _registered(
        self, email: str, phone: str | None, name: str, receipt: dict[str, Any]
    ) -> None:
        self.email, self.phone, self.name, self.receipt = email, phone, name, receipt

    @event(NoticeParked)
    def park(self, request: dict[str, Any]) -> None:
        """Keep a notice request (plain values) until the contact is known."""
        self.parked = [*self.parked, request]

    def release_parked(self) -> list[dict[str, Any]]:
        """The parked requests, now to be turned into notices; the list is emptied."""
        released = self.parked
        if released:
            self._released()
        return released

    @event(ParkedReleased)
    def _released(self) -> None:
        self.parked = []

    def recipients(self, sms_enabled: bool) -> list[tuple[str, str]]:
        """(channel, address) pairs to notify: email always, SMS when a phone is known."""
        if self.email is None:
            return []
        pairs = [("email", self.email)]
        if sms_enabled and self.phone:
            pairs.append(("sms", self.phone))
        return pairs
