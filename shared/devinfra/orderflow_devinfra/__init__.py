"""Throwaway Kafka and PostgreSQL for orderflow's demos, tests and benchmarks.

``Infrastructure`` picks, per part: environment variables, testcontainers (when a Docker
engine answers), or local processes (``LocalKafka`` from Maven Central jars,
``LocalPostgres`` from the machine's PostgreSQL). ``python -m orderflow_devinfra up``.
"""

from orderflow_devinfra.infra import Infrastructure, InfrastructureUnavailable
from orderflow_devinfra.kafka_local import KafkaUnavailable, LocalKafka, fetch_kafka
from orderflow_devinfra.postgres_local import LocalPostgres, PostgresUnavailable

__all__ = [
    "Infrastructure",
    "InfrastructureUnavailable",
    "KafkaUnavailable",
    "LocalKafka",
    "LocalPostgres",
    "PostgresUnavailable",
    "fetch_kafka",
]
