"""The inbox's consumer takes its fetch settings from the service's settings."""

from __future__ import annotations

import pytest
from orderflow_runtime.kafka import make_consumer
from orderflow_runtime.probe import ProbeSettings
from pydantic import ValidationError


async def test_the_consumer_fetch_wait_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_INBOX_FETCH_MAX_WAIT_MS", "250")

    consumer = make_consumer(ProbeSettings(service_name="probe"))
    await consumer.stop()  # never started: only marks it closed

    # aiokafka keeps it unexposed; this is what it puts in every FetchRequest.
    assert consumer._fetch_max_wait_ms == 250


async def test_by_default_a_fetch_waits_100_ms_at_most() -> None:
    consumer = make_consumer(ProbeSettings(service_name="probe"))
    await consumer.stop()

    assert consumer._fetch_max_wait_ms == 100


def test_a_fetch_wait_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_INBOX_FETCH_MAX_WAIT_MS", "0")  # a busy loop of empty fetches

    with pytest.raises(ValidationError, match="inbox_fetch_max_wait_ms"):
        ProbeSettings(service_name="probe")


async def test_the_consumer_gathers_the_bytes_the_setting_asks_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBE_INBOX_FETCH_MIN_BYTES", "65536")

    consumer = make_consumer(ProbeSettings(service_name="probe"))
    await consumer.stop()

    assert consumer._fetch_min_bytes == 65536


async def test_by_default_a_fetch_is_answered_at_the_first_record() -> None:
    consumer = make_consumer(ProbeSettings(service_name="probe"))
    await consumer.stop()

    assert consumer._fetch_min_bytes == 1
