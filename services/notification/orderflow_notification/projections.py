"""The notices read model: status per notice, for operators and for the dispatcher.

The dispatcher finds pending (requested) and abandoned (claimed) notices here; the
store stays the judge (claiming re-checks the aggregate), so lag is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
)

from orderflow_notification.domain import Notice, NoticeStatus

metadata = MetaData()
notices = Table(
    "notification_notices",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False, index=True),
    Column("template", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("caused_by", String(36), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", String(500)),
)


@dataclass(frozen=True)
class NoticeRow:
    notice_id: UUID
    order_id: UUID
    template: str
    channel: str
    status: NoticeStatus
    caused_by: UUID
    requested_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    attempts: int
    error: str | None


class NoticesView(KeyedRowsModel):
    name: ClassVar[str] = "notification.notices"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = notices
    per_aggregate: ClassVar[bool] = True  # a row per notice, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = (
        Notice.Requested,
        Notice.Claimed,
        Notice.Sent,
        Notice.Failed,
    )

    def key_of(self, domain_event: Any) -> str | None:
        known = type(domain_event) in (self.event_types or ())
        return str(domain_event.originator_id) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        if isinstance(domain_event, Notice.Requested):
            if row is not None:
                return None  # applied before
            return {
                **self.empty_row(),
                "notice_id": key,
                "order_id": str(domain_event.order_id),
                "template": domain_event.template,
                "channel": domain_event.channel,
                "status": NoticeStatus.REQUESTED.value,
                "caused_by": str(domain_event.cause_id),
                "requested_at": domain_event.timestamp,
                "attempts": 0,
            }
        if row is None:
            return None  # a notice this model never saw requested: as an UPDATE would
        if isinstance(domain_event, Notice.Claimed):
            row.update(status=NoticeStatus.CLAIMED.value, claimed_at=domain_event.at)
        elif isinstance(domain_event, Notice.Sent):
            row.update(
                status=NoticeStatus.SENT.value,
                sent_at=domain_event.at,
                attempts=domain_event.attempts,
            )
        elif isinstance(domain_event, Notice.Failed):
            row.update(
                status=NoticeStatus.FAILED.value,
                failed_at=domain_event.at,
                attempts=domain_event.attempts,
                error=domain_event.error,
            )
        else:
            return None
        return row


def list_notices(
    engine: Engine,
    *,
    order_id: UUID | None = None,
    status: NoticeStatus | None = None,
    limit: int = 100,
) -> list[NoticeRow]:
    """Notices, oldest request first."""
    query = select(notices).order_by(notices.c.requested_at, notices.c.notice_id).limit(limit)
    if order_id is not None:
        query = query.where(notices.c.order_id == str(order_id))
    if status is not None:
        query = query.where(notices.c.status == status.value)
    with engine.connect() as conn:
        return [_row(mapping) for mapping in conn.execute(query).mappings()]


def _row(m: Any) -> NoticeRow:
    return NoticeRow(
        notice_id=UUID(m["notice_id"]),
        order_id=UUID(m["order_id"]),
        template=m["template"],
        channel=m["channel"],
        status=NoticeStatus(m["status"]),
        caused_by=UUID(m["caused_by"]),
        requested_at=_utc(m["requested_at"]) or datetime.min.replace(tzinfo=UTC),
        claimed_at=_utc(m["claimed_at"]),
        sent_at=_utc(m["sent_at"]),
        failed_at=_utc(m["failed_at"]),
        attempts=m["attempts"],
        error=m["error"],
    )


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
