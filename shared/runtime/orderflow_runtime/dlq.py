"""Dead letters: records a consumer could not apply, with why, where from and how often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from orderflow_events import dlq_topic

from orderflow_runtime.metrics import DEAD_LETTERS

MAX_ERROR_CHARS = 500
TRUNCATED_VALUE_BYTES = 64 * 1024
MAX_LETTER_VALUE_BYTES = 960 * 1024
"""Larger values are truncated before sending, not after the broker refused them: Kafka's
default limit is 1 MiB per record batch, and a refused batch leaves the (idempotent,
shared with the relay) producer with a sequence gap that fails every later send on that
partition (OutOfOrderSequenceNumber), which crashed every consumer of a topic that got
one oversized poison record."""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    reason: str
    error: str
    attempts: int


class DeadLetterPublisher:
    """Publishes to `<topic>.dlq`, keeping the original key, value and headers."""

    def __init__(self, producer: AIOKafkaProducer, *, service: str, consumer: str) -> None:
        self._producer = producer
        self._service = service
        self._consumer = consumer

    async def publish(self, letter: DeadLetter) -> None:
        headers = [
            *(h for h in letter.headers if not h[0].startswith("dlq_")),
            ("dlq_consumer", self._consumer.encode()),
            ("dlq_reason", letter.reason.encode()),
            ("dlq_error", letter.error[:MAX_ERROR_CHARS].encode("utf-8", "replace")),
            ("dlq_attempts", str(letter.attempts).encode()),
            ("dlq_original_topic", letter.topic.encode()),
            ("dlq_original_partition", str(letter.partition).encode()),
            ("dlq_original_offset", str(letter.offset).encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        topic = dlq_topic(letter.topic)
        if len(letter.value or b"") > MAX_LETTER_VALUE_BYTES:
            value = (letter.value or b"")[:TRUNCATED_VALUE_BYTES]
            size = str(len(letter.value or b"")).encode()
            truncated = [*headers, ("dlq_truncated", b"true"), ("dlq_original_size", size)]
            await self._send(topic, letter.key, value, truncated)
            DEAD_LETTERS.labels(self._service, letter.reason).inc()
            return
        try:
            await self._send(topic, letter.key, letter.value, headers)
        except MessageSizeTooLargeError:
            value = (letter.value or b"")[:TRUNCATED_VALUE_BYTES]
            await self._send(topic, letter.key, value, [*headers, ("dlq_truncated", b"true")])
        DEAD_LETTERS.labels(self._service, letter.reason).inc()

    async def _send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        future = await self._producer.send(topic, value=value, key=key, headers=headers)
        await future
