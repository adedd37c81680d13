"""Dead letters: listed with why they failed, shown, redriven to their topic, purged, audited."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_events import PAYMENT_EVENTS, headers_dict
from orderflow_runtime.dlq import DeadLetter, DeadLetterPublisher
from sqlalchemy import create_engine, text

from .conftest import Tools, order_records

DLQ = f"{PAYMENT_EVENTS}.dlq"


async def _dead_letter_three(tools: Tools) -> list[str]:
    """Three payment events the cart could not apply, dead-lettered by the chassis."""
    records = [order_records().records[1] for _ in range(3)]
    tools_topic = tools.topic(PAYMENT_EVENTS)
    producer = AIOKafkaProducer(bootstrap_servers=tools.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(tools_topic, b"{}", key=b"warm-up", partition=0)
        publisher = DeadLetterPublisher(producer, service="cart", consumer="cart")
        for offset, record in enumerate(records):
            letter = DeadLetter(
                topic=tools_topic,
                partition=0,
                offset=offset,
                key=record.key,
                value=record.value,
                headers=tuple(record.headers),
                reason="handler_failed",
                error=f"RuntimeError: bug {offset}",
                attempts=5,
            )
            await publisher.publish(letter)
    finally:
        await producer.stop()
    return [headers_dict(r.headers)["ce_id"] for r in records]


def test_list_show_redrive_purge(tools: Tools) -> None:
    # Given three dead letters on payment.events.dlq
    tools.publish([order_records().records[1]])  # creates the topics
    event_ids = asyncio.run(_dead_letter_three(tools))
    env = {"USER": "ada"}

    # When they are listed (the real entry point)
    listed = tools.run_process(*tools.args("dlq", "list", "--json"))

    # Then each says why, where from, and which event
    assert [x["event_id"] for x in listed] == event_ids
    first = listed[0]
    assert first["reason"] == "handler_failed"
    assert first["consumer"] == "cart"
    assert first["attempts"] == 5
    assert first["error"] == "RuntimeError: bug 0"
    assert first["original_topic"] == tools.topic(PAYMENT_EVENTS)
    assert (first["original_partition"], first["original_offset"]) == (0, 0)
    assert first["event_type"] == "payment.authorized.v1"
    assert first["fate"] is None
    coords = [(x["topic"], str(x["partition"]), str(x["offset"])) for x in listed]

    # When one is shown in full
    shown = tools.run(*tools.args("dlq", "show", *coords[0], "--json"))
    assert shown["record"]["headers"]["ce_id"] == event_ids[0]
    assert shown["record"]["value"]["order_id"] == first["order_id"]

    # When the first is redriven
    redriven = tools.run(*tools.args("dlq", "redrive", *coords[0], "--json"), env=env)
    assert [x["dead_letter"] for x in redriven["redriven"]] == [":".join(coords[0])]

    # Then it is back on payment.events with its key, value and headers, marked as redriven
    back = asyncio.run(read_topic(tools.bootstrap, tools.topic(PAYMENT_EVENTS), at_least=3))
    again = [r for r in back if headers_dict(r.headers).get("ce_id") == event_ids[0]]
    assert len(again) == 1
    headers = headers_dict(again[0].headers)
    assert headers["orderflow_redriven"] == ":".join(coords[0])
    assert not [h for h in headers if h.startswith("dlq_")]
    assert again[0].partition == 0
    assert again[0].key == first["order_id"].encode()

    # When the second is purged, then the rest redriven with --all
    tools.run(*tools.args("dlq", "purge", *coords[1]), env=env)
    rest = tools.run(*tools.args("dlq", "redrive", "--all", "--json"), env=env)
    assert [x["dead_letter"] for x in rest["redriven"]] == [":".join(coords[2])]

    # Then nothing is pending; --all shows each fate; a second redrive is skipped
    assert tools.run(*tools.args("dlq", "list", "--json")) == []
    fates = [x["fate"] for x in tools.run(*tools.args("dlq", "list", "--all", "--json"))]
    assert [(f["action"], f["who"]) for f in fates] == [
        ("redrive", "ada"),
        ("purge", "ada"),
        ("redrive", "ada"),
    ]
    skipped = tools.run(*tools.args("dlq", "redrive", *coords[0], "--json"))
    assert skipped == {"redriven": [], "skipped": [":".join(coords[0])]}

    # And the audit table says who did what to which record
    url = tools.database_url.replace("postgresql://", "postgresql+psycopg://")
    with create_engine(url).connect() as conn:
        audit = conn.execute(
            text('SELECT action, who, "offset", event_id FROM dlq_actions ORDER BY id')
        ).all()
    assert [tuple(row) for row in audit] == [
        ("redrive", "ada", int(coords[0][2]), event_ids[0]),
        ("purge", "ada", int(coords[1][2]), event_ids[1]),
        ("redrive", "ada", int(coords[2][2]), event_ids[2]),
    ]


def test_show_of_a_missing_record_says_so(tools: Tools) -> None:
    tools.publish([order_records().records[1]])
    output = tools.run(*tools.args("dlq", "show", DLQ, "0", "99"), code=1)
    assert "no record at" in output
