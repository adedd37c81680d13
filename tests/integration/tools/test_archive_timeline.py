"""The archive copies every record of the shop once; the timeline reads one order from it."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer
from orderflow_events import PAYMENT_EVENTS
from orderflow_runtime.dlq import DeadLetter, DeadLetterPublisher

from .conftest import Tools, order_records

CAUSAL_TYPES = [
    "orders.placed.v1",
    "payment.authorized.v1",
    "inventory.stock_reserved.v1",
    "fulfillment.shipped.v1",
    "inventory.stock_committed.v1",  # stamped before Shipped, but Shipped caused it
    "payment.captured.v1",
    "fulfillment.delivered.v1",
]


async def _dead_letter(tools: Tools, record_value: bytes, headers: list[tuple[str, bytes]]) -> None:
    """What the inbox of `cart` publishes for a record it could not apply."""
    producer = AIOKafkaProducer(bootstrap_servers=tools.bootstrap)
    await producer.start()
    try:
        letter = DeadLetter(
            topic=tools.topic(PAYMENT_EVENTS),
            partition=0,
            offset=1,
            key=b"k",
            value=record_value,
            headers=tuple(headers),
            reason="handler_failed",
            error="KeyError: 'boom'",
            attempts=5,
        )
        await DeadLetterPublisher(producer, service="cart", consumer="cart").publish(letter)
    finally:
        await producer.stop()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_archive_stores_each_event_once_and_the_timeline_is_causal(
    tools: Tools, backend: str
) -> None:
    if backend == "sqlite":
        tools.database_url = f"sqlite:///{tools.tmp / 'archive.sqlite'}"
    # Given two orders on four topics, a relay that published two events again,
    # and one event dead-lettered by the cart
    first, second = order_records(), order_records()
    tools.publish([*first.records, *second.records, *first.records[1:3]])
    authorized = first.records[1]
    asyncio.run(_dead_letter(tools, authorized.value, authorized.headers))

    # When the archive runs until it has caught up (the real entry point)
    archive = ["archive", "run", "--until-caught-up", "--group", tools.group, "--json"]
    run = tools.run_process if backend == "postgres" else tools.run  # the entry point once
    stats = run(*tools.args(*archive))

    # Then every record was read, the two copies were dropped, the dead letter kept
    assert stats["records"] == 17
    assert stats["stored"] == 15
    # and a second run finds nothing new: the offsets were committed after the insert
    assert tools.run(*tools.args(*archive))["records"] == 0

    # When the timeline of the first order is asked for
    timeline = run(*tools.args("timeline", first.order_id, "--json", kafka=False))

    # Then it has each event once, causes first, then the dead letter after its event
    steps = timeline["events"]
    assert [s["type"] for s in steps if not s["dead_letter"]] == CAUSAL_TYPES
    letter = next(s for s in steps if s["dead_letter"])
    assert letter["dead_letter"]["consumer"] == "cart"
    assert letter["dead_letter"]["reason"] == "handler_failed"
    assert letter["caused_by"] == first.ids[1]
    assert steps.index(letter) > [s["id"] for s in steps].index(first.ids[1])
    shipped = next(s for s in steps if s["type"] == "fulfillment.shipped.v1")
    assert shipped["caused_by_type"] == "inventory.stock_reserved.v1"
    assert shipped["since_cause_ms"] == 58_000
    assert shipped["producer"] == "fulfillment"


def test_export_of_one_order_comes_from_the_archive(tools: Tools) -> None:
    # Given an archived order
    order = order_records()
    tools.publish(order.records)
    tools.run(*tools.args("archive", "run", "--until-caught-up", "--group", tools.group))

    # When it is exported by order id
    out = tools.tmp / "order.jsonl"
    tools.run(*tools.args("export", "--order", order.order_id, "--out", str(out)))

    # Then every record is there with its headers and decoded value
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["headers"]["ce_id"] for line in lines) == sorted(order.ids)
    assert all(line["value"]["order_id"] == order.order_id for line in lines)
    assert all(line["key"] == order.order_id for line in lines)
