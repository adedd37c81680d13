"""Reading topics and consumer-group progress straight from the broker, for assertions."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the start, once `at_least` arrived and it went quiet."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        consumer.assign(await _partitions(consumer, topic, deadline))
        await consumer.seek_to_beginning()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            if not batch and len(records) >= at_least:
                return records
        raise AssertionError(f"{topic}: {len(records)} records after {timeout}s, wanted {at_least}")
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, deadline: float
) -> list[TopicPartition]:
    """The topic's partitions, once the topic exists."""
    while time.monotonic() < deadline:
        if topic in await consumer.topics():
            metadata = await consumer._client.fetch_all_metadata()
            if found := metadata.partitions_for_topic(topic):
                return [TopicPartition(topic, p) for p in sorted(found)]
        await asyncio.sleep(0.2)
    raise AssertionError(f"topic {topic} never appeared")


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of `topic` the consumer group has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        tps = await _partitions(consumer, topic, time.monotonic() + 30)
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


async def wait_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    lag = -1
    while time.monotonic() < deadline:
        try:
            lag = await group_lag(bootstrap, group, topic)
        except KafkaError:  # e.g. the group coordinator is still being elected
            lag = -1
        if lag == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"group {group} still {lag} records behind on {topic}")
