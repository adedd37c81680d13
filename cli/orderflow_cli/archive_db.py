"""The archive database: every Kafka record of the shop, and the audit of DLQ actions.

`events` holds one row per record, indexed by correlation id (the order) and time
for timelines and by Kafka coordinates for lookups. A record is stored once: a
second copy of an event on the same topic (same `ce_id`, e.g. a relay that
published a batch again) or a record read again after a restart (same coordinates)
is dropped. A dead letter keeps its event's `ce_id` but lives on the `.dlq` topic,
so it is kept beside the original. `dlq_actions` records each redrive and purge.

PostgreSQL with a `postgresql://` URL; else an SQLite file (WAL, so readers and the
archiver do not block each other).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
)

DEFAULT_DATABASE_URL = "sqlite:///.data/archive.sqlite"
DATABASE_URL_ENV = "ORDERFLOW_ARCHIVE_DATABASE_URL"

metadata = MetaData()
events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ce_id", String(64)),
    Column("type", String(200)),
    Column("source", String(200)),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("subject", String(200)),
    Column("correlation_id", String(200)),
    Column("causation_id", String(64)),
    Column("sequence", BigInteger),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("key", Text),
    Column("headers", JSON, nullable=False),
    Column("value", Text),
    UniqueConstraint("topic", "partition", "offset", name="events_coordinates"),
    UniqueConstraint("ce_id", "topic", name="events_ce_id_topic"),
    Index("events_correlation_time", "correlation_id", "time"),
)
dlq_actions = Table(
    "dlq_actions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("action", String(20), nullable=False),
    Column("who", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("dlq_topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("event_id", String(64)),
    Column("event_type", String(200)),
    Column("target", String(300)),
    Index("dlq_actions_record", "dlq_topic", "partition", "offset"),
)


def engine_for(url: str) -> Engine:
    """An engine on `url` (postgresql:// or sqlite:///path) with the tables created."""
    engine = _engine(url)
    metadata.create_all(engine)
    return engine


def _engine(url: str) -> Engine:
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def insert_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    """Insert `rows` in one transaction, dropping those already stored; how many were new."""
    if not rows:
        return 0
    if engine.dialect.name == "postgresql":
        return _copy_rows(engine, rows)
    statement = insert(events).prefix_with("OR IGNORE").returning(events.c.id)
    with engine.begin() as conn:
        return len(conn.execute(statement, list(rows)).all())


_COLUMNS = [c.name for c in events.columns if c.name != "id"]
_COLUMN_LIST = ", ".join(f'"{name}"' for name in _COLUMNS)


def _copy_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING.

    Several times faster than a multi-row INSERT, so the archiver keeps up with the shop.
    """
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS events_batch ON COMMIT DELETE ROWS AS "
            f"SELECT {_COLUMN_LIST} FROM events WITH NO DATA"
        )
        with cursor.copy(f"COPY events_batch ({_COLUMN_LIST}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(name, row[name]) for name in _COLUMNS])
        cursor.execute(
            f"INSERT INTO events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM events_batch "
            "ON CONFLICT DO NOTHING"
        )
        return int(cursor.rowcount)


def _copy_value(name: str, value: Any) -> Any:
    return json.dumps(value) if name == "headers" else value


def timeline_rows(engine: Engine, order_id: str) -> list[dict[str, Any]]:
    """The archived records of one order (by correlation id), oldest first."""
    c = events.c
    query = (
        select(
            c.ce_id,
            c.type,
            c.source,
            c.time,
            c.causation_id,
            c.sequence,
            c.topic,
            c.partition,
            c.offset,
            c.headers,
        )
        .where(c.correlation_id == order_id)
        .order_by(c.time, c.topic, c.partition, c.offset)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def order_records(engine: Engine, order_id: str) -> list[dict[str, Any]]:
    """Full archived rows of one order, oldest first (for `export --order`)."""
    query = (
        select(events)
        .where(events.c.correlation_id == order_id)
        .order_by(events.c.time, events.c.topic, events.c.partition, events.c.offset)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count_events(engine: Engine) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def record_actions(engine: Engine, action: str, records: Iterable[dict[str, Any]]) -> None:
    """Audit `action` (redrive/purge) on dead letters, as $USER, now."""
    who = os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
    now = datetime.now(UTC)
    rows = [{"action": action, "who": who, "at": now, **record} for record in records]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(dlq_actions), rows)


def fates(engine: Engine) -> dict[tuple[str, int, int], dict[str, Any]]:
    """The last action on each dead letter: (dlq topic, partition, offset) -> action row."""
    query = select(dlq_actions).order_by(dlq_actions.c.id)
    with engine.connect() as conn:
        return {
            (row.dlq_topic, row.partition, row.offset): dict(row._mapping)
            for row in conn.execute(query)
        }
