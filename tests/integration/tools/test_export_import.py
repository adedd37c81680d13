"""Export a topic's range to JSON Lines; import it into a sandbox, never into the live topics."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from orderflow_devinfra.kafka_reading import read_topic
from orderflow_events import ORDERS_EVENTS, PAYMENT_EVENTS

from .conftest import T0, Tools, order_records


def test_export_by_offsets_and_times_then_import_into_a_sandbox(tools: Tools) -> None:
    # Given five orders' OrderPlaced on partition 0, stamped one minute apart, and a payment
    orders = [order_records() for _ in range(5)]
    placed = [o.records[0] for o in orders]
    for minute, record in enumerate(placed):
        stamp = int((T0 + timedelta(minutes=minute)).timestamp() * 1000)
        tools.publish([record], partition=0, timestamp_ms=stamp)
    tools.publish([orders[0].records[1]])

    # When offsets 1..3 of partition 0 are exported (the real entry point)
    out = tools.tmp / "range.jsonl"
    export = ["export", "--topic", ORDERS_EVENTS, "--partition", "0", "--out", str(out)]
    tools.run_process(*tools.args(*export, "--from-offset", "1", "--to-offset", "3", archive=False))

    # Then exactly those records are there, headers and value decoded
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["offset"] for line in lines] == [1, 2, 3]
    assert [line["headers"]["ce_id"] for line in lines] == [o.ids[0] for o in orders[1:4]]
    assert lines[0]["topic"] == tools.topic(ORDERS_EVENTS)
    assert lines[0]["key"] == orders[1].order_id
    assert lines[0]["value"]["order_id"] == orders[1].order_id
    assert lines[0]["timestamp"] == "2025-03-01T12:01:00Z"

    # When a time window is exported to stdout: from minute 2 up to (not including) minute 4
    window = ["--since", "2025-03-01T12:02:00Z", "--until", "2025-03-01T12:04:00Z"]
    text = tools.run(*tools.args("export", "--topic", ORDERS_EVENTS, *window, archive=False))
    assert [json.loads(line)["offset"] for line in text.splitlines()] == [2, 3]

    # When the range is imported into a sandbox
    sandbox = f"{tools.namespace}replay"
    result = tools.run_process(
        *tools.args("import", str(out), "--sandbox", sandbox, "--json", archive=False)
    )

    # Then it went to the sandbox's topic, same partition, keys, headers and order
    target = f"{sandbox}.{ORDERS_EVENTS}"
    assert result == {"records": 3, "topics": {target: 3}}
    copied = asyncio.run(read_topic(tools.bootstrap, target, at_least=3, timeout=20))
    assert [(r.partition, r.key, r.headers) for r in copied] == [
        (0, r.key, tuple(r.headers)) for r in placed[1:4]
    ]
    assert [json.loads(r.value) for r in copied] == [json.loads(r.value) for r in placed[1:4]]


def test_import_refuses_the_live_topics(tools: Tools) -> None:
    # Given an export of one record
    tools.publish([order_records().records[1]])
    out = tools.tmp / "one.jsonl"
    tools.run(*tools.args("export", "--topic", PAYMENT_EVENTS, "--out", str(out), archive=False))

    # When it is imported with an empty sandbox, or the live namespace as sandbox
    empty = tools.run(*tools.args("import", str(out), "--sandbox", " ", archive=False), code=1)
    live = tools.run(
        *tools.args("import", str(out), "--sandbox", tools.namespace, archive=False), code=1
    )

    # Then both are refused
    assert "must not be empty" in empty
    assert "is the live namespace" in live
