"""One Kafka broker and one PostgreSQL server for tests, demos and benchmarks.

Each part is chosen on its own, first match wins:

1. ``env``: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` are set: used as they are;
2. ``testcontainers``: a Docker engine answers (and pulling/starting works);
3. ``local``: :class:`LocalKafka` (jars from Maven Central) / :class:`LocalPostgres`.

``ORDERFLOW_INFRA=local`` skips the Docker probe, ``ORDERFLOW_INFRA=testcontainers`` makes a
failing Docker start an error instead of falling back to local processes.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from types import TracebackType
from typing import Any

from orderflow_devinfra.kafka_local import KafkaUnavailable, LocalKafka
from orderflow_devinfra.postgres_local import (
    LocalPostgres,
    PostgresUnavailable,
    create_database,
    drop_database,
    normalize_url,
)

log = logging.getLogger(__name__)

KAFKA_IMAGE = os.environ.get("ORDERFLOW_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
POSTGRES_IMAGE = os.environ.get("ORDERFLOW_POSTGRES_IMAGE", "postgres:15")


class InfrastructureUnavailable(RuntimeError):  # noqa: N818 - the name says it
    """No Kafka broker or no PostgreSQL could be had; the message says what is missing."""


def docker_engine() -> str | None:
    """None when a Docker engine answers a ping, else why not (fails within a few seconds)."""
    try:
        docker = importlib.import_module("docker")  # untyped library
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker engine ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def _kafka_container_class() -> Any:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers before 4.15
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer


def _postgres_container_class() -> Any:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer


class Infrastructure:
    """Kafka + PostgreSQL, started on ``start()``/``with``, stopped on ``stop()``/exit.

    ``postgres_fast=True`` (tests) turns fsync and synchronous commit off in a local server;
    the default keeps them on so that benchmarks measure real commits.
    """

    def __init__(
        self,
        *,
        kafka: bool = True,
        postgres: bool = True,
        postgres_fast: bool = False,
        mode: str | None = None,
    ) -> None:
        self.want_kafka = kafka
        self.want_postgres = postgres
        self.postgres_fast = postgres_fast
        self.mode = (mode or os.environ.get("ORDERFLOW_INFRA") or "auto").lower()
        if self.mode not in ("auto", "local", "testcontainers"):
            raise ValueError(f"ORDERFLOW_INFRA must be auto, local or testcontainers: {self.mode}")
        self.kafka_kind: str | None = None
        self.postgres_kind: str | None = None
        self.local_kafka: LocalKafka | None = None
        self.local_postgres: LocalPostgres | None = None
        self._kafka_bootstrap: str | None = None
        self._database_url: str | None = None
        self._containers: list[Any] = []
        self._docker_checked = False
        self._docker_problem: str | None = None

    # -- public API ----------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        if self._kafka_bootstrap is None:
            raise RuntimeError("Infrastructure has no Kafka (not started, or kafka=False)")
        return self._kafka_bootstrap

    @property
    def database_url(self) -> str:
        """The admin URL (a superuser's database) of the PostgreSQL server."""
        if self._database_url is None:
            raise RuntimeError("Infrastructure has no PostgreSQL (not started, or postgres=False)")
        return self._database_url

    @property
    def kind(self) -> str:
        """e.g. ``kafka=local postgres=env``."""
        return f"kafka={self.kafka_kind} postgres={self.postgres_kind}"

    def create_database(self, name: str) -> str:
        """A new empty database on the server; its URL (``postgresql://...``)."""
        return create_database(self.database_url, name)

    def drop_database(self, name: str) -> None:
        drop_database(self.database_url, name)

    def start(self) -> Infrastructure:
        try:
            if self.want_kafka and self._kafka_bootstrap is None:
                self._start_kafka()
            if self.want_postgres and self._database_url is None:
                self._start_postgres()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop whatever this object started (never what the environment provided)."""
        for closer in (self.local_kafka, self.local_postgres):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer.close()
        for container in reversed(self._containers):
            with contextlib.suppress(Exception):
                container.stop()
        self._containers.clear()
        self.local_kafka = self.local_postgres = None
        self._kafka_bootstrap = self._database_url = None
        self.kafka_kind = self.postgres_kind = None

    def __enter__(self) -> Infrastructure:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------

    def _docker(self) -> str | None:
        """None if testcontainers may be used, else the reason it may not."""
        if self.mode == "local":
            return "ORDERFLOW_INFRA=local"
        if not self._docker_checked:
            self._docker_problem = docker_engine()
            self._docker_checked = True
        return self._docker_problem

    def _start_kafka(self) -> None:
        env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if env:
            self._kafka_bootstrap, self.kafka_kind = env, "env"
            return
        problems = ["KAFKA_BOOTSTRAP_SERVERS is not set"]
        docker_problem = self._docker()
        if docker_problem is None:
            try:
                container = _kafka_container_class()(KAFKA_IMAGE).with_kraft()
                container.start()
                self._containers.append(container)
                self._kafka_bootstrap = container.get_bootstrap_server()
                self.kafka_kind = "testcontainers"
                return
            except Exception as exc:
                if self.mode == "testcontainers":
                    raise InfrastructureUnavailable(f"Kafka: testcontainers failed: {exc}") from exc
                problems.append(f"testcontainers failed ({type(exc).__name__}: {exc})")
                log.warning("Kafka via testcontainers failed, using a local broker: %s", exc)
        else:
            problems.append(docker_problem)
        broker = LocalKafka()
        try:
            self._kafka_bootstrap = broker.start()
        except KafkaUnavailable as exc:
            broker.close()
            problems.append(f"local broker: {exc}")
            raise InfrastructureUnavailable("no Kafka broker: " + "; ".join(problems)) from exc
        except BaseException:
            broker.close()
            raise
        self.local_kafka, self.kafka_kind = broker, "local"

    def _start_postgres(self) -> None:
        env = os.environ.get("DATABASE_URL")
        if env:
            self._database_url, self.postgres_kind = normalize_url(env), "env"
            return
        problems = ["DATABASE_URL is not set"]
        docker_problem = self._docker()
        if docker_problem is None:
            try:
                container = _postgres_container_class()(POSTGRES_IMAGE, driver="psycopg")
                container.start()
                self._containers.append(container)
                self._database_url = normalize_url(container.get_connection_url())
                self.postgres_kind = "testcontainers"
                return
            except Exception as exc:
                if self.mode == "testcontainers":
                    raise InfrastructureUnavailable(
                        f"PostgreSQL: testcontainers failed: {exc}"
                    ) from exc
                problems.append(f"testcontainers failed ({type(exc).__name__}: {exc})")
                log.warning("PostgreSQL via testcontainers failed, using a local server: %s", exc)
        else:
            problems.append(docker_problem)
        server = LocalPostgres(fast=self.postgres_fast)
        try:
            self._database_url = server.start()
        except PostgresUnavailable as exc:
            server.close()
            problems.append(f"local server: {exc}")
            raise InfrastructureUnavailable("no PostgreSQL: " + "; ".join(problems)) from exc
        except BaseException:
            server.close()
            raise
        self.local_postgres, self.postgres_kind = server, "local"
