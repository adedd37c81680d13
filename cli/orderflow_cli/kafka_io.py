"""Reading and writing Kafka for the tools: partitions, offset ranges, an idempotent producer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from orderflow_events import ALL_TOPICS, dlq_topic

from orderflow_cli.records import RecordView, view_of

Ranges = dict[TopicPartition, tuple[int, int]]
"""Partition -> [start, end) offsets to read."""


def shop_topics(namespace: str, *, dead_letters: bool = True) -> list[str]:
    """The six event topics of the shop in `namespace` (and their dead-letter topics)."""
    names = [*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS)] if dead_letters else ALL_TOPICS
    return [f"{namespace}{name}" for name in names]


def full_topic(namespace: str, name: str) -> str:
    """`name` on the cluster: the namespace is prefixed unless `name` already has it."""
    return name if namespace and name.startswith(namespace) else f"{namespace}{name}"


@asynccontextmanager
async def reader(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A group-less consumer (assign and seek only; it commits nothing)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


@asynccontextmanager
async def writer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer (acks=all): what it sends arrives once, in order per partition."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """The partitions of those `topics` that exist (others are left out)."""
    metadata = await consumer._client.fetch_all_metadata()  # topics we do not subscribe to
    return [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(metadata.partitions_for_topic(topic) or ())
    ]


async def whole(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> Ranges:
    """Everything there is now on `partitions`: [log start, end)."""
    if not partitions:
        return {}
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    return {tp: (starts[tp], ends[tp]) for tp in partitions if ends[tp] > starts[tp]}


async def read(
    consumer: AIOKafkaConsumer, ranges: Ranges, advance: Callable[[int], None] | None = None
) -> AsyncIterator[RecordView]:
    """The records of `ranges`, in offset order per partition; `advance(n)` after each batch."""
    pending = {tp: span for tp, span in ranges.items() if span[1] > span[0]}
    if not pending:
        return
    consumer.assign(list(pending))
    for tp, (start, _end) in pending.items():
        consumer.seek(tp, start)
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
        for tp, records in batches.items():
            end = pending.get(tp, (0, 0))[1]
            wanted = [r for r in records if r.offset < end]
            for record in wanted:
                yield view_of(record)
            if advance is not None:
                advance(len(wanted))
            if records and records[-1].offset + 1 >= end:
                pending.pop(tp, None)
                consumer.pause(tp)
        for tp in list(pending):  # compacted or transactional gaps: done once past the end
            if await consumer.position(tp) >= pending[tp][1]:
                pending.pop(tp)
