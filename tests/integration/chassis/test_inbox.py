"""The idempotent inbox on a real broker: duplicates, poison records, restarts."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from orderflow_devinfra.kafka_reading import read_topic, wait_caught_up
from orderflow_events import ORDERS_EVENTS, dlq_topic, headers_dict, to_record
from orderflow_runtime.probe import sample_order

from .conftest import ProbeEnv

pytestmark = pytest.mark.integration


def assert_each_applied_once(probe: ProbeEnv, expected: int) -> None:
    sink = probe.sink_store()
    counted = Counter(sink.counted_event_ids())
    sink.close()
    duplicates = {event_id: n for event_id, n in counted.items() if n > 1}
    assert not duplicates, f"applied more than once: {list(duplicates.items())[:5]}"
    assert len(counted) == expected


async def test_events_published_twice_are_applied_once(probe: ProbeEnv) -> None:
    # Given 500 orders relayed and applied
    store = probe.source_store()
    store.place(500)
    store.close()
    probe.process("source").start()
    probe.process("sink").start()
    group, topic = probe.settings("sink").group_id, probe.topic(ORDERS_EVENTS)
    records = await read_topic(probe.kafka_bootstrap, topic, at_least=500)
    await wait_caught_up(probe.kafka_bootstrap, group, topic)

    # When every record is published again (as a relay replaying after a crash would)
    producer = AIOKafkaProducer(bootstrap_servers=probe.kafka_bootstrap)
    await producer.start()
    for record in records:
        await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
    await producer.stop()
    await wait_caught_up(probe.kafka_bootstrap, group, topic)

    # Then the sink applied each event once
    assert_each_applied_once(probe, 500)


async def test_poison_records_are_dead_lettered_and_the_partition_keeps_flowing(
    probe: ProbeEnv,
) -> None:
    # Given a sink that gives up on a record after 3 attempts
    probe.overrides["PROBE_INBOX_MAX_ATTEMPTS"] = "3"
    probe.process("sink").start()
    topic = probe.topic(ORDERS_EVENTS)
    order_id = uuid.uuid4()  # one key: everything below lands on one partition, in this order

    def record(sequence: int, email: str = "ada@example.com") -> tuple[bytes, bytes, list]:
        event = sample_order(order_id, email=email)
        r = to_record(event, event_id=str(uuid.uuid4()), time=datetime.now(UTC), sequence=sequence)
        return r.key, r.value, r.headers

    good_before = [record(seq) for seq in range(1, 6)]
    malformed = (good_before[0][0], b'{"order_id": ', good_before[0][2])
    failing = record(6, email="poison@example.com")
    good_after = [record(seq) for seq in range(7, 12)]

    # When a malformed record and one its handler keeps failing on sit between good ones
    producer = AIOKafkaProducer(bootstrap_servers=probe.kafka_bootstrap)
    await producer.start()
    for key, value, headers in [*good_before, malformed, failing, *good_after]:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    await producer.stop()
    await wait_caught_up(probe.kafka_bootstrap, probe.settings("sink").group_id, topic)

    # Then both are in the DLQ with their reasons and the good ones after them were applied
    letters = await read_topic(probe.kafka_bootstrap, dlq_topic(topic), at_least=2)
    reasons = {headers_dict(r.headers)["dlq_reason"]: headers_dict(r.headers) for r in letters}
    assert set(reasons) == {"malformed_json", "handler_failed"}
    assert reasons["handler_failed"]["dlq_attempts"] == "3"
    assert "ProbeHandlerError" in reasons["handler_failed"]["dlq_error"]
    assert reasons["malformed_json"]["dlq_consumer"] == probe.settings("sink").group_id
    assert reasons["malformed_json"]["dlq_original_topic"] == topic
    assert_each_applied_once(probe, 10)


async def test_consumer_killed_mid_topic_resumes_without_reapplying(probe: ProbeEnv) -> None:
    # Given 4000 orders on the topic and a sink taking them 100 at a time
    probe.overrides["PROBE_INBOX_MAX_RECORDS"] = "100"
    store = probe.source_store()
    store.place(4000)
    store.close()
    probe.process("source").start()
    sink = probe.process("sink").start()
    topic, group = probe.topic(ORDERS_EVENTS), probe.settings("sink").group_id
    sink_store = probe.sink_store()

    # When the sink is SIGKILLed mid-topic, restarted, stopped gracefully and restarted
    sink.wait_until(lambda: sink_store.max_notification_id() >= 800, timeout=60, what="progress")
    sink.kill()
    applied_at_kill = sink_store.max_notification_id()
    sink.start()
    sink.wait_until(
        lambda: sink_store.max_notification_id() >= applied_at_kill + 800,
        timeout=60,
        what="progress after restart",
    )
    assert sink.stop() == 0, sink.log_tail()
    sink.start()
    await wait_caught_up(probe.kafka_bootstrap, group, topic, timeout=90)
    sink_store.close()

    # Then every event was applied exactly once
    assert applied_at_kill < 4000 + 64
    assert_each_applied_once(probe, 4000)
