"""Consumer lag per group and partition; orders past their deadline from the cart."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from orderflow_events import ORDERS_EVENTS

from .conftest import Tools, order_records


async def _commit(tools: Tools, group: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=tools.bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = {TopicPartition(tools.topic(ORDERS_EVENTS), p): o for p, o in offsets.items()}
        consumer.assign(list(tps))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in tps.items()})
    finally:
        await consumer.stop()


def test_lag_per_group_and_partition(tools: Tools) -> None:
    # Given 5 records on partition 0 and 3 on partition 1 of orders.events
    orders = [order_records().records[0] for _ in range(8)]
    tools.publish(orders[:5], partition=0)
    tools.publish(orders[5:], partition=1)
    # and a group that committed 2 on partition 0 and nothing on partition 1
    group = f"{tools.namespace}cart"
    asyncio.run(_commit(tools, group, {0: 2}))

    # When the lag is asked for (the real entry point)
    never = f"{tools.namespace}never"
    args = ["lag", "--group", group, "--group", never, "--json"]
    report = tools.run_process(*tools.args(*args, archive=False))

    # Then each partition of the topic says how far behind the group is
    cart, nothing = report["groups"]
    topic = tools.topic(ORDERS_EVENTS)
    rows = {r["partition"]: r for r in cart["partitions"] if r["topic"] == topic}
    assert (rows[0]["committed"], rows[0]["end"], rows[0]["lag"]) == (2, 5, 3)
    assert (rows[1]["committed"], rows[1]["end"], rows[1]["lag"]) == (None, 3, 3)
    assert cart["lag"] == 6
    assert nothing == {"group": never, "lag": 0, "partitions": []}
    assert report["total"] == 6


class _Cart(BaseHTTPRequestHandler):
    answer: Any = []

    def do_GET(self) -> None:
        if self.headers.get("X-API-Key") != "op-key":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps(self.answer).encode()
        self.send_response(200 if self.path == "/orders/stuck" else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cart() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Cart)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


STUCK = [
    {
        "order_id": "o-1",
        "status": "placed",
        "since": "2025-03-01T12:00:00Z",
        "deadline_at": "2025-03-01T12:15:00Z",
        "expired": True,
    },
    {
        "order_id": "o-2",
        "status": "shipped",
        "since": "2025-03-01T12:00:00Z",
        "deadline_at": "2025-03-01T11:00:00Z",
        "expired": False,
    },
]


@pytest.mark.parametrize("shape", ["list", "items"])
def test_stuck_orders_from_the_cart(cart: str, shape: str) -> None:
    # Given a cart that answers a list, or a list under "items"
    _Cart.answer = STUCK if shape == "list" else {"items": STUCK, "total": 2}

    # When an operator asks (once through the real entry point), the key from the environment
    runner = Tools("", "", "", Path())
    env = {"ORDERFLOW_API_KEY": "op-key"}
    run = runner.run_process if shape == "list" else runner.run
    orders = run("stuck", "--cart-url", cart, "--json", env=env)

    # Then the most overdue comes first, with how long it is overdue
    assert [o["order_id"] for o in orders] == ["o-2", "o-1"]
    assert orders[1]["expired"] is True
    assert orders[0]["overdue_s"] > orders[1]["overdue_s"] > 0
    # and without the key the cart's refusal is reported
    refused = runner.run("stuck", "--cart-url", cart, code=1, env={"ORDERFLOW_API_KEY": ""})
    assert "401" in refused
