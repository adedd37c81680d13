"""Prometheus metrics of the chassis (the service name is a label on every one)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "orderflow_events_consumed_total",
    "Integration events taken from Kafka, by outcome (applied, duplicate, ignored, dead_lettered).",
    ["service", "type", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "orderflow_events_published_total",
    "Integration events published by the relay.",
    ["service", "type"],
)
HANDLER_SECONDS = Histogram(
    "orderflow_inbox_batch_seconds",
    "Time to apply and commit one inbox batch.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PARTITIONS_REVOKED = Counter(
    "orderflow_inbox_partitions_revoked_total",
    "Partitions taken from the inbox at a rebalance (a member joined or left, or this one "
    "was dropped for missing its heartbeats and joined again).",
    ["service"],
)
PARTITIONS_ASSIGNED = Gauge(
    "orderflow_inbox_assigned_partitions", "Partitions the inbox holds now.", ["service"]
)
RETRIES = Counter(
    "orderflow_inbox_retries_total", "Retried attempts at applying a record.", ["service", "error"]
)
DEAD_LETTERS = Counter(
    "orderflow_dead_letters_total", "Records sent to a dead-letter topic.", ["service", "reason"]
)
RELAY_BACKLOG = Gauge(
    "orderflow_relay_backlog_events", "Stored events not yet published by the relay.", ["service"]
)
RELAY_POSITION = Gauge(
    "orderflow_relay_position", "Last notification id the relay published.", ["service"]
)
