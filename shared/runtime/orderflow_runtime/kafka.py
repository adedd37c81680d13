"""Kafka clients configured the way the chassis needs them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from orderflow_runtime.settings import ServiceSettings

MAX_REQUEST_BYTES = 4 * 1024 * 1024


def make_producer(settings: ServiceSettings, *, role: str = "relay") -> AIOKafkaProducer:
    """An idempotent producer (acks=all): retries never duplicate or reorder a partition."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-{role}",
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=512 * 1024,
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=30_000,
    )


def make_consumer(settings: ServiceSettings) -> AIOKafkaConsumer:
    """A consumer of the service's own group that commits only what was applied.

    The inbox subscribes it (with its rebalance listener).
    """
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-inbox",
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.inbox_max_records,
        fetch_max_wait_ms=settings.inbox_fetch_max_wait_ms,
        fetch_min_bytes=settings.inbox_fetch_min_bytes,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
    )


async def ensure_topics(bootstrap_servers: str, names: Iterable[str], *, partitions: int) -> None:
    """Create the topics that do not exist yet (replication 1 on one broker, else 3)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        brokers = len((await admin.describe_cluster())["brokers"])
        replication = 1 if brokers < 3 else 3
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication)
            for name in dict.fromkeys(names)
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()
