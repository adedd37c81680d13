"""The timeline of one order: its events on every topic, in causal order.

`orderflow timeline ORDER_ID` reads the archive (an indexed lookup by correlation
id); `order_timeline` scans the topics on the broker instead (the demo uses it: it
needs no archive, but reads every record).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from orderflow_events import ALL_TOPICS, Envelope, InvalidRecord, from_record
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from orderflow_cli.archive_db import engine_for, timeline_rows
from orderflow_cli.options import (
    DEFAULT_URL,
    AsJson,
    DatabaseUrl,
    Namespace,
    fail,
    out,
    print_json,
)


class Causal(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def causation_id(self) -> str | None: ...


C = TypeVar("C", bound=Causal)


@dataclass(frozen=True)
class TimelineEvent:
    """One step of a timeline. A dead letter is a step of its own, caused by its event."""

    id: str
    """Unique in the timeline: the ce_id, or `<ce_id>@<dlq coordinates>` for a dead letter."""
    event_id: str
    type: str
    producer: str
    time: datetime
    causation_id: str | None
    topic: str = ""
    partition: int = -1
    offset: int = -1
    sequence: int | None = None
    dead_letter: dict[str, str] | None = None


def causal_order(events: Sequence[C]) -> list[C]:
    """By time, but never an event before the one that caused it (causes first)."""
    by_id = {e.id: e for e in events}
    placed: list[C] = []
    done: set[str] = set()
    for event in sorted(events, key=lambda e: e.time):
        chain: list[C] = []
        node: C | None = event
        while node is not None and node.id not in done:  # walk up to the first placed cause
            done.add(node.id)
            chain.append(node)
            node = by_id.get(node.causation_id or "")
        placed.extend(reversed(chain))
    return placed


def from_row(row: dict[str, Any]) -> TimelineEvent:
    """A timeline step from an archive row (see archive_db.timeline_rows)."""
    headers: dict[str, str] = row["headers"] or {}
    when = row["time"] if row["time"].tzinfo else row["time"].replace(tzinfo=UTC)
    event_id = row["ce_id"] or f"{row['topic']}:{row['partition']}:{row['offset']}"
    common: dict[str, Any] = {
        "event_id": event_id,
        "type": row["type"] or "?",
        "producer": (row["source"] or "?").rsplit("/", 1)[-1],
        "topic": row["topic"],
        "partition": row["partition"],
        "offset": row["offset"],
        "sequence": row["sequence"],
    }
    if "dlq_consumer" not in headers:
        return TimelineEvent(id=event_id, time=when, causation_id=row["causation_id"], **common)
    failed_at = _parse(headers.get("dlq_failed_at")) or when
    letter = {k[4:]: v for k, v in headers.items() if k.startswith("dlq_")}
    coordinates = f"{row['topic']}:{row['partition']}:{row['offset']}"
    return TimelineEvent(
        id=f"{event_id}@{coordinates}",
        time=failed_at,
        causation_id=event_id,
        dead_letter=letter,
        **common,
    )


def _parse(text: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=UTC)


def archive_timeline(engine: Engine, order_id: str, namespace: str = "") -> list[TimelineEvent]:
    """The order's steps from the archive, in causal order (the query + ordering function).

    An archive may hold several namespaces' topics: only those of `namespace` count.
    """
    rows = timeline_rows(engine, order_id)
    return causal_order([from_row(r) for r in rows if r["topic"].startswith(namespace)])


def from_envelope(event: Envelope) -> TimelineEvent:
    return TimelineEvent(
        id=event.id,
        event_id=event.id,
        type=event.type,
        producer=event.source.rsplit("/", 1)[-1],
        time=event.time,
        causation_id=event.causation_id,
        sequence=event.sequence,
    )


def as_dicts(steps: Sequence[TimelineEvent]) -> list[dict[str, Any]]:
    """JSON-able steps with the gap to the previous step and to the cause, in ms."""
    by_id = {s.id: s for s in steps}
    result, previous = [], None
    for step in steps:
        cause = by_id.get(step.causation_id or "")
        result.append(
            {
                "id": step.event_id,
                "type": step.type,
                "producer": step.producer,
                "time": step.time.isoformat().replace("+00:00", "Z"),
                "gap_ms": None if previous is None else _ms(step.time - previous.time),
                "caused_by": step.causation_id,
                "caused_by_type": cause.type if cause else None,
                "since_cause_ms": None if cause is None else _ms(step.time - cause.time),
                "topic": step.topic,
                "partition": step.partition,
                "offset": step.offset,
                "sequence": step.sequence,
                "dead_letter": step.dead_letter,
            }
        )
        previous = step
    return result


def _ms(delta: Any) -> float:
    return round(float(delta.total_seconds()) * 1000, 3)


def timeline(
    order_id: Annotated[str, typer.Argument(help="The order id (the correlation id).")],
    database_url: DatabaseUrl = DEFAULT_URL,
    namespace: Namespace = "",
    as_json: AsJson = False,
) -> None:
    """Every event of one order across the six services, from the archive, causes first."""
    engine = engine_for(database_url)
    started = time.perf_counter()
    steps = archive_timeline(engine, order_id, namespace)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if as_json:
        print_json({"order_id": order_id, "events": as_dicts(steps), "query_ms": elapsed_ms})
        return
    if not steps:
        fail(f"no archived event of order {order_id} (is `orderflow archive run` running?)")
    print_steps(order_id, steps, out)
    out.print(f"{len(steps)} events, looked up in {elapsed_ms} ms")


def print_steps(order_id: str, steps: Sequence[TimelineEvent], console: Console) -> None:
    table = Table(title=f"timeline of order {order_id}")
    for column in ("time (UTC)", "+ms", "producer", "event", "caused by", "after cause"):
        table.add_column(column, overflow="fold")
    for step, row in zip(steps, as_dicts(steps), strict=True):
        event = row["type"]
        if row["dead_letter"]:
            letter = row["dead_letter"]
            event = f"[red]DEAD LETTER[/red] {event} in {letter.get('consumer')}: "
            event += f"{letter.get('reason')}"
        table.add_row(
            step.time.strftime("%m-%d %H:%M:%S.%f")[:-3],
            "" if row["gap_ms"] is None else f"{row['gap_ms']:,.0f}",
            row["producer"],
            event,
            row["caused_by_type"] or "-",
            "" if row["since_cause_ms"] is None else f"{row['since_cause_ms']:,.0f} ms",
        )
    console.print(table)


def print_timeline(order_id: str, events: list[Envelope]) -> None:
    """The demo's table of a broker-scanned timeline."""
    print_steps(order_id, [from_envelope(e) for e in events], Console(width=160))


async def order_timeline(bootstrap: str, namespace: str, order_id: str) -> list[Envelope]:
    """Every event of `order_id` on the six topics, oldest first (a full scan of the topics)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    found: list[Envelope] = []
    try:
        # Metadata of topics we do not subscribe to: aiokafka only fetches it on request.
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(f"{namespace}{topic}", p)
            for topic in ALL_TOPICS
            for p in metadata.partitions_for_topic(f"{namespace}{topic}") or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key != order_id.encode():
                        continue
                    try:
                        found.append(from_record(record.key, record.value, record.headers))
                    except InvalidRecord:
                        continue
    finally:
        await consumer.stop()
    return causal_order(found)
