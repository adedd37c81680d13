"""A producer whose store is wiped starts its sequence again: consumers apply its new events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from orderflow_devinfra.kafka_reading import read_topic, wait_caught_up
from orderflow_events import ORDERS_EVENTS, from_record

from .conftest import ProbeEnv

pytestmark = pytest.mark.integration


def delete_source_store(probe: ProbeEnv, database_url_factory: Callable[[], str]) -> None:
    """The source's store is gone: its SQLite files deleted, or a new PostgreSQL database."""
    if probe.source_db is not None:
        probe.source_db = database_url_factory()
        return
    path = probe.settings("source").sqlite_path
    for file in path.parent.glob(f"{path.name}*"):  # with its -wal and -shm files
        file.unlink()


async def test_a_producer_on_a_wiped_store_has_its_new_events_applied(
    probe: ProbeEnv, database_url_factory: Callable[[], str]
) -> None:
    # Given 30 orders relayed by the source and applied by the sink
    store = probe.source_store()
    store.place(30)
    store.close()
    source = probe.process("source").start()
    probe.process("sink").start()
    group, topic = probe.settings("sink").group_id, probe.topic(ORDERS_EVENTS)
    await read_topic(probe.kafka_bootstrap, topic, at_least=30)
    await wait_caught_up(probe.kafka_bootstrap, group, topic)

    # When the source's store is deleted and it restarts on a fresh one with 10 new orders
    source.stop(grace_s=10)
    delete_source_store(probe, database_url_factory)
    fresh = probe.source_store()
    fresh.place(10)
    fresh.close()
    probe.process("source").start()
    records = await read_topic(probe.kafka_bootstrap, topic, at_least=40)
    await wait_caught_up(probe.kafka_bootstrap, group, topic)

    # Then the new events reuse sequences 1 to 10 under another store id
    envelopes = [from_record(r.key, r.value, r.headers) for r in records]
    by_store: dict[str | None, list[int]] = {}
    for envelope in envelopes:
        by_store.setdefault(envelope.storeid, []).append(envelope.sequence or 0)
    assert None not in by_store
    assert sorted(sorted(sequences) for sequences in by_store.values()) == [
        list(range(1, 11)),
        list(range(1, 31)),
    ]

    # And the sink applied every event, old and new, once
    sink = probe.sink_store()
    counted = Counter(sink.counted_event_ids())
    sink.close()
    assert counted == Counter({envelope.id: 1 for envelope in envelopes})
