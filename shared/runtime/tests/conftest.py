"""Fixtures of the chassis unit tests: probe stores on SQLite files in `tmp_path`.

No Kafka here. The few PostgreSQL variants (marked `integration`) share one local
server for the session, started only when a test asks for `postgres_url_factory`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from orderflow_devinfra import Infrastructure, InfrastructureUnavailable
from orderflow_runtime.probe import ProbeSettings, ProbeSink, ProbeSource

SettingsFactory = Callable[..., ProbeSettings]


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's PROBE_*/ORDERFLOW_* vars."""
    for name in list(os.environ):
        if name.startswith(("PROBE_", "ORDERFLOW_")):
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """`make_settings("sink", inbox_max_attempts=3)`: settings of `probe-<role>` in tmp_path."""

    def make(role: str = "sink", **overrides: Any) -> ProbeSettings:
        values: dict[str, Any] = {
            "service_name": f"probe-{role}",
            "data_dir": tmp_path / "data",
            "retry_initial_delay_s": 0.0,
            "retry_max_delay_s": 0.0,
            **overrides,
        }
        return ProbeSettings(**values)

    return make


@pytest.fixture
def source(make_settings: SettingsFactory) -> Iterator[ProbeSource]:
    app = ProbeSource(make_settings("source"))
    yield app
    app.close()


@pytest.fixture
def sink(make_settings: SettingsFactory) -> Iterator[ProbeSink]:
    app = ProbeSink(make_settings("sink"))
    yield app
    app.close()


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[Infrastructure]:
    """A PostgreSQL server (DATABASE_URL, a container or a local process); no Kafka."""
    infrastructure = Infrastructure(kafka=False, postgres_fast=True)
    try:
        infrastructure.start()
    except InfrastructureUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)
    yield infrastructure
    infrastructure.stop()


@pytest.fixture
def postgres_url_factory(_postgres_server: Infrastructure) -> Iterator[Callable[[], str]]:
    """`make() -> url` of a fresh empty database, dropped after the test."""
    created: list[str] = []

    def make() -> str:
        name = f"u_{uuid4().hex[:12]}"
        url = _postgres_server.create_database(name)
        created.append(name)
        return url

    yield make
    for name in created:
        with contextlib.suppress(Exception):
            _postgres_server.drop_database(name)
