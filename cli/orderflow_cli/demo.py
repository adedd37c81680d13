"""`orderflow demo`: the whole shop on its embedded defaults, with visible progress.

A local Kafka broker, the six services as separate processes on SQLite stores, and
an SMTP sink on loopback standing in for the mail server. The demo lists a
catalog, receives stock, has customers check out concurrently over the cart API,
waits until every order has reached a final state, and prints the states and the
event timeline of one order.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from orderflow_devinfra import Infrastructure, sample_shop
from orderflow_devinfra.kafka_reading import wait_caught_up
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import SERVICES, Shop, wait_ready
from orderflow_events import FULFILLMENT_EVENTS, INVENTORY_EVENTS, ORDERS_EVENTS, PAYMENT_EVENTS
from rich.console import Console

from orderflow_cli import storefront
from orderflow_cli.progress import progress_bar
from orderflow_cli.timeline import order_timeline, print_timeline

console = Console(stderr=True)
FINAL_STATES = frozenset({"delivered", "cancelled", "returned", "partially_returned"})
RETURN_STATES = frozenset({"returned", "partially_returned", "delivered"})
"""After a return request: received (partly or all), or rejected (back to delivered)."""


def demo(
    orders: Annotated[int, typer.Option(help="How many orders customers place.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the customers' baskets.")] = 7,
) -> None:
    """Run the shop locally, place orders through it, and show what happened."""
    started = time.monotonic()
    rng = random.Random(seed)
    with (
        Infrastructure(postgres=False) as infra,
        tempfile.TemporaryDirectory() as tmp,
        MailSink() as mail,
    ):
        console.print(f"Kafka ({infra.kafka_kind}) at {infra.kafka_bootstrap}; stores in {tmp}")
        # A fresh topic namespace per run: the stores are new, so their event sequences
        # restart at 1 and must not meet the history of an earlier run on the same broker.
        shop = Shop(infra.kafka_bootstrap, None, Path(tmp))
        try:
            start_services(shop, mail)
            storefront.seed(shop, units_per_sku=orders * 3)
            customers = [sample_shop.customer(number, rng) for number in range(orders)]
            order_ids = place_orders(shop, customers)
            states = wait_until_final(shop, order_ids)
            returning = [
                order_id
                for order_id, who in zip(order_ids, customers, strict=True)
                if who.returns and states[order_id] == "delivered"
            ]
            if returning:
                send_returns(shop, returning, rng)
                states.update(wait_until_final(shop, returning, stable=RETURN_STATES))
            wait_for_notices(shop, infra.kafka_bootstrap)
            reasons = storefront.cancel_reasons(shop, order_ids)
            timeline = asyncio.run(
                order_timeline(infra.kafka_bootstrap, shop.namespace, order_ids[0])
            )
        finally:
            shop.stop_all()
        emails = len(mail.messages)
    result: dict[str, Any] = {
        "orders": orders,
        "states": dict(sorted(Counter(states.values()).items())),
        "cancel_reasons": reasons,
        "emails": emails,
        "seconds": round(time.monotonic() - started, 1),
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    storefront.print_states(result)
    print_timeline(order_ids[0], timeline)


def start_services(shop: Shop, mail: MailSink) -> None:
    settings = {
        "notification": {"smtp_host": "127.0.0.1", "smtp_port": str(mail.port)},
        "fulfillment": {"delivery_delay_s": "1"},
    }
    with console.status("starting the six services"):
        for service in SERVICES:
            shop.launch(service, log_level="WARNING", **settings.get(service, {}))
        for running in shop.services.values():
            wait_ready(running)
    console.print("services ready: " + ", ".join(f"{s} {r.url}" for s, r in shop.services.items()))


def place_orders(shop: Shop, customers: list[sample_shop.Customer]) -> list[str]:
    """Every customer checks out (eight at a time); some cancel right away."""

    def shop_once(who: sample_shop.Customer) -> str:
        order_id = storefront.checkout(shop, who)
        if who.cancels:
            storefront.cancel(shop, order_id)
        return order_id

    with progress_bar(console) as progress, ThreadPoolExecutor(max_workers=8) as pool:
        task = progress.add_task("customers checking out", total=len(customers))
        order_ids = []
        for order_id in pool.map(shop_once, customers):
            order_ids.append(order_id)
            progress.advance(task)
    return order_ids


def send_returns(shop: Shop, order_ids: list[str], rng: random.Random) -> None:
    seeds = [rng.random() for _ in order_ids]
    with progress_bar(console) as progress, ThreadPoolExecutor(max_workers=8) as pool:
        task = progress.add_task("customers returning goods", total=len(order_ids))
        jobs = [
            pool.submit(storefront.return_some, shop, order_id, random.Random(seed))
            for order_id, seed in zip(order_ids, seeds, strict=True)
        ]
        for job in jobs:
            job.result()
            progress.advance(task)


def wait_for_notices(shop: Shop, bootstrap: str, timeout: float = 60) -> None:
    """Until the notification service has read every event and sent what they asked for."""
    deadline = time.monotonic() + timeout
    with console.status("sending the last notices"):
        for topic in (ORDERS_EVENTS, PAYMENT_EVENTS, INVENTORY_EVENTS, FULFILLMENT_EVENTS):
            asyncio.run(
                wait_caught_up(bootstrap, "notification", shop.topic(topic), timeout=timeout)
            )
        while storefront.notices_pending(shop) and time.monotonic() < deadline:
            time.sleep(0.3)


def wait_until_final(
    shop: Shop, order_ids: list[str], timeout: float = 300, stable: frozenset[str] = FINAL_STATES
) -> dict[str, str]:
    """Poll the orders until each is in one of the `stable` states."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with progress_bar(console) as progress:
        task = progress.add_task("orders reaching a final state", total=len(order_ids))
        while time.monotonic() < deadline:
            states = storefront.order_states(shop, order_ids)
            done = sum(state in stable for state in states.values())
            progress.update(task, completed=done)
            if done == len(order_ids):
                break
            time.sleep(0.5)
    return states
