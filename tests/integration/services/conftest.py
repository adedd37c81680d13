"""Fixtures for one service at a time on the real broker and PostgreSQL.

`shop` starts services as OS processes (`shop.start("payment")`), publishes
upstream events into their topics (`await shop.publish(event)`) and reads what
they publish (`await shop.wait_for(topic, predicate)`). Each test gets its own
topic namespace and databases, so tests never see each other's events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_devinfra.processes import ServiceProcess
from orderflow_devinfra.shop import ServiceConfig, free_port
from orderflow_events import Envelope, IntegrationEvent, from_record, to_record

ADMIN_KEY = "test-admin-key"


@dataclass
class RunningService:
    config: ServiceConfig
    process: ServiceProcess

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"X-API-Key": ADMIN_KEY}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@dataclass
class Shop:
    kafka_bootstrap: str
    new_database: Callable[[], str]
    tmp: Path
    namespace: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    services: dict[str, RunningService] = field(default_factory=dict)
    _sequences: dict[str, int] = field(default_factory=dict)

    def start(self, service: str, **settings: str) -> RunningService:
        """Start `service` on a fresh PostgreSQL database; wait until it is ready."""
        config = ServiceConfig(
            service=service,
            kafka_bootstrap=self.kafka_bootstrap,
            http_port=free_port(),
            admin_api_key=ADMIN_KEY,
            namespace=self.namespace,
            database_url=self.new_database(),
            extra={k.upper(): v for k, v in settings.items()},
        )
        running = RunningService(config, config.process(self.tmp).start())
        self.services[service] = running
        wait_ready(running)
        return running

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"

    async def publish(
        self, event: IntegrationEvent, *, event_id: str | None = None, sequence: int | None = None
    ) -> str:
        """Publish `event` as its producer would (the next `ce_sequence` of its topic)."""
        if sequence is None:
            sequence = self._sequences.get(event.topic, 0) + 1
        self._sequences[event.topic] = max(sequence, self._sequences.get(event.topic, 0))
        event_id = event_id or str(uuid.uuid4())
        record = to_record(event, event_id=event_id, time=datetime.now(UTC), sequence=sequence)
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.topic(record.topic), record.value, key=record.key, headers=record.headers
            )
        finally:
            await producer.stop()
        return event_id

    async def events(self, topic: str, *, at_least: int = 1, timeout: float = 30) -> list[Envelope]:
        records = await read_topic(
            self.kafka_bootstrap, self.topic(topic), at_least=at_least, timeout=timeout
        )
        return [from_record(r.key, r.value, r.headers) for r in records]

    async def wait_for(
        self, topic: str, predicate: Callable[[Envelope], bool], *, timeout: float = 30
    ) -> Envelope:
        """The first event on `topic` for which `predicate` holds (polls until `timeout`)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            try:
                found = await self.events(topic, at_least=1, timeout=2)
            except AssertionError:
                found = []
            seen = len(found)
            for envelope in found:
                if predicate(envelope):
                    return envelope
            await asyncio.sleep(0.3)
        logs = "\n".join(f"--- {s}\n{r.process.log_tail(15)}" for s, r in self.services.items())
        raise AssertionError(f"no matching event on {topic} after {timeout}s ({seen} seen)\n{logs}")


def wait_ready(service: RunningService, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with service.client() as http:
        while time.monotonic() < deadline:
            try:
                if http.get("/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if not service.process.running:
                raise AssertionError(
                    f"{service.config.service} exited:\n{service.process.log_tail()}"
                )
            time.sleep(0.2)
    raise AssertionError(f"{service.config.service} not ready:\n{service.process.log_tail()}")


@pytest.fixture
def shop(
    kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path
) -> Iterator[Shop]:
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    yield shop
    for running in shop.services.values():
        running.process.stop(grace_s=10)


def any_of(*types: type[IntegrationEvent]) -> Callable[[Envelope], bool]:
    names = {t.ce_type for t in types}
    return lambda envelope: envelope.type in names


def about(order_id: Any, *types: type[IntegrationEvent]) -> Callable[[Envelope], bool]:
    """Matches events of one order (and of the given types, if any)."""
    names = {t.ce_type for t in types}
    return lambda e: e.subject == str(order_id) and (not names or e.type in names)
