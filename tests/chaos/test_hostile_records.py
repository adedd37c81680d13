"""Poison and hostile records on every input topic of every service, on the real broker.

Into each topic the services consume, interleaved with the shop's own traffic: malformed
JSON, wrong types, unknown event types, a 1.5 MB value, a record without CloudEvents
headers, a valid event without its sequence, and the topic's real records again,
duplicated and in reverse order. Then: no service crashed (each still running and
ready), every bad record is in `<topic>.dlq` once per consuming service with the
reason, the replayed records changed nothing, and orders placed meanwhile complete.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from orderflow_devinfra import invariants
from orderflow_devinfra.chaos import INPUTS
from orderflow_devinfra.kafka_admin import create_topics
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, mail_and_delivery
from orderflow_devinfra.shopping import buy, client, eventually, list_product, order, receive_stock
from orderflow_events import headers_dict, to_record
from orderflow_events.samples import sample_events

pytestmark = pytest.mark.timeout(360)

TOPIC_LIMIT = 2 * 1024 * 1024
BIG = 1_500_000
CONSUMERS: dict[str, list[str]] = {}
for _service, _topics in INPUTS.items():
    for _topic in _topics:
        CONSUMERS.setdefault(_topic, []).append(_service)
FINAL = {"delivered", "cancelled"}


def _headers(topic: str, ce_type: str, *, sequence: int | None = 10**6) -> list[tuple[str, bytes]]:
    service = {"orders.events": "cart"}.get(topic, topic.split(".")[0])
    attributes = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_source": f"/services/{service}",
        "ce_type": ce_type,
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    if sequence is not None:
        attributes["ce_sequence"] = str(sequence)
    return [(k, v.encode()) for k, v in attributes.items()]


def bad_records(topic: str) -> dict[str, tuple[bytes, list[tuple[str, bytes]], str]]:
    """kind -> (value, headers, the dead-letter reason expected)."""
    sample = next(e for e in sample_events() if e.topic == topic)
    ce_type = sample.ce_type
    valid = to_record(sample, event_id=str(uuid.uuid4()), time=datetime.now(UTC))
    wrong_types = {name: 12345 for name in json.loads(valid.value)}
    return {
        "malformed_json": (b'{"order_id": "', _headers(topic, ce_type), "malformed_json"),
        "binary_garbage": (bytes(range(256)) * 4, _headers(topic, ce_type), "malformed_json"),
        "wrong_types": (
            json.dumps(wrong_types).encode(),
            _headers(topic, ce_type),
            "validation_failed",
        ),
        "unknown_type": (
            valid.value,
            _headers(topic, f"{topic.split('.')[0]}.exploded.v9"),
            "unknown_type",
        ),
        "oversized": (
            json.dumps({"pad": "x" * BIG}).encode(),
            _headers(topic, ce_type),
            "too_large",
        ),
        "no_headers": (b"hello", [], "missing_header"),
        "no_sequence": (valid.value, valid.headers, "missing_sequence"),
    }


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def shop(
    kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path, mail: MailSink
) -> Iterator[Shop]:
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    # Topics that take a 1.5 MB record (the dead-letter topics keep the 1 MB default:
    # an oversized dead letter is truncated and marked).
    topics = [shop.topic(t) for t in CONSUMERS] + [shop.topic("notification.events")]
    asyncio.run(
        create_topics(kafka_bootstrap, topics, 8, configs={"max.message.bytes": str(TOPIC_LIMIT)})
    )
    try:
        shop.start_all(mail_and_delivery(mail.port))
        yield shop
    finally:
        shop.stop_all()


async def _produce(
    bootstrap: str, records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for topic, key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def _settled(shop: Shop, order_ids: list[str]) -> bool:
    return all(order(shop, oid)["status"] in FINAL for oid in order_ids)


async def test_poison_and_hostile_records_are_dead_lettered_and_the_shop_keeps_going(
    shop: Shop,
) -> None:
    # Given a shop with some history on every topic
    list_product(shop, "HOSTILE-1", "20.00")
    receive_stock(shop, "HOSTILE-1", 100)
    first = [buy(shop, f"before{i}@example.com", {"HOSTILE-1": 1}) for i in range(3)]
    first.append(buy(shop, "declined@example.com", {"HOSTILE-1": 1}, token="tok_decline_funds"))
    eventually(lambda: _settled(shop, first), what="the first orders settle", timeout=90)
    notices_before = await _sent_notices(shop)

    # When every input topic gets bad records, interleaved with its real records replayed
    # (each twice, newest first), while customers keep ordering
    injected: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
    expected: dict[tuple[str, bytes], str] = {}
    for topic in CONSUMERS:
        real = await read_topic(shop.kafka_bootstrap, shop.topic(topic), at_least=1, timeout=20)
        replay = [(r.key, r.value, list(r.headers)) for r in reversed(real)]
        for index, (kind, (value, headers, reason)) in enumerate(bad_records(topic).items()):
            key = f"hostile:{topic}:{kind}".encode()
            expected[(topic, key)] = reason
            injected.append((shop.topic(topic), key, value, headers))
            for rkey, rvalue, rheaders in replay[index::7]:
                injected += [(shop.topic(topic), rkey, rvalue, rheaders)] * 2
    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(
            lambda: [buy(shop, f"after{i}@example.com", {"HOSTILE-1": 1}) for i in range(4)]
        )
        await _produce(shop.kafka_bootstrap, injected)
        second = later.result()

    # Then the orders placed meanwhile complete
    eventually(lambda: _settled(shop, second), what="the later orders settle", timeout=120)
    assert {order(shop, oid)["status"] for oid in second} == {"delivered"}

    # And every bad record is dead-lettered once per consuming service, with its reason
    for topic, services in CONSUMERS.items():
        wanted = {(key, s) for (t, key) in expected if t == topic for s in services}
        letters = await _dead_letters(shop, topic, len(wanted))
        found = {(k, s): h for (k, s), h in letters.items() if (k, s) in wanted}
        assert set(found) == wanted, f"{topic}: missing {sorted(wanted - set(found))}"
        for (key, _service), headers in found.items():
            assert headers["dlq_reason"] == expected[(topic, key)], (topic, key, headers)
            assert headers["dlq_original_topic"] == shop.topic(topic)
            assert headers["dlq_error"]
        unexpected = [k for k in letters if not k[0].startswith(b"hostile:")]
        assert not unexpected, f"{topic}: good records dead-lettered: {unexpected[:5]}"

    # And no service crashed, each is ready
    for name, running in shop.services.items():
        assert running.process.running, f"{name} died:\n{running.process.log_tail()}"
        with httpx.Client(base_url=running.url, timeout=10) as http:
            assert http.get("/health/ready").status_code == 200, name  # noqa: ASYNC212

    # And the replayed records changed nothing: one notice each, invariants hold
    notices_after = await _sent_notices(shop)
    assert set(notices_before) <= set(notices_after)
    assert len(notices_after) == len(set(notices_after)), "a notice published twice"
    report = await invariants.check(shop)
    assert report.violations == [], report.summary()
    assert report.orders == len(first) + len(second)
    with client(shop, "inventory") as inventory:
        level = inventory.get("/stock/HOSTILE-1").json()
    assert level["committed"] == 7  # three before, four after: none shipped twice


async def _sent_notices(shop: Shop) -> list[str]:
    envelopes = await shop.events("notification.events", at_least=1, timeout=10)
    return [e.id for e in envelopes]


async def _dead_letters(
    shop: Shop, topic: str, at_least: int
) -> dict[tuple[bytes, str], dict[str, str]]:
    """(key, consumer) -> headers of each dead letter of `topic`, once `at_least` arrived."""
    found: dict[tuple[bytes, str], dict[str, str]] = {}
    for _ in range(60):
        records = await read_topic(
            shop.kafka_bootstrap, shop.topic(topic) + ".dlq", at_least=1, timeout=20
        )
        found = {}
        for record in records:
            headers = headers_dict([(k, v) for k, v in record.headers if k.startswith("dlq_")])
            found[(record.key or b"", headers["dlq_consumer"])] = headers
        if len(found) >= at_least:
            return found
        await asyncio.sleep(1)
    return found
