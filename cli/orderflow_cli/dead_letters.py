"""Dead letters as the `dlq` commands see them: read from `<topic>.dlq`, fates from the audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from orderflow_events import dlq_topic

from orderflow_cli.kafka_io import full_topic, partitions_of, read, reader, shop_topics, whole
from orderflow_cli.records import RecordView, to_line

REDRIVEN_HEADER = "orderflow_redriven"
Coordinates = tuple[str, int, int]


@dataclass(frozen=True)
class DeadLetter:
    record: RecordView
    fate: dict[str, Any] | None = field(default=None)

    @property
    def coordinates(self) -> Coordinates:
        r = self.record
        return (r.topic, r.partition, r.offset)

    @property
    def original_topic(self) -> str:
        topic = self.record.header("dlq_original_topic")
        return topic or self.record.topic.removesuffix(".dlq")

    @property
    def original_partition(self) -> int | None:
        text = self.record.header("dlq_original_partition")
        return int(text) if text and text.isdigit() else None

    def summary(self) -> dict[str, Any]:
        h = self.record.header
        return {
            "topic": self.record.topic,
            "partition": self.record.partition,
            "offset": self.record.offset,
            "failed_at": h("dlq_failed_at"),
            "consumer": h("dlq_consumer"),
            "reason": h("dlq_reason"),
            "error": h("dlq_error"),
            "attempts": int(h("dlq_attempts") or 0),
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": _int(h("dlq_original_offset")),
            "event_id": h("ce_id"),
            "event_type": h("ce_type"),
            "order_id": h("ce_subject"),
            "fate": _fate(self.fate),
        }

    def full(self) -> dict[str, Any]:
        return {**self.summary(), "record": to_line(self.record)}

    def redrive_headers(self) -> list[tuple[str, bytes]]:
        """The original headers (without the dead-letter ones) plus where it was redriven from."""
        kept = [
            (name, value)
            for name, value in self.record.headers
            if not name.startswith("dlq_") and name != REDRIVEN_HEADER
        ]
        return [*kept, (REDRIVEN_HEADER, self.record.coordinates.encode())]


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def _fate(action: dict[str, Any] | None) -> dict[str, Any] | None:
    if action is None:
        return None
    at: datetime = action["at"]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone; we store UTC
    return {
        "action": action["action"],
        "who": action["who"],
        "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "target": action.get("target"),
    }


def dlq_name(namespace: str, topic: str) -> str:
    """`payment.events`, `payment.events.dlq` or a namespaced name -> the DLQ topic."""
    name = full_topic(namespace, topic)
    return name if name.endswith(".dlq") else dlq_topic(name)


def parse_coordinates(args: Sequence[str], namespace: str) -> list[Coordinates]:
    """`TOPIC PARTITION OFFSET ...` -> coordinates; raises ValueError when malformed."""
    if len(args) % 3:
        raise ValueError("give TOPIC PARTITION OFFSET triples")
    found = []
    for i in range(0, len(args), 3):
        topic, partition, offset = args[i : i + 3]
        if not (partition.isdigit() and offset.isdigit()):
            raise ValueError(f"partition and offset must be numbers: {partition} {offset}")
        found.append((dlq_name(namespace, topic), int(partition), int(offset)))
    return found


async def read_letters(
    bootstrap: str, topics: Sequence[str], advance: Any = None
) -> list[DeadLetter]:
    """Every record on the dead-letter `topics`, oldest first per partition."""
    async with reader(bootstrap) as consumer:
        ranges = await whole(consumer, await partitions_of(consumer, topics))
        return [DeadLetter(view) async for view in read(consumer, ranges, advance)]


async def read_at(bootstrap: str, coordinates: Sequence[Coordinates]) -> list[DeadLetter]:
    """The dead letters at `coordinates`; raises LookupError naming one that is not there."""
    wanted = set(coordinates)
    ranges: dict[TopicPartition, tuple[int, int]] = {}
    for topic, partition, offset in wanted:
        tp = TopicPartition(topic, partition)
        low, high = ranges.get(tp, (offset, offset + 1))
        ranges[tp] = (min(low, offset), max(high, offset + 1))
    async with reader(bootstrap) as consumer:
        spans = await whole(consumer, await partitions_of(consumer, {t for t, _, _ in wanted}))
        for topic, partition, offset in sorted(wanted):
            start, end = spans.get(TopicPartition(topic, partition), (0, 0))
            if not start <= offset < end:
                raise LookupError(f"no record at {topic}:{partition}:{offset}")
        found = {
            (v.topic, v.partition, v.offset): DeadLetter(v)
            async for v in read(consumer, ranges)
            if (v.topic, v.partition, v.offset) in wanted
        }
    return [found[c] for c in coordinates if c in found]


def all_dlq_topics(namespace: str) -> list[str]:
    return [t for t in shop_topics(namespace) if t.endswith(".dlq")]
