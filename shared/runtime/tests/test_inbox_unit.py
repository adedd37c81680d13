"""The inbox's decisions without a broker: apply once, skip duplicates, retry, dead-letter.

Records are real `ConsumerRecord`s built from `to_record`; the consumer and the
dead-letter publisher are stubs (the real broker is covered in tests/integration).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from eventsourcing.persistence import IntegrityError, OperationalError
from orderflow_events import (
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    headers_dict,
    to_record,
)
from orderflow_runtime.dlq import DeadLetter
from orderflow_runtime.inbox import Handler, Inbox
from orderflow_runtime.probe import (
    BUCKETS,
    ProbeSettings,
    ProbeSink,
    Tally,
    bucket_id,
    on_order_placed,
    sample_order,
)
from orderflow_runtime.uow import UnitOfWork
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

TOPIC = "orders.events"
Record = ConsumerRecord[bytes, bytes]
SettingsFactory = Callable[..., ProbeSettings]


class StubConsumer:
    """What the inbox asks of its consumer outside `run`: its assignment."""

    def assignment(self) -> set[TopicPartition]:
        return set()

    async def commit(self, offsets: object = None) -> None:
        raise AssertionError("process() must not commit offsets; run() does")


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def publish(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    def reasons(self) -> list[str]:
        return [letter.reason for letter in self.letters]


def make_inbox(
    sink: ProbeSink,
    settings: ProbeSettings,
    handlers: Mapping[str, Handler] | None = None,
) -> tuple[Inbox, RecordingDeadLetters]:
    dead_letters = RecordingDeadLetters()
    if handlers is None:
        handlers = {OrderPlaced.ce_type: on_order_placed}
    inbox = Inbox(sink, handlers, StubConsumer(), dead_letters, settings)  # type: ignore[arg-type]
    return inbox, dead_letters


def consumer_record(
    event: IntegrationEvent,
    sequence: int | None,
    *,
    partition: int = 0,
    offset: int | None = None,
    value: bytes | None = None,
    storeid: str | None = None,
    timestamp: int = 0,
) -> Record:
    """The record a consumer would hand over for `event`, published at `sequence`."""
    kafka = to_record(
        event,
        event_id=str(uuid.uuid4()),
        time=datetime.now(UTC),
        sequence=sequence,
        storeid=storeid,
    )
    value = kafka.value if value is None else value
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=(sequence or 0) if offset is None else offset,
        timestamp=timestamp,
        timestamp_type=0,
        key=kafka.key,
        value=value,
        checksum=None,
        serialized_key_size=len(kafka.key),
        serialized_value_size=len(value),
        headers=kafka.headers,
    )


def placed(
    sequence: int | None,
    *,
    partition: int = 0,
    email: str = "ada@example.com",
    order_id: uuid.UUID | None = None,
    storeid: str | None = None,
) -> Record:
    return consumer_record(
        sample_order(order_id or uuid.uuid4(), email=email),
        sequence,
        partition=partition,
        storeid=storeid,
    )


def event_id(record: Record) -> str:
    return headers_dict(record.headers)["ce_id"]


def applied_ids(sink: ProbeSink) -> Counter[str]:
    """How often each event was applied (a second application is a second Counted event)."""
    return Counter(sink.counted_event_ids())


def consumed(outcome: str, kind: str = OrderPlaced.ce_type) -> float:
    labels = {"service": "probe-sink", "type": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("orderflow_events_consumed_total", labels) or 0.0


def flaky(error: Exception, times: int) -> tuple[Handler, list[int]]:
    """`on_order_placed` that raises `error` on its first `times` calls; and its call log."""
    calls: list[int] = []

    def handler(envelope: object, uow: UnitOfWork) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error
        on_order_placed(envelope, uow)  # type: ignore[arg-type]

    return handler, calls


def order_in_bucket(bucket: int) -> uuid.UUID:
    while (order_id := uuid.uuid4()).int % BUCKETS != bucket:
        pass
    return order_id


@pytest.fixture
def settings(make_settings: SettingsFactory) -> ProbeSettings:
    return make_settings("sink", inbox_max_attempts=3)


# -- applied once ------------------------------------------------------------------


async def test_a_batch_is_applied_once_and_its_redelivery_is_skipped(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a batch from two partitions (each with its own sequence numbers)
    inbox, dead_letters = make_inbox(sink, settings)
    batch = [placed(seq) for seq in range(1, 6)] + [placed(seq, partition=1) for seq in (1, 2, 3)]
    duplicates_before = consumed("duplicate")

    # When it is processed, then delivered again
    await inbox.process(batch)
    await inbox.process(batch)

    # Then each event was applied once and both partitions' positions were recorded
    assert applied_ids(sink) == Counter({event_id(r): 1 for r in batch})
    assert inbox.applied == 8
    assert sink.position(f"{TOPIC}:0") == 5
    assert sink.position(f"{TOPIC}:1") == 3
    assert consumed("duplicate") - duplicates_before == 8
    assert dead_letters.letters == []


async def test_a_redelivery_overlapping_new_records_applies_only_the_new_ones(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    inbox, _ = make_inbox(sink, settings)
    first = [placed(seq) for seq in (1, 2, 3)]
    await inbox.process(first)

    # When a relay replays 2 and 3 (new ce_ids, same sequences) followed by 4 and 5
    replay = [placed(seq) for seq in (2, 3, 4, 5)]
    await inbox.process(replay)

    # Then only 4 and 5 were applied on top of the first three
    assert set(applied_ids(sink)) == {event_id(r) for r in [*first, *replay[2:]]}
    assert sink.position(f"{TOPIC}:0") == 5


async def test_positions_survive_a_restart_of_the_inbox(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    batch = [placed(seq) for seq in (1, 2)]
    first_inbox, _ = make_inbox(sink, settings)
    await first_inbox.process(batch)

    # When a new inbox (a restarted process) on a fresh store object gets the same records
    restarted = ProbeSink(sink.settings)
    second_inbox, _ = make_inbox(restarted, settings)
    await second_inbox.process(batch)
    restarted.close()

    # Then it skips them: the positions came from the store
    assert second_inbox.applied == 0
    assert len(applied_ids(sink)) == 2


# -- a producer on a new store ------------------------------------------------------

OLD_STORE, NEW_STORE = "0a1b2c3d4e5f6071", "7f6e5d4c3b2a1909"


async def test_a_new_store_of_the_producer_is_applied_from_its_first_sequence(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a partition applied up to sequence 50 of the producer's store
    inbox, dead_letters = make_inbox(sink, settings)
    old = [placed(seq, storeid=OLD_STORE) for seq in (49, 50)]
    await inbox.process(old)

    # When the producer, on a wiped store, publishes from sequence 1 again
    new = [placed(seq, storeid=NEW_STORE) for seq in (1, 2)]
    await inbox.process(new)

    # Then its new events are applied, each store's position kept apart
    assert applied_ids(sink) == Counter({event_id(r): 1 for r in [*old, *new]})
    assert sink.position(f"{TOPIC}:0:{OLD_STORE}") == 50
    assert sink.position(f"{TOPIC}:0:{NEW_STORE}") == 2
    assert dead_letters.letters == []


async def test_duplicates_within_one_store_are_still_skipped(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    inbox, _ = make_inbox(sink, settings)
    first = [placed(seq, storeid=NEW_STORE) for seq in (1, 2, 3)]
    await inbox.process(first)
    duplicates_before = consumed("duplicate")

    # When the same sequences come again (a relay replaying), with new ones after them
    replay = [placed(seq, storeid=NEW_STORE) for seq in (2, 3, 4)]
    await inbox.process(replay)

    # Then only the new one is applied
    assert set(applied_ids(sink)) == {event_id(r) for r in [*first, replay[2]]}
    assert consumed("duplicate") - duplicates_before == 2
    assert sink.position(f"{TOPIC}:0:{NEW_STORE}") == 4


async def test_records_without_a_storeid_keep_the_old_position(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given records of a producer from before it sent a storeid, then from after
    inbox, _ = make_inbox(sink, settings)
    before = [placed(seq) for seq in (49, 50)]
    after = [placed(seq, storeid=OLD_STORE) for seq in (51, 52)]

    # When both are processed, and the old ones come again
    await inbox.process([*before, *after])
    await inbox.process(before)

    # Then each was applied once, the old ones tracked under the old name
    assert applied_ids(sink) == Counter({event_id(r): 1 for r in [*before, *after]})
    assert sink.position(f"{TOPIC}:0") == 50
    assert sink.position(f"{TOPIC}:0:{OLD_STORE}") == 52


async def test_a_reassigned_partition_rereads_the_positions_of_each_store(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given an inbox that applied sequences 1 and 2 of a store (and cached its position)
    inbox, _ = make_inbox(sink, settings)
    await inbox.process([placed(seq, storeid=NEW_STORE) for seq in (1, 2)])

    # And a rival member that applied sequence 3 meanwhile, then gave the partition back
    third = placed(3, storeid=NEW_STORE)
    rival, _ = make_inbox(sink, settings)
    await rival.process([third])
    await inbox.on_partitions_assigned([TopicPartition(TOPIC, 0)])

    # When sequence 3 is redelivered to the first inbox
    with capture_logs() as logs:
        await inbox.process([third])

    # Then it knows the position moved on: a duplicate, no failed batch, applied once
    assert not [entry for entry in logs if entry["event"].startswith("batch failed")], logs
    assert inbox.applied == 2
    assert applied_ids(sink)[event_id(third)] == 1


# -- records that cannot be parsed ---------------------------------------------------


async def test_a_malformed_record_is_dead_lettered_and_the_rest_applied(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a batch whose middle record's value is not JSON
    inbox, dead_letters = make_inbox(sink, settings)
    good = [placed(1), placed(3)]
    malformed = consumer_record(sample_order(uuid.uuid4()), 2, value=b'{"order_id": ')

    # When it is processed
    await inbox.process([good[0], malformed, good[1]])

    # Then the malformed record is a dead letter, as it came, and the others were applied
    [letter] = dead_letters.letters
    assert letter.reason == "malformed_json"
    assert (letter.topic, letter.partition, letter.offset) == (TOPIC, 0, 2)
    assert (letter.key, letter.value) == (malformed.key, malformed.value)
    assert letter.headers == tuple(malformed.headers)
    assert letter.attempts == 1
    assert set(applied_ids(sink)) == {event_id(r) for r in good}
    assert sink.position(f"{TOPIC}:0") == 3


async def test_a_record_without_a_sequence_is_dead_lettered(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    inbox, dead_letters = make_inbox(sink, settings)
    unsequenced = placed(None, order_id=uuid.uuid4())

    await inbox.process([placed(1), unsequenced, placed(2)])

    assert dead_letters.reasons() == ["missing_sequence"]
    assert dead_letters.letters[0].value == unsequenced.value
    assert len(applied_ids(sink)) == 2


# -- handlers that fail --------------------------------------------------------------


async def test_a_handler_failing_every_time_is_retried_then_dead_lettered(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a handler that always fails on a poison order, between two good ones
    inbox, dead_letters = make_inbox(sink, settings)
    poison = placed(2, email="poison@example.com")
    batch = [placed(1), poison, placed(3)]

    # When the batch is processed
    await inbox.process(batch)

    # Then the poison record is dead-lettered after max attempts, the others applied once
    [letter] = dead_letters.letters
    assert letter.reason == "handler_failed"
    assert letter.attempts == settings.inbox_max_attempts == 3
    assert letter.error.startswith("ProbeHandlerError: ")
    assert (letter.offset, letter.value) == (2, poison.value)
    assert applied_ids(sink) == Counter({event_id(batch[0]): 1, event_id(batch[2]): 1})
    assert sink.position(f"{TOPIC}:0") == 3


async def test_a_dead_lettered_record_is_skipped_when_redelivered(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a poison record, last of its batch, dead-lettered
    handler, calls = flaky(RuntimeError("always"), times=1_000)
    inbox, dead_letters = make_inbox(sink, settings, {OrderPlaced.ce_type: handler})
    poison = placed(1)
    dead_lettered_before = consumed("dead_lettered")
    await inbox.process([poison])
    assert dead_letters.reasons() == ["handler_failed"]
    assert consumed("dead_lettered") - dead_lettered_before == 1
    calls_before = len(calls)

    # When Kafka redelivers it (the offset commit was lost), to this inbox or a restarted one
    await inbox.process([poison])
    restarted, _ = make_inbox(sink, settings, {OrderPlaced.ce_type: handler})
    await restarted.process([poison])

    # Then its position was recorded: the handler is not called again, no second letter
    assert sink.position(f"{TOPIC}:0") == 1
    assert len(calls) == calls_before
    assert len(dead_letters.letters) == 1


async def test_a_transient_version_conflict_is_retried_and_applied_once(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    handler, calls = flaky(IntegrityError("version conflict"), times=1)
    inbox, dead_letters = make_inbox(sink, settings, {OrderPlaced.ce_type: handler})
    batch = [placed(1), placed(2)]

    await inbox.process(batch)

    assert applied_ids(sink) == Counter({event_id(r): 1 for r in batch})
    assert dead_letters.letters == []
    assert len(calls) == 1 + 2  # the failed batch, then each record once


async def test_a_stale_cached_aggregate_conflicts_once_then_applies_on_fresh_state(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a tally this inbox applied to (and caches), then counted into by another process
    inbox, dead_letters = make_inbox(sink, settings)
    first = placed(1, order_id=order_in_bucket(7))
    await inbox.process([first])
    other = ProbeSink(sink.settings)
    tally = other.repository.get(bucket_id(7))
    tally.count_one("e-other", "o-other", 0)
    other.save(tally)
    other.close()

    # When a record for the same tally arrives: the save on the stale copy conflicts
    second = placed(2, order_id=order_in_bucket(7))
    with capture_logs() as logs:
        await inbox.process([second])

    # Then it is applied once on the reloaded tally; nothing is lost or dead-lettered
    assert any("IntegrityError" in str(entry.get("error")) for entry in logs), logs
    assert dead_letters.letters == []
    assert sink.repository.get(bucket_id(7), deepcopy_from_cache=False).count == 3
    assert applied_ids(sink) == Counter({event_id(first): 1, "e-other": 1, event_id(second): 1})


async def test_store_errors_are_retried_without_limit_and_never_dead_lettered(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    # Given a store that is away for more attempts than a record may fail
    settings = make_settings("sink", inbox_max_attempts=2)
    handler, calls = flaky(OperationalError("server closed the connection"), times=5)
    inbox, dead_letters = make_inbox(sink, settings, {OrderPlaced.ce_type: handler})
    record = placed(1)

    # When the record is processed
    await inbox.process([record])

    # Then it waited for the store and was applied once, never dead-lettered
    assert dead_letters.letters == []
    assert applied_ids(sink) == Counter({event_id(record): 1})
    assert len(calls) == 6


# -- events nobody handles -----------------------------------------------------------


async def test_events_without_a_handler_are_skipped_but_advance_the_position(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given an event type this service does not handle, after one it does
    inbox, dead_letters = make_inbox(sink, settings)
    cancelled = OrderCancelled(
        order_id=uuid.uuid4(), reason="customer", cancelled_at=datetime.now(UTC)
    )
    ignored_before = consumed("ignored", OrderCancelled.ce_type)

    # When both are processed
    await inbox.process([placed(1), consumer_record(cancelled, 2)])

    # Then the handled one is applied, the other counted as ignored, and the position is 2
    assert len(applied_ids(sink)) == 1
    assert consumed("ignored", OrderCancelled.ce_type) - ignored_before == 1
    assert sink.position(f"{TOPIC}:0") == 2
    assert dead_letters.letters == []


async def test_a_batch_of_unhandled_events_writes_nothing(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    inbox, _ = make_inbox(sink, settings, handlers={})
    commits: list[object] = []
    sink.on_saved(lambda: commits.append(None))
    record_position = sink.process_recorder.insert_events
    sink.process_recorder.insert_events = (  # type: ignore[method-assign]
        lambda *a, **k: commits.append(None) or record_position(*a, **k)
    )

    await inbox.process([placed(seq) for seq in (1, 2, 3)])

    # no transaction: applied again, such a batch would change nothing either
    assert commits == []
    assert sink.max_notification_id() == 0
    assert sink.position(f"{TOPIC}:0") == 0
    assert inbox.applied == 0

    # a batch with a handled event records the position of every record in it
    handled, _ = make_inbox(sink, settings)
    await handled.process([placed(4), placed(5)])
    assert sink.position(f"{TOPIC}:0") == 5


# -- what the handler sees -----------------------------------------------------------


async def test_events_a_handler_triggers_are_stamped_with_the_record_that_caused_them(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    from orderflow_runtime.context import context_of

    inbox, _ = make_inbox(sink, settings)
    record = placed(1)

    await inbox.process([record])

    counted = list(sink.repository.event_store.get(bucket_id_of(record)))[-1]
    assert isinstance(counted, Tally.Counted)  # type: ignore[attr-defined]
    headers = headers_dict(record.headers)
    context = context_of(counted)
    assert context.causation_id == headers["ce_id"]
    assert context.correlation_id == headers["ce_correlationid"]


def bucket_id_of(record: Record) -> uuid.UUID:
    return bucket_id(uuid.UUID(headers_dict(record.headers)["ce_subject"]).int % BUCKETS)


async def test_a_malformed_record_is_dead_lettered_once_when_its_batch_commit_fails(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a cached tally another process has counted into since (its next save conflicts)
    inbox, dead_letters = make_inbox(sink, settings)
    await inbox.process([placed(1, order_id=order_in_bucket(9))])
    other = ProbeSink(sink.settings)
    tally = other.repository.get(bucket_id(9))
    tally.count_one("e-other", "o-other", 0)
    other.save(tally)
    other.close()

    # When a batch holds a malformed record and a record for that tally
    malformed = consumer_record(sample_order(uuid.uuid4()), 2, value=b'{"order_id": ')
    await inbox.process([malformed, placed(3, order_id=order_in_bucket(9))])

    # Then the malformed record was dead-lettered once
    assert dead_letters.reasons() == ["malformed_json"]


# -- offsets ---------------------------------------------------------------------------


class ScriptedConsumer(StubConsumer):
    """Hands out the given batches one per poll, then nothing; records offset commits."""

    def __init__(self, batches: list[list[Record]]) -> None:
        self.batches = batches
        self.commits: list[dict[TopicPartition, int]] = []
        self.drained = asyncio.Event()

    async def getmany(self, timeout_ms: int = 0, max_records: int = 0) -> object:
        await asyncio.sleep(0.001)
        if not self.batches:
            self.drained.set()  # every batch was handed out and processed
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        records = self.batches.pop(0)
        grouped: dict[TopicPartition, list[Record]] = {}
        for record in records:
            grouped.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return grouped

    async def commit(self, offsets: object = None) -> None:
        assert isinstance(offsets, dict)
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


async def run_until_drained(inbox: Inbox, consumer: ScriptedConsumer) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(inbox.run(stop))
    await asyncio.wait_for(consumer.drained.wait(), timeout=10)
    stop.set()
    await task


async def test_offsets_are_committed_at_most_once_per_interval_and_on_stop(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    settings = make_settings("sink", inbox_commit_interval_s=3600)
    batches = [[placed(1, partition=0)], [placed(1, partition=1)], [placed(2, partition=0)]]
    consumer = ScriptedConsumer(batches)
    inbox = Inbox(
        sink, {OrderPlaced.ce_type: on_order_placed}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]

    await run_until_drained(inbox, consumer)

    assert len(applied_ids(sink)) == 3
    first, *rest = consumer.commits
    # (a record's offset is its sequence here; a commit names the next offset to read)
    assert first == {TopicPartition(TOPIC, 0): 2}  # the first batch: no commit before it
    assert rest == [{TopicPartition(TOPIC, 1): 2, TopicPartition(TOPIC, 0): 3}]  # on stop


async def test_offsets_are_committed_after_each_batch_when_the_interval_is_zero(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    settings = make_settings("sink", inbox_commit_interval_s=0)
    consumer = ScriptedConsumer([[placed(1)], [placed(2)]])
    inbox = Inbox(
        sink, {OrderPlaced.ce_type: on_order_placed}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]

    await run_until_drained(inbox, consumer)

    assert consumer.commits == [{TopicPartition(TOPIC, 0): 2}, {TopicPartition(TOPIC, 0): 3}]


async def test_a_batch_is_applied_in_the_order_its_records_were_produced(
    sink: ProbeSink, settings: ProbeSettings
) -> None:
    # Given a batch of two partitions whose records were produced interleaved, one of
    # them (partition 1) with a timestamp out of step (a clock that went back)
    def at(partition: int, sequence: int, timestamp: int) -> Record:
        event = sample_order(uuid.uuid4())
        return consumer_record(event, sequence, partition=partition, timestamp=timestamp)

    zero = [at(0, 1, 1000), at(0, 2, 3000), at(0, 3, 5000)]
    one = [at(1, 1, 2000), at(1, 2, 4000), at(1, 3, 3500)]
    consumer = ScriptedConsumer([zero + one])  # handed out partition by partition
    applied: list[str] = []

    def recording(envelope: Any, uow: UnitOfWork) -> None:
        applied.append(envelope.id)

    inbox = Inbox(
        sink, {OrderPlaced.ce_type: recording}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]

    # When the inbox runs
    await run_until_drained(inbox, consumer)

    # Then it applied them by time, each partition in its own order
    names = {event_id(r): f"{r.partition}:{r.offset}" for r in zero + one}
    assert [names[i] for i in applied] == ["0:1", "1:1", "0:2", "1:2", "1:3", "0:3"]


class HoldingConsumer(ScriptedConsumer):
    """Hands out batches it holds without giving the loop a turn, as aiokafka's does."""

    async def getmany(self, timeout_ms: int = 0, max_records: int = 0) -> object:
        if not self.batches:
            return await super().getmany(timeout_ms, max_records)
        batch = self.batches.pop(0)
        return {TopicPartition(TOPIC, 0): batch}


async def test_other_tasks_get_a_turn_between_batches(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    # Given five batches the consumer holds already (a backlog), and another task of the
    # loop (as the relay is) noting what it sees each time it runs
    settings = make_settings("sink", inbox_commit_interval_s=3600)
    consumer = HoldingConsumer([[placed(sequence)] for sequence in range(1, 6)])
    inbox = Inbox(
        sink, {OrderPlaced.ce_type: on_order_placed}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]
    seen: set[int] = set()

    async def watch() -> None:
        while True:
            seen.add(inbox.applied)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await run_until_drained(inbox, consumer)
    watcher.cancel()

    # Then that task ran between each batch and the next, not only once all were applied
    assert {1, 2, 3, 4} <= seen


async def test_revoked_partitions_have_their_applied_offsets_committed(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    settings = make_settings("sink", inbox_commit_interval_s=3600)
    consumer = ScriptedConsumer([])
    inbox = Inbox(
        sink, {OrderPlaced.ce_type: on_order_placed}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]
    inbox._uncommitted = {
        TopicPartition(TOPIC, 0): OffsetAndMetadata(7, ""),
        TopicPartition(TOPIC, 1): OffsetAndMetadata(9, ""),
    }

    inbox._lettered = True  # a dead letter on partition 0 awaits its commit

    await inbox.on_partitions_revoked([TopicPartition(TOPIC, 1)])

    assert consumer.commits == [{TopicPartition(TOPIC, 1): 9}]
    assert list(inbox._uncommitted) == [TopicPartition(TOPIC, 0)]
    assert inbox._lettered  # partition 0's offset still goes at the next round


async def test_a_dead_letter_has_its_offset_committed_at_once(
    sink: ProbeSink, make_settings: SettingsFactory
) -> None:
    settings = make_settings("sink", inbox_commit_interval_s=3600)
    malformed = consumer_record(sample_order(uuid.uuid4()), 3, value=b'{"order_id": ')
    consumer = ScriptedConsumer([[placed(1)], [placed(2)], [malformed], [placed(4)]])
    letters = RecordingDeadLetters()
    inbox = Inbox(sink, {OrderPlaced.ce_type: on_order_placed}, consumer, letters, settings)  # type: ignore[arg-type]

    await run_until_drained(inbox, consumer)

    assert letters.reasons() == ["malformed_json"]
    p0 = TopicPartition(TOPIC, 0)
    # the first batch, the one with the dead letter (with the batch before it), the stop
    assert consumer.commits == [{p0: 2}, {p0: 4}, {p0: 5}]


class AssignedConsumer(StubConsumer):
    """Holds the partitions it is told it holds, as aiokafka's does during a rebalance."""

    def __init__(self) -> None:
        self.held: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return set(self.held)


async def test_a_rebalance_is_logged_and_counted(sink: ProbeSink, settings: ProbeSettings) -> None:
    consumer = AssignedConsumer()
    inbox = Inbox(
        sink, {OrderPlaced.ce_type: on_order_placed}, consumer, RecordingDeadLetters(), settings
    )  # type: ignore[arg-type]
    labels = {"service": settings.service_name}
    before = REGISTRY.get_sample_value("orderflow_inbox_partitions_revoked_total", labels) or 0

    def held() -> float | None:
        return REGISTRY.get_sample_value("orderflow_inbox_assigned_partitions", labels)

    with capture_logs() as logs:
        await inbox.on_partitions_revoked([])  # a first join revokes nothing: not a rebalance
        consumer.held = {TopicPartition(TOPIC, p) for p in (0, 1, 2)}
        await inbox.on_partitions_assigned(sorted(consumer.held))
        assert held() == 3
        await inbox.on_partitions_revoked([TopicPartition(TOPIC, 1), TopicPartition(TOPIC, 0)])
        assert held() == 1  # still listed by the consumer while the listener runs

    revoked = [entry for entry in logs if entry["event"] == "partitions revoked"]
    assert [entry["partitions"] for entry in revoked] == [f"{TOPIC}:0,{TOPIC}:1"]
    assigned = [entry for entry in logs if entry["event"] == "partitions assigned"]
    assert [(entry["partitions"], entry["held"]) for entry in assigned] == [
        (f"{TOPIC}:0,{TOPIC}:1,{TOPIC}:2", 3)
    ]
    after = REGISTRY.get_sample_value("orderflow_inbox_partitions_revoked_total", labels)
    assert after == before + 2
