"""Small async Kafka admin helpers for tests and demos (aiokafka's AIOKafkaAdminClient)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC_OR_PARTITION = 3


class KafkaAdminError(RuntimeError):
    pass


def _errors(response: Any, key: str) -> list[tuple[str, int, str | None]]:
    obj = response.to_object()
    out = []
    for item in obj.get(key, []):
        name = item.get("topic", item.get("name"))
        out.append((name, int(item.get("error_code", 0)), item.get("error_message")))
    return out


async def _admin(bootstrap: str, request_timeout_ms: int = 30000) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms)
    await admin.start()
    return admin


async def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 4,
    replication: int = 1,
    *,
    configs: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create the topics; those that exist already are left as they are.

    Returns once every partition of every topic has a leader, so producers and consumers
    can use them at once.
    """
    topics = list(dict.fromkeys(names))
    if not topics:
        return
    admin = await _admin(bootstrap)
    try:
        response = await admin.create_topics(
            [NewTopic(t, partitions, replication, topic_configs=configs or {}) for t in topics],
            timeout_ms=int(timeout * 1000),
        )
        failed = [
            f"{name}: error {code} {msg or ''}".strip()
            for name, code, msg in _errors(response, "topic_errors")
            if code not in (0, _TOPIC_ALREADY_EXISTS)
        ]
        if failed:
            raise KafkaAdminError("creating topics failed: " + "; ".join(failed))
        await _wait_for_leaders(admin, topics, time.monotonic() + timeout)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], deadline: float) -> None:
    while True:
        described = await admin.describe_topics(topics)
        ready = {
            t["topic"]
            for t in described
            if t.get("error_code", 0) == 0
            and t.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in t["partitions"])
        }
        if ready >= set(topics):
            return
        if time.monotonic() > deadline:
            raise KafkaAdminError(f"topics without leaders: {sorted(set(topics) - ready)}")
        await asyncio.sleep(0.1)


async def delete_topics(
    bootstrap: str,
    names: Iterable[str],
    *,
    timeout: float = 30.0,
) -> None:
    """Delete the topics; those that do not exist are ignored."""
    topics = list(dict.fromkeys(names))
    if not topics:
        return
    admin = await _admin(bootstrap)
    try:
        response = await admin.delete_topics(topics, timeout_ms=int(timeout * 1000))
        failed = [
            f"{name}: error {code}"
            for name, code, _ in _errors(response, "topic_error_codes")
            if code not in (0, _UNKNOWN_TOPIC_OR_PARTITION)
        ]
        if failed:
            raise KafkaAdminError("deleting topics failed: " + "; ".join(failed))
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> list[str]:
    admin = await _admin(bootstrap)
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def wait_for_broker(bootstrap: str, timeout: float = 60.0) -> None:
    """Return once the broker answers a metadata request with a controller and a broker."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        remaining = max(1.0, deadline - time.monotonic())
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(min(5.0, remaining) * 1000)
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=min(5.0, remaining))
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=min(5.0, remaining))
            if cluster.get("brokers") and cluster.get("controller_id", -1) >= 0:
                return
            last = None
        except (KafkaError, OSError, TimeoutError) as exc:
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise TimeoutError(f"Kafka at {bootstrap} did not answer within {timeout:.0f}s: {last!r}")
