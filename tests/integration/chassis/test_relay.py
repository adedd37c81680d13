"""The outbox relay on a real broker: exactly the stored events, in order, crash or not."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
from aiokafka.structs import ConsumerRecord
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_events import ORDERS_EVENTS, OrderPlaced, from_record
from orderflow_runtime.relay import event_id_of
from orderflow_runtime.store import RELAY_TRACKING_NAME

from .conftest import ProbeEnv

pytestmark = pytest.mark.integration


def applied_by_position_dedup(records: list[ConsumerRecord[bytes, bytes]]) -> list[int]:
    """The sequences an inbox would apply: per partition, only those past the last applied."""
    last: dict[int, int] = defaultdict(int)
    applied = []
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        sequence = from_record(record.key, record.value, record.headers).sequence
        assert sequence is not None
        if sequence > last[record.partition]:
            last[record.partition] = sequence
            applied.append(sequence)
    return applied


async def test_relay_publishes_exactly_the_stored_events_in_order(probe: ProbeEnv) -> None:
    # Given 600 orders stored before the relay runs
    store = probe.source_store()
    store.place(600)
    stored = store.process_recorder.select_notifications(start=0, limit=10_000)
    store.close()

    # When the source service (its relay) runs
    probe.process("source").start()
    records = await read_topic(probe.kafka_bootstrap, probe.topic(ORDERS_EVENTS), at_least=600)

    # Then each stored event is on the topic once, keyed by its order, in store order
    assert len(records) == 600
    envelopes = [from_record(r.key, r.value, r.headers) for r in records]
    assert sorted(e.sequence or 0 for e in envelopes) == [n.id for n in stored]
    by_sequence = {n.id: n for n in stored}
    for record, envelope in zip(records, envelopes, strict=True):
        assert isinstance(envelope.data, OrderPlaced)
        assert record.key == str(envelope.data.order_id).encode()
        assert envelope.subject == envelope.correlation_id == str(envelope.data.order_id)
        notification = by_sequence[envelope.sequence or 0]
        assert envelope.id == event_id_of("/services/probe-source", notification.originator_id, 1)
    assert len({e.data.order_id for e in envelopes if isinstance(e.data, OrderPlaced)}) == 600
    per_partition: dict[int, list[int]] = defaultdict(list)
    for record, envelope in zip(records, envelopes, strict=True):
        per_partition[record.partition].append(envelope.sequence or 0)
    for sequences in per_partition.values():
        assert sequences == sorted(sequences), "a partition's events are out of store order"


async def test_relay_killed_mid_stream_loses_nothing(probe: ProbeEnv) -> None:
    # Given a relay publishing while orders keep being stored
    probe.overrides["PROBE_RELAY_BATCH_SIZE"] = "50"
    # the position saved every 0.1 s: the kill lands mid-stream, with batches published
    # since the last save (published again after the restart)
    probe.overrides["PROBE_RELAY_POSITION_INTERVAL_S"] = "0.1"
    store = probe.source_store()
    store.place(200)
    relay = probe.process("source").start()
    placing = threading.Thread(
        target=lambda: [store.place(100) or time.sleep(0.05) for _ in range(30)]
    )
    placing.start()

    # When the relay's process is SIGKILLed mid-stream, then restarted
    relay.wait_until(lambda: store.position(RELAY_TRACKING_NAME) >= 400, timeout=60, what="relay")
    relay.kill()
    position_at_kill = store.position(RELAY_TRACKING_NAME)
    placing.join()
    total = store.max_notification_id()
    assert position_at_kill < total, "the kill should land before the relay caught up"
    relay.start()
    relay.wait_until(lambda: store.position(RELAY_TRACKING_NAME) == total, timeout=60, what="drain")

    # Then every stored event was published, and dropping re-published ones loses none
    records = await read_topic(probe.kafka_bootstrap, probe.topic(ORDERS_EVENTS), at_least=total)
    sequences = [from_record(r.key, r.value, r.headers).sequence for r in records]
    stored_ids = [n.id for n in store.process_recorder.select_notifications(start=0, limit=100_000)]
    assert set(sequences) == set(stored_ids)
    assert sorted(applied_by_position_dedup(records)) == stored_ids
    store.close()
