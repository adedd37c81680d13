"""How to start orderflow's services as processes: one place for their commands and settings.

The demo, the integration tests and the benchmarks start services through this
module, so that they run the same commands with the same environment.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from orderflow_events import Envelope, IntegrationEvent, from_record, to_record

from orderflow_devinfra.kafka_reading import read_topic
from orderflow_devinfra.processes import ServiceProcess

SERVICES: tuple[str, ...] = (
    "catalog",
    "cart",
    "payment",
    "inventory",
    "fulfillment",
    "notification",
)


def service_command(service: str) -> list[str]:
    """The `python -m` arguments that run `service`."""
    return [f"orderflow_{service}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceConfig:
    """The settings one service process gets (as `<SERVICE>_*` environment variables)."""

    service: str
    kafka_bootstrap: str
    http_port: int
    admin_api_key: str
    namespace: str = ""
    database_url: str | None = None
    data_dir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)
    http_host: str = "127.0.0.1"
    """Bind address; containers (docker-compose.yml, deploy/) use 0.0.0.0."""

    def env(self) -> dict[str, str]:
        prefix = self.service.upper() + "_"
        values = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "HTTP_HOST": self.http_host,
            "HTTP_PORT": str(self.http_port),
            "ADMIN_API_KEY": self.admin_api_key,
            "TOPIC_NAMESPACE": self.namespace,
            **({"DATABASE_URL": self.database_url} if self.database_url else {}),
            **({"DATA_DIR": str(self.data_dir)} if self.data_dir else {}),
            **self.extra,
        }
        return {prefix + key: value for key, value in values.items()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def process(self, log_dir: Path, env: Mapping[str, str] | None = None) -> ServiceProcess:
        return ServiceProcess(
            self.service,
            service_command(self.service),
            {**self.env(), **(env or {})},
            log_dir / f"{self.service}.log",
        )


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
        return {"X-API-Key": self.config.admin_api_key}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@dataclass
class Shop:
    kafka_bootstrap: str
    new_database: Callable[[], str] | None
    """Makes a fresh PostgreSQL database per service; None: each service's embedded SQLite."""
    tmp: Path
    namespace: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    services: dict[str, RunningService] = field(default_factory=dict)
    replicas: list[RunningService] = field(default_factory=list)
    _sequences: dict[str, int] = field(default_factory=dict)
    admin_key: str = ADMIN_KEY
    """Every service's ADMIN_API_KEY (the soak uses a random one, to find it in logs)."""

    def start(self, service: str, **settings: str) -> RunningService:
        """Start `service` on a fresh database (or SQLite file); wait until it is ready."""
        running = self.launch(service, **settings)
        wait_ready(running)
        return running

    def start_all(self, settings: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Start the six services at once (each with `settings[service]`); wait for all."""
        settings = settings or {}
        for service in SERVICES:
            self.launch(service, **settings.get(service, {}))
        for running in self.services.values():
            wait_ready(running)

    def launch(self, service: str, **settings: str) -> RunningService:
        """Start `service` without waiting (several start in parallel; `wait_ready` each)."""
        config = ServiceConfig(
            service=service,
            kafka_bootstrap=self.kafka_bootstrap,
            http_port=free_port(),
            admin_api_key=self.admin_key,
            namespace=self.namespace,
            database_url=self.new_database() if self.new_database else None,
            data_dir=None if self.new_database else self.tmp / "data",
            extra={k.upper(): v for k, v in settings.items()},
        )
        running = RunningService(config, config.process(self.tmp).start())
        self.services[service] = running
        return running

    def add_replica(self, service: str) -> RunningService:
        """One more process of `service` on the same store and consumer group (a second pod)."""
        config = replace(self.services[service].config, http_port=free_port())
        log_dir = self.tmp / f"replica-{len(self.replicas) + 1}"
        running = RunningService(config, config.process(log_dir).start())
        self.replicas.append(running)
        wait_ready(running)
        return running

    def stop_all(self) -> None:
        for running in [*self.replicas, *self.services.values()]:
            running.process.stop(grace_s=10)

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
    """Until the service answers ready; relaunched on a new port if its port was taken.

    Ports are picked free but only bound by the child later: another process may
    take one in between (seen when several test runs share a machine).
    """
    for _ in range(3):
        if _ready_or_port_taken(service, timeout):
            return
        service.config.http_port = free_port()
        service.process = service.config.process(service.process.log_path.parent).start()
    raise AssertionError(f"{service.config.service}: no free port after 3 tries")


def _ready_or_port_taken(service: RunningService, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with service.client() as http:
        while time.monotonic() < deadline:
            try:
                if http.get("/health/ready").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if "address already in use" in service.process.log_since_start():
                service.process.kill()
                return False
            if not service.process.running:
                tail = service.process.log_tail()
                raise AssertionError(f"{service.config.service} exited:\n{tail}")
            time.sleep(0.2)
    raise AssertionError(f"{service.config.service} not ready:\n{service.process.log_tail()}")


def any_of(*types: type[IntegrationEvent]) -> Callable[[Envelope], bool]:
    names = {t.ce_type for t in types}
    return lambda envelope: envelope.type in names


def about(order_id: Any, *types: type[IntegrationEvent]) -> Callable[[Envelope], bool]:
    """Matches events of one order (and of the given types, if any)."""
    names = {t.ce_type for t in types}
    return lambda e: e.subject == str(order_id) and (not names or e.type in names)


def mail_and_delivery(mail_port: int, delivery_delay_s: str = "1") -> dict[str, dict[str, str]]:
    """Settings for `Shop.start_all`: notices to an SMTP sink, deliveries after a delay."""
    return {
        "notification": {"smtp_host": "127.0.0.1", "smtp_port": str(mail_port)},
        "fulfillment": {"delivery_delay_s": delivery_delay_s},
    }
