"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def secrets_dir() -> str | None:
    """Where secrets mounted as files are: `$ORDERFLOW_SECRETS_DIR`, else `/run/secrets`
    (Docker and Kubernetes secrets) when it exists, else none."""
    configured = os.environ.get("ORDERFLOW_SECRETS_DIR")
    if configured:
        return configured
    return "/run/secrets" if Path("/run/secrets").is_dir() else None


class ServiceSettings(BaseSettings):
    """The chassis settings. A service subclass sets `env_prefix` (e.g. `CART_`).

    Each setting comes from the variable `<PREFIX><NAME>`, or from a file of that name
    (any case) in the secrets folder (`secrets_dir`): the way to hand a service its
    database URL, admin key or webhook key without putting them in its environment.
    Nothing else in a service reads the environment: build one of these in `main`
    and pass it down.
    """

    model_config = SettingsConfigDict(
        env_prefix="ORDERFLOW_", extra="ignore", secrets_dir=secrets_dir()
    )

    service_name: str = Field(description="Name of the service; also its consumer group.")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:port/db; unset: the embedded SQLite file.",
    )
    data_dir: Path = Field(
        default=Path(".data"), description="Folder of the embedded SQLite event store."
    )
    http_host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    http_port: int = Field(default=8000, description="HTTP port (0: no HTTP server).")
    admin_api_key: SecretStr | None = Field(
        default=None,
        description="Key for admin and operator endpoints (X-API-Key); unset: they refuse.",
    )
    trace_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="Where spans go. none: spans are not recorded and the traces this "
        "service starts are unsampled; the trace context propagates anyway.",
    )
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")
    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group; defaults to the service name."
    )
    topic_namespace: str = Field(
        default="",
        description="Prefix of every topic name, to run several shops (or tests) on one cluster.",
    )
    topic_partitions: int = Field(default=8, description="Partitions of topics we create.")
    inbox_max_records: int = Field(default=500, description="Records per inbox batch.")
    inbox_max_attempts: int = Field(
        default=5, description="Attempts before a failing record is dead-lettered."
    )
    inbox_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        description="Longest time the broker holds a fetch that finds nothing new. An event "
        "can wait up to this long for the fetch in flight to end (waits of 200 ms were seen "
        "with aiokafka's default of 500); an idle consumer fetches 1000/value times a second.",
    )
    inbox_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        description="Bytes the broker gathers for the inbox's fetch before it answers (or "
        "the fetch wait passes). 1: answer as soon as there is a record. A service off the "
        "saga's path to Shipped gathers (see OffPathSettings).",
    )
    inbox_commit_interval_s: float = Field(
        default=1.0,
        description="Longest time before the offsets of applied batches are committed to "
        "Kafka (0: after each batch); also committed when partitions are revoked and on stop.",
    )
    retry_initial_delay_s: float = Field(default=0.05, description="First retry delay.")
    retry_max_delay_s: float = Field(default=2.0, description="Longest retry delay.")
    relay_batch_size: int = Field(default=1000, description="Stored events per relay batch.")
    relay_idle_poll_s: float = Field(
        default=0.25,
        description="Relay poll interval when the outbox is empty. A save in this process "
        "wakes the relay at once; the poll finds the saves of other replicas on the store.",
    )
    relay_position_interval_s: float = Field(
        default=1.0,
        description="Longest time between two saves of the relay's position (0: after each "
        "batch). After a crash the relay publishes again what it sent since the last save; "
        "consumers drop those duplicates by sequence.",
    )
    aggregate_cache_size: int = Field(default=10_000, description="Aggregates kept in memory.")
    aggregate_cache_fastforward: bool = Field(
        default=False,
        description="Query the store for newer events on every cached load. Off: the cache "
        "is trusted and a stale copy shows up as a version conflict, which is retried.",
    )

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    def topic(self, name: str) -> str:
        """The topic as named on the cluster (the contract name behind the namespace)."""
        return f"{self.topic_namespace}{name}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / f"{self.service_name}.sqlite"


class OffPathSettings(ServiceSettings):
    """The settings of a service that no step on the saga's path to Shipped waits for
    (cart's order status and compensations, notification's emails).

    Its inbox asks the broker to gather: 1 MiB or 500 ms, whichever comes first. Its
    batches are larger and cheaper, which leaves the CPU to payment, inventory and
    fulfillment; what it does follows up to half a second later (README, Performance).
    """

    inbox_fetch_max_wait_ms: int = Field(
        default=500, ge=1, description="Longest time the broker gathers the inbox's fetch."
    )
    inbox_fetch_min_bytes: int = Field(
        default=1 << 20, ge=1, description="Bytes the broker gathers for the inbox's fetch."
    )
