"""An oversized poison record is dead-lettered truncated, in one send the broker accepts.

Sending it whole first made the broker refuse the batch (MESSAGE_TOO_LARGE), which left
the idempotent producer shared with the relay with a sequence gap: the truncated retry
failed with OutOfOrderSequenceNumber and the service crashed (tests/chaos/
test_hostile_records.py found it: every consumer of the topic died, again on restart).
"""

from __future__ import annotations

import asyncio
from typing import Any

from orderflow_runtime.dlq import (
    MAX_LETTER_VALUE_BYTES,
    TRUNCATED_VALUE_BYTES,
    DeadLetter,
    DeadLetterPublisher,
)


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
        self.sent.append({"topic": topic, **record})
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def letter(value: bytes) -> DeadLetter:
    return DeadLetter(
        topic="orders.events",
        partition=3,
        offset=42,
        key=b"k",
        value=value,
        headers=(("ce_type", b"cart.order_placed.v1"),),
        reason="too_large",
        error="value of 1500000 bytes exceeds 1048576",
        attempts=1,
    )


async def test_an_oversized_value_is_truncated_before_it_is_sent() -> None:
    producer = RecordingProducer()
    publisher = DeadLetterPublisher(producer, service="cart", consumer="cart")  # type: ignore[arg-type]

    await publisher.publish(letter(b"x" * 1_500_000))

    assert len(producer.sent) == 1
    sent = producer.sent[0]
    assert sent["topic"] == "orders.events.dlq"
    assert len(sent["value"]) == TRUNCATED_VALUE_BYTES
    headers = dict(sent["headers"])
    assert headers["dlq_truncated"] == b"true"
    assert headers["dlq_original_size"] == b"1500000"
    assert headers["dlq_reason"] == b"too_large"


async def test_an_ordinary_value_is_kept_whole() -> None:
    producer = RecordingProducer()
    publisher = DeadLetterPublisher(producer, service="cart", consumer="cart")  # type: ignore[arg-type]

    await publisher.publish(letter(b"y" * MAX_LETTER_VALUE_BYTES))

    assert len(producer.sent[0]["value"]) == MAX_LETTER_VALUE_BYTES
    assert "dlq_truncated" not in dict(producer.sent[0]["headers"])
