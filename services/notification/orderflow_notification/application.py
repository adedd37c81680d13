"""The notification store and its use cases: claim a notice, record how sending went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_runtime.context import EventContext, event_context
from orderflow_runtime.store import EventStoreApplication

from orderflow_notification.contacts import OrderContact
from orderflow_notification.domain import UNKNOWN_OUTCOME, Notice, NoticeStatus


@dataclass(frozen=True)
class ClaimedNotice:
    """What the dispatcher needs to send a notice it claimed."""

    id: UUID
    order_id: UUID
    template: str
    channel: str
    recipient: str
    context: dict[str, Any]


@dataclass(frozen=True)
class SendOutcome:
    """How sending a claimed notice went: `error` None means sent."""

    notice_id: UUID
    attempts: int
    error: str | None
    at: datetime


@dataclass(frozen=True)
class ParkedNotice:
    """A notice waiting for the order's contact details (OrderPlaced not seen yet) or
    another fact it names (the short items of an out-of-stock cancel)."""

    template: str
    caused_by: UUID
    waiting_for: list[str]


class NotificationApplication(EventStoreApplication):
    name = "Notification"

    def claim(self, notice_id: UUID, at: datetime) -> ClaimedNotice | None:
        """Claim a requested notice in its own transaction; None if it is not ours to send.

        The save is a version check: of two dispatchers claiming one notice, one wins.
        """
        notice = self._notice(notice_id)
        if notice is not None and _claimed_at(notice, at):
            return _claimed(notice)  # an earlier try stored this claim, then reported an error
        if notice is None or notice.status != NoticeStatus.REQUESTED:
            return None
        with self._context(notice):
            notice.claim(at)
        try:
            self.save(notice)
        except IntegrityError:  # claimed by someone else meanwhile (or our cache was stale)
            return None
        return _claimed(notice)

    def settle(
        self, outcomes: Sequence[SendOutcome], claim_ids: Sequence[UUID], at: datetime
    ) -> list[ClaimedNotice]:
        """Record how sending went and claim the next notices, in one transaction; the
        claimed ones are returned (those not ours to send are left out).

        A claim is a version check: if another dispatcher claimed one of them meanwhile,
        the whole save is a version conflict. Then the outcomes are recorded on their own
        and each notice is claimed on its own, as `claim` does.

        A retry with the same arguments after an error is safe even if the failed try
        was stored (a connection lost at commit): its outcomes are not recorded twice,
        and its claims, made at `at`, are returned as ours.
        """
        notices = [n for n in map(self._with_outcome, outcomes) if n is not None]
        taken: list[Notice] = []  # in claim order: claimed now, or by an earlier try
        claiming: list[Notice] = []
        for notice in map(self._notice, claim_ids):
            if notice is None:
                continue
            if notice.status == NoticeStatus.REQUESTED:
                with self._context(notice):
                    notice.claim(at)
                claiming.append(notice)
            elif not _claimed_at(notice, at):
                continue
            taken.append(notice)
        if notices or claiming:
            try:
                self.save(*notices, *claiming)
            except IntegrityError:  # the cached copies are forgotten: each claim reloads
                if recorded := [n for n in map(self._with_outcome, outcomes) if n is not None]:
                    self.save(*recorded)
                return [claimed for i in claim_ids if (claimed := self.claim(i, at)) is not None]
        return [_claimed(notice) for notice in taken]

    def _with_outcome(self, outcome: SendOutcome) -> Notice | None:
        """The notice with its outcome, to save; None if its outcome is already stored
        (by an earlier try whose commit went through, though it reported an error)."""
        notice = self._existing(outcome.notice_id)
        if notice.status != NoticeStatus.CLAIMED:
            return None
        with self._context(notice):
            if outcome.error is None:
                notice.mark_sent(outcome.attempts, outcome.at)
            else:
                notice.mark_failed(outcome.error, outcome.attempts, outcome.at)
        return notice

    def abandon_claim(self, notice_id: UUID, at: datetime) -> bool:
        """A claim left by an earlier run: failed with an unknown outcome, never re-sent."""
        notice = self._notice(notice_id)
        if notice is None or notice.status != NoticeStatus.CLAIMED:
            return False
        with self._context(notice):
            notice.mark_failed(UNKNOWN_OUTCOME, 1, at)
        self.save(notice)
        return True

    def awaiting_contact(self, order_id: UUID) -> list[ParkedNotice]:
        try:
            contact: OrderContact = self.repository.get(OrderContact.create_id(order_id))
        except AggregateNotFoundError:
            return []
        return [
            ParkedNotice(p["template"], p["cause_id"], contact.waiting_for(p))
            for p in contact.parked
        ]

    def _notice(self, notice_id: UUID) -> Notice | None:
        try:
            return self._existing(notice_id)
        except AggregateNotFoundError:
            return None

    def _existing(self, notice_id: UUID) -> Notice:
        notice: Notice = self.repository.get(notice_id)
        return notice

    @staticmethod
    def _context(notice: Notice) -> Any:
        """What the relay puts in the published event's causation headers."""
        context = EventContext(str(notice.cause_id), str(notice.order_id), notice.traceparent)
        return event_context(context)


def _claimed_at(notice: Notice, at: datetime) -> bool:
    """Whether the notice is claimed, and by a claim made at `at` (this dispatcher's)."""
    return notice.status == NoticeStatus.CLAIMED and notice.claimed_at == at


def _claimed(notice: Notice) -> ClaimedNotice:
    return ClaimedNotice(
        notice.id,
        notice.order_id,
        notice.template,
        notice.channel,
        notice.recipient,
        notice.context,
    )
