"""A dead letter sent back by `orderflow dlq redrive` is applied once, though it is old."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from orderflow_events import to_record
from orderflow_runtime.dlq import DeadLetter
from orderflow_runtime.inbox import REDRIVEN_HEADER, Inbox
from orderflow_runtime.probe import ProbeSettings, ProbeSink, on_order_placed, sample_order


class Consumer:
    def assignment(self) -> set[Any]:
        return set()


class Letters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def publish(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


def record(sequence: int, offset: int, *, event_id: str, redriven: bool = False) -> Any:
    kafka = to_record(
        sample_order(uuid.UUID(int=sequence)),
        event_id=event_id,
        time=datetime.now(UTC),
        sequence=sequence,
    )
    headers = [*kafka.headers, *([(REDRIVEN_HEADER, b"orders.events.dlq/0/7")] if redriven else [])]
    return ConsumerRecord(
        topic="orders.events",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=kafka.key,
        value=kafka.value,
        checksum=None,
        serialized_key_size=len(kafka.key),
        serialized_value_size=len(kafka.value),
        headers=headers,
    )


async def test_a_redriven_record_is_applied_once(tmp_path: Path) -> None:
    settings = ProbeSettings(service_name="probe-sink", data_dir=tmp_path)
    sink = ProbeSink(settings)
    inbox = Inbox(sink, {"orders.placed.v1": on_order_placed}, Consumer(), Letters(), settings)  # type: ignore[arg-type]
    old_id, new_id = str(uuid.uuid4()), str(uuid.uuid4())

    # Given the partition moved past sequence 5 (which was dead-lettered at the time)
    await inbox.process([record(6, 1, event_id=new_id)])
    # When sequence 5 comes back redriven, twice (a redrive run twice, or a redelivery)
    await inbox.process([record(5, 2, event_id=old_id, redriven=True)])
    await inbox.process([record(5, 3, event_id=old_id, redriven=True)])
    # And a plain (not redriven) copy of it arrives: it is an ordinary duplicate
    await inbox.process([record(5, 4, event_id=old_id)])

    # Then it was applied exactly once, and the partition's position did not move back
    assert sorted(sink.counted_event_ids()) == sorted([new_id, old_id])
    assert sink.position("orders.events:0") == 6
