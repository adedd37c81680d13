"""`orderflow state`, `rebuild` and `replay` on the stores of a real shop (Kafka + PostgreSQL).

One shop (the six services as processes, mail to an SMTP sink) takes two orders to
delivery: one paid with `tok_approve`, one with `tok_transient_then_approve` (the
sandbox gateway fails its first call, the retry approves). The shop is then stopped
and the commands run against the services' stores, as an engineer would after the fact.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from orderflow_cli.store_tools import REBUILD_WORKERS
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, mail_and_delivery
from orderflow_events import ALL_TOPICS
from sqlalchemy import create_engine, text

from .conftest import Tools

ADDRESS = {
    "name": "Grace Hopper",
    "line1": "Friedrichstrasse 10",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


def eventually(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def client(shop: Shop, service: str) -> httpx.Client:
    running = shop.services[service]
    return httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=30)


def buy(shop: Shop, email: str, sku: str, token: str) -> str:
    with client(shop, "cart") as cart:
        cart_id = cart.post("/carts").raise_for_status().json()["cart_id"]
        add = {"sku": sku, "quantity": 1}
        eventually(
            lambda: cart.post(f"/carts/{cart_id}/items", json=add).status_code < 300, "cart item"
        )
        checkout = {
            "email": email,
            "shipping_address": ADDRESS,
            "shipping_method": "standard",
            "payment": {"token": token, "brand": "visa", "last4": "4242"},
        }
        response = cart.post(f"/carts/{cart_id}/checkout", json=checkout)
        assert response.status_code == 201, response.text
        order_id: str = response.json()["order_id"]
        return order_id


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def delivered_shop(
    kafka_bootstrap: str,
    database_url_factory: Callable[[], str],
    tmp_path: Path,
    mail: MailSink,
) -> Iterator[tuple[Shop, list[str], datetime]]:
    """A shop that delivered two orders, then stopped: (shop, order ids, time before them)."""
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    try:
        shop.start_all(mail_and_delivery(mail.port))
        before = datetime.now(UTC) - timedelta(seconds=1)
        with client(shop, "catalog") as catalog:
            catalog.post(
                "/products",
                json={
                    "sku": "MUG-1",
                    "name": "Mug",
                    "description": "A mug",
                    "category": "kitchen",
                    "price": {"amount": "12.00", "currency": "EUR"},
                    "weight_grams": 400,
                },
            ).raise_for_status()
        with client(shop, "inventory") as inventory:
            eventually(lambda: inventory.get("/stock/MUG-1").status_code == 200, "stock item")
            inventory.post("/stock/MUG-1/receipts", json={"quantity": 10}).raise_for_status()
        orders = [
            buy(shop, "ada@example.com", "MUG-1", "tok_approve"),
            buy(shop, "alan@example.com", "MUG-1", "tok_transient_then_approve"),
        ]
        with client(shop, "cart") as cart:
            for order_id in orders:
                eventually(
                    lambda o=order_id: cart.get(f"/orders/{o}").json()["status"] == "delivered",
                    f"order {order_id} delivered",
                )
        mail.wait_for(3, "ada@example.com")
        mail.wait_for(3, "alan@example.com")
        time.sleep(1)  # the last notices' NotificationSent relayed
        shop.stop_all()
        yield shop, orders, before
    finally:
        shop.stop_all()


def store(shop: Shop, service: str) -> str:
    url = shop.services[service].config.database_url
    assert url is not None
    return url


async def end_offsets(bootstrap: str, namespace: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        topics = [f"{namespace}{t}" for t in ALL_TOPICS]
        partitions = [
            TopicPartition(t, p) for t in topics for p in metadata.partitions_for_topic(t) or ()
        ]
        assert partitions
        result: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return result
    finally:
        await consumer.stop()


def test_state_rebuild_and_replay_on_a_real_shop(
    tools: Tools, delivered_shop: tuple[Shop, list[str], datetime], mail: MailSink
) -> None:
    shop, (approved, retried), before = delivered_shop
    payment_db, cart_db = store(shop, "payment"), store(shop, "cart")

    # state: the payment of an order (found by the order id) at two versions
    args = ["state", "payment", approved, "--database-url", payment_db, "--json"]
    latest = tools.run(*args)
    first = tools.run(*args, "--version", "1")
    assert first["version"] == 1 < latest["version"] == latest["latest_version"]
    assert first["attributes"]["status"] != latest["attributes"]["status"]
    assert latest["attributes"]["order_id"] == approved
    assert [e["version"] for e in latest["events"]] == list(range(1, latest["version"] + 1))
    assert all(e["causation_id"] for e in latest["events"])  # each caused by an event
    # ... and by time, through the real entry point and the service's own variable
    at = latest["events"][0]["timestamp"]
    by_time = tools.run_process(
        "state", "payment", approved, "--at", at, "--json", env={"PAYMENT_DATABASE_URL": payment_db}
    )
    assert by_time["version"] == 1
    assert by_time["attributes"] == first["attributes"]

    # rebuild --verify: the live read model is what the store says
    verify = ["rebuild", "cart", "--verify", "--database-url", cart_db, "--json"]
    report = tools.run(*verify)
    assert report["differences"] == []
    assert report["rows"]["cart_orders"] == 2
    # a tampered row is found, with its key, column and both values
    with create_engine(cart_db.replace("postgresql://", "postgresql+psycopg://")).begin() as conn:
        conn.execute(
            text("UPDATE cart_orders SET status = 'placed' WHERE order_id = :o"), {"o": retried}
        )
    output = tools.run(*verify[:-1], code=1)
    for word in ("cart_orders", "status", "placed", "delivered"):
        assert word in output
    report = CliRunnerJson(tools).run(*verify)
    assert report["differences"] == [
        {
            "table": "cart_orders",
            "key": {"order_id": retried},
            "column": "status",
            "live": "placed",
            "rebuilt": "delivered",
        }
    ]
    # rebuilding in place repairs it
    rebuilt = tools.run("rebuild", "cart", "--database-url", cart_db, "--json")
    assert rebuilt["events"] >= rebuilt["projected"] > 0
    assert rebuilt["workers"] == REBUILD_WORKERS  # the cart's read model is per aggregate
    assert tools.run(*verify)["differences"] == []
    one = tools.run("rebuild", "cart", "--database-url", cart_db, "--workers", "1", "--json")
    assert (one["workers"], one["rows"]) == (1, rebuilt["rows"])
    assert tools.run(*verify)["differences"] == []

    # replay: nothing sent, nothing published
    offsets = asyncio.run(end_offsets(tools.bootstrap, shop.namespace))
    mails = len(mail.messages)
    kafka = ["--bootstrap", tools.bootstrap, "--namespace", shop.namespace]
    since = before.isoformat()

    # the payment handlers over everything since the shop opened reproduce the live state
    replay = tools.run(
        "replay", "payment", "--from", since, *kafka, "--database-url", payment_db, "--json"
    )
    assert replay["records"] >= replay["applied"] > 0
    assert replay["dead_letters"] == []
    assert len(replay["aggregates"]) == 2
    assert replay["differences"] == 0, replay["aggregates"]

    # so do notification's (its dispatcher is off: the notices stay requested, unsent)
    notification_db = store(shop, "notification")
    replay = tools.run(
        "replay", "notification", "--from", "0", *kafka,
        "--database-url", notification_db, "--json",
    )  # fmt: skip
    assert replay["applied"] > 0
    assert len(replay["aggregates"]) >= 6
    assert replay["differences"] == 0, replay["aggregates"]

    # a changed behaviour: one gateway attempt per handling instead of three. The order whose
    # first gateway call failed (live: approved at the second attempt) now gives up after one:
    # declined (gateway_unavailable) - or approved at once, when a failed batch had the inbox apply
    # its record a second time (the sandbox gateway then answers the retried key)
    changed = CliRunnerJson(tools, code=1).run(
        "replay", "payment", "--from", since, *kafka, "--database-url", payment_db,
        "--set", "gateway_attempts=1", "--json",
    )  # fmt: skip
    differing = [a for a in changed["aggregates"] if a["differences"]]
    assert len(differing) == 1, json.dumps(changed)
    changes = {d["path"]: (d["live"], d["replayed"]) for d in differing[0]["differences"]}
    assert changes["auth_attempts"] == (2, 1), changes
    if len(changes) > 1:
        assert changes["status"][1] == "declined", changes
        assert changes["decline_reason"] == (None, "gateway_unavailable"), changes
    latest_retried = tools.run("state", "payment", retried, "--database-url", payment_db, "--json")
    assert differing[0]["id"] == latest_retried["id"]
    text_output = tools.run(
        "replay", "payment", "--from", since, *kafka, "--database-url", payment_db,
        "--set", "gateway_attempts=1", code=1,
    )  # fmt: skip
    assert "differences (live vs replayed)" in text_output
    assert "auth_attempts" in text_output

    # nothing was sent or published by any of it
    assert len(mail.messages) == mails
    assert asyncio.run(end_offsets(tools.bootstrap, shop.namespace)) == offsets


class CliRunnerJson:
    """`tools.run` for a command that exits non-zero and still prints JSON on stdout."""

    def __init__(self, tools: Tools, code: int = 1) -> None:
        self.tools, self.code = tools, code

    def run(self, *args: str) -> Any:
        import json

        from orderflow_cli.main import app
        from typer.testing import CliRunner

        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == self.code, result.output[-3000:]
        return json.loads(result.stdout)
