"""An order's contact details, what other services told about it, and the notices
waiting for either.

`OrderContact` (one per order) learns who to write to from OrderPlaced, the short
items from StockReservationFailed and each return's RMA from ReturnAuthorized. A
notice asked for before what it needs is known (Shipped before OrderPlaced, an
out-of-stock cancel before the shortage) is parked in it, as plain values, until
then. A request's `needs` names what it waits for besides the contact.
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

    class ParkedReleased(TracedAggregate.Event):  # all of them (kept: stored before)
        pass

    class ParkedTaken(TracedAggregate.Event):
        cause_ids: list[str]

    class ShortageRecorded(TracedAggregate.Event):
        unavailable: list[dict[str, Any]]

    class ReturnRecorded(TracedAggregate.Event):
        return_id: str
        rma: str

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
        self.shortage: list[dict[str, Any]] | None = None
        self.rmas: dict[str, str] = {}  # by return id

    @property
    def known(self) -> bool:
        return self.email is not None

    def waiting_for(self, request: dict[str, Any]) -> list[str]:
        """What the request still needs: 'contact', 'shortage'; empty when it can go."""
        missing = [] if self.known else ["contact"]
        if "shortage" in request.get("needs", ()) and self.shortage is None:
            missing.append("shortage")
        return missing

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
        """The parked requests that can go now, to be turned into notices; they leave
        the list, the others stay."""
        ready = [request for request in self.parked if not self.waiting_for(request)]
        if ready:
            self._taken([str(request["cause_id"]) for request in ready])
        return ready

    @event(ParkedReleased)
    def _released(self) -> None:
        self.parked = []

    @event(ParkedTaken)
    def _taken(self, cause_ids: list[str]) -> None:
        self.parked = [p for p in self.parked if str(p["cause_id"]) not in cause_ids]

    def record_shortage(self, unavailable: list[dict[str, Any]]) -> None:
        """The lines inventory could not reserve; the first report stands."""
        if self.shortage is None:
            self._shortage_recorded(unavailable)

    @event(ShortageRecorded)
    def _shortage_recorded(self, unavailable: list[dict[str, Any]]) -> None:
        self.shortage = [dict(line) for line in unavailable]

    def record_return(self, return_id: str, rma: str) -> None:
        if return_id not in self.rmas:
            self._return_recorded(return_id, rma)

    @event(ReturnRecorded)
    def _return_recorded(self, return_id: str, rma: str) -> None:
        self.rmas = {**self.rmas, return_id: rma}

    def recipients(self, sms_enabled: bool) -> list[tuple[str, str]]:
        """(channel, address) pairs to notify: email always, SMS when a phone is known."""
        if self.email is None:
            return []
        pairs = [("email", self.email)]
        if sms_enabled and self.phone:
            pairs.append(("sms", self.phone))
        return pairs
