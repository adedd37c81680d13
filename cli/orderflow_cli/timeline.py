"""The timeline of one order: its events on every topic, in causal order."""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from orderflow_events import ALL_TOPICS, Envelope, InvalidRecord, from_record
from rich.console import Console
from rich.table import Table


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


def causal_order(events: list[Envelope]) -> list[Envelope]:
    """By time, but never an event before the one that caused it."""
    by_id = {e.id: e for e in events}
    placed: list[Envelope] = []
    done: set[str] = set()

    def place(event: Envelope) -> None:
        if event.id in done:
            return
        done.add(event.id)
        cause = by_id.get(event.causation_id or "")
        if cause is not None:
            place(cause)
        placed.append(event)

    for event in sorted(events, key=lambda e: e.time):
        place(event)
    return placed


def print_timeline(order_id: str, events: list[Envelope]) -> None:
    table = Table(title=f"timeline of order {order_id}")
    for column in ("time (UTC)", "+ms", "producer", "event", "caused by"):
        table.add_column(column)
    previous: datetime | None = None
    names = {e.id: e.type for e in events}
    for event in events:
        gap = "" if previous is None else f"{(event.time - previous).total_seconds() * 1000:,.0f}"
        table.add_row(
            event.time.strftime("%H:%M:%S.%f")[:-3],
            gap,
            event.source.rsplit("/", 1)[-1],
            event.type,
            names.get(event.causation_id or "", "-"),
        )
        previous = event.time
    Console(width=160).print(table)
