"""A service started while the broker is down waits for it instead of exiting.

Found by the fault-injection soak (orderflow_devinfra.chaos): a service restarted during
the broker's restart exited at once (ensure_topics: "Unable to bootstrap"), one more
crash for the orchestrator to recover from.
"""

from __future__ import annotations

import time

import pytest
from orderflow_devinfra import LocalKafka

from .conftest import ProbeEnv


@pytest.mark.parametrize("probe", ["sqlite"], indirect=True)
def test_a_service_started_without_a_broker_waits_for_it(
    probe: ProbeEnv, local_kafka: LocalKafka
) -> None:
    # Given the private broker is down
    probe.kafka_bootstrap = local_kafka.bootstrap_servers
    local_kafka.stop()

    # When a service starts, it keeps running (not ready) while the broker is away
    sink = probe.process("sink").start()
    time.sleep(6)
    assert sink.running, sink.log_tail()
    assert "Kafka unreachable at start" in sink.log_since_start()

    # Then it starts for real once the broker is back
    local_kafka.start()
    sink.wait_until(
        lambda: "service started" in sink.log_since_start(), timeout=60, what="service started"
    )
    assert sink.running
