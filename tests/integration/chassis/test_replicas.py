"""Two replicas of a service on one store: one relay publishes, the other takes over."""

from __future__ import annotations

import pytest
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_events import ORDERS_EVENTS, from_record

from .conftest import ProbeEnv


@pytest.mark.parametrize("probe", ["postgres"], indirect=True)
async def test_only_the_leader_relays_and_a_survivor_takes_over(probe: ProbeEnv) -> None:
    # Given two source replicas on one PostgreSQL store
    first = probe.process("source", replica=1).start()
    second = probe.process("source", replica=2).start()
    store = probe.source_store()
    store.place(300)

    # Then every stored event is published once: only the leader relays
    records = await read_topic(probe.kafka_bootstrap, probe.topic(ORDERS_EVENTS), at_least=300)
    sequences = [from_record(r.key, r.value, r.headers).sequence for r in records]
    assert sorted(sequences) == list(range(1, 301))

    # When the leader is killed, the other replica takes over
    leader = next(p for p in (first, second) if '"leader": true' in p.log_since_start())
    leader.kill()
    store.place(200)
    records = await read_topic(
        probe.kafka_bootstrap, probe.topic(ORDERS_EVENTS), at_least=500, timeout=60
    )
    assert {from_record(r.key, r.value, r.headers).sequence for r in records} == set(range(1, 501))
    store.close()
