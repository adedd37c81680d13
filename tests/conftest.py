"""Shared fixtures: a real Kafka broker and PostgreSQL, started lazily, once per session.

Nothing starts unless a test asks for one of these fixtures, so plain unit tests stay fast.
Where they come from: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` if set, else
testcontainers if a Docker engine answers, else local processes (see orderflow_devinfra).
Unavailable infrastructure fails the test: it is never skipped.

- ``infra``: the session's started :class:`Infrastructure`;
- ``kafka_bootstrap``: ``"127.0.0.1:PORT"``;
- ``database_url_factory``: ``make() -> url`` of a fresh empty database (dropped afterwards);
- ``database_url``: one fresh database for this test;
- ``local_kafka`` / ``local_postgres``: a private broker / server for this test only, for
  fault injection (kill, restart, pause) without disturbing the shared ones.

Tests using any of them are marked ``integration`` automatically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from uuid import uuid4

import pytest
from orderflow_devinfra import (
    Infrastructure,
    InfrastructureUnavailable,
    KafkaUnavailable,
    LocalKafka,
    LocalPostgres,
    PostgresUnavailable,
)

_INFRA_FIXTURES = {
    "infra",
    "kafka_bootstrap",
    "database_url_factory",
    "database_url",
    "local_kafka",
    "local_postgres",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _INFRA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    infrastructure = Infrastructure(postgres_fast=True)
    try:
        infrastructure.start()
    except InfrastructureUnavailable as exc:
        pytest.fail(f"test infrastructure unavailable: {exc}", pytrace=False)
    try:
        yield infrastructure
    finally:
        infrastructure.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infrastructure) -> str:
    return infra.kafka_bootstrap


@pytest.fixture
def database_url_factory(infra: Infrastructure) -> Iterator[Callable[[], str]]:
    created: list[str] = []

    def make() -> str:
        name = f"t_{uuid4().hex[:12]}"
        url = infra.create_database(name)
        created.append(name)
        return url

    yield make
    for name in created:
        with contextlib.suppress(Exception):
            infra.drop_database(name)


@pytest.fixture
def database_url(database_url_factory: Callable[[], str]) -> str:
    return database_url_factory()


@pytest.fixture
def local_kafka() -> Iterator[LocalKafka]:
    broker = LocalKafka()
    try:
        broker.start()
    except KafkaUnavailable as exc:
        broker.close()
        pytest.fail(f"local Kafka unavailable: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def local_postgres() -> Iterator[LocalPostgres]:
    server = LocalPostgres(fast=True)
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.close()
        pytest.fail(f"local PostgreSQL unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()
