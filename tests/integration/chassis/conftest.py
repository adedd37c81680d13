"""Fixtures of the chassis tests: the probe services as OS processes on a real broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from orderflow_devinfra.processes import ServiceProcess
from orderflow_runtime.probe import ProbeSettings, ProbeSink, ProbeSource


@dataclass
class ProbeEnv:
    """Where one test's probe services keep their stores and which topics they use."""

    kafka_bootstrap: str
    namespace: str
    tmp: Path
    source_db: str | None
    sink_db: str | None
    overrides: dict[str, str] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)

    def settings(self, role: str) -> ProbeSettings:
        db = self.source_db if role == "source" else self.sink_db
        return ProbeSettings(
            service_name=f"probe-{role}",
            kafka_bootstrap_servers=self.kafka_bootstrap,
            topic_namespace=self.namespace,
            data_dir=self.tmp / "data",
            database_url=db,
            consumer_group=f"{self.namespace}probe-{role}",
        )

    def env(self, role: str) -> dict[str, str]:
        settings = self.settings(role)
        env = {
            "PROBE_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "PROBE_TOPIC_NAMESPACE": self.namespace,
            "PROBE_DATA_DIR": str(settings.data_dir),
            "PROBE_CONSUMER_GROUP": settings.group_id,
            "PROBE_HTTP_PORT": "0",
            "PROBE_RETRY_INITIAL_DELAY_S": "0.01",
            "PROBE_RETRY_MAX_DELAY_S": "0.05",
            **self.overrides,
        }
        if settings.database_url is not None:
            env["PROBE_DATABASE_URL"] = settings.database_url.get_secret_value()
        return env

    def process(self, role: str, *extra: str, replica: int = 0) -> ServiceProcess:
        suffix = f"-{replica}" if replica else ""
        process = ServiceProcess(
            f"probe-{role}{suffix}",
            ["orderflow_runtime.probe", role, *extra],
            self.env(role),
            self.tmp / f"probe-{role}{suffix}.log",
        )
        self.processes.append(process)
        return process

    def source_store(self) -> ProbeSource:
        return ProbeSource(self.settings("source"))

    def sink_store(self) -> ProbeSink:
        return ProbeSink(self.settings("sink"))

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"


@pytest.fixture(params=["sqlite", "postgres"])
def probe(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    database_url_factory: Callable[[], str],
    tmp_path: Path,
) -> Iterator[ProbeEnv]:
    """The probe pair on SQLite files or on two PostgreSQL databases."""
    postgres = request.param == "postgres"
    env = ProbeEnv(
        kafka_bootstrap=kafka_bootstrap,
        namespace=f"t{uuid.uuid4().hex[:10]}.",
        tmp=tmp_path,
        source_db=database_url_factory() if postgres else None,
        sink_db=database_url_factory() if postgres else None,
    )
    yield env
    for process in env.processes:
        process.stop(grace_s=5)
