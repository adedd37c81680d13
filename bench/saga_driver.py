"""The saga benchmark's customers: the full checkout flow over the cart's HTTP API.

A customer opens a cart, adds one to three products and checks out (a test card that is
always approved). `offered_load` starts customers at a fixed rate (open loop: a slow
shop does not slow the arrivals down); `max_load` keeps `customers` of them going back
to back (closed loop: as fast as the shop lets them). Each accepted checkout is recorded
with the wall-clock time of its 201, to be compared with the events' `ce_time`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from orderflow_devinfra.sample_shop import ADDRESSES, CATALOG, LIMITED_SKU

SKUS = [row[0] for row in CATALOG if row[0] != LIMITED_SKU]
"""The products customers buy (the demo's limited edition has only a few units)."""


@dataclass
class Load:
    """What the customers of one phase did."""

    name: str
    offered_per_s: float | None
    """None: the maximum-throughput phase (closed loop)."""
    window: tuple[float, float] = (0.0, 0.0)
    """Wall-clock (epoch seconds) start and end of the arrivals: the measured window."""
    accepted: dict[str, float] = field(default_factory=dict)
    """order id -> wall-clock time of the checkout's 201."""
    flow_s: list[float] = field(default_factory=list)
    """Seconds from a customer's first request to their 201 (the HTTP side)."""
    started: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    finished_at: float = 0.0
    """When the last customer of the phase was done (arrivals after the window included)."""

    @property
    def seconds(self) -> float:
        return self.window[1] - self.window[0]


class Customers:
    """The customers' HTTP client: aiohttp, whose pooled connections cost the driver a
    fraction of httpx's CPU under many concurrent requests (encode/httpx#3215), CPU the
    shop under test shares on this machine. Created inside the running event loop."""

    def __init__(self, cart_url: str, connections: int, seed: int = 7) -> None:
        self.http = aiohttp.ClientSession(
            base_url=cart_url,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=60.0),
            raise_for_status=True,
        )
        self.rng = random.Random(seed)
        self.number = 0

    async def close(self) -> None:
        await self.http.close()

    async def checkout(self, load: Load) -> None:
        """One customer's whole flow; the accepted order lands in `load.accepted`."""
        self.number += 1
        number, rng = self.number, self.rng
        basket = {sku: rng.randint(1, 2) for sku in rng.sample(SKUS, k=rng.randint(1, 3))}
        body = {
            "email": f"customer{number}@example.com",
            "shipping_address": rng.choice(ADDRESSES),
            "shipping_method": "express" if number % 4 == 0 else "standard",
            "payment": {"token": "tok_approve", "brand": "visa", "last4": "4242"},
        }
        load.started += 1
        began = time.perf_counter()
        step = "create"
        try:
            async with self.http.post("/carts") as created:
                cart_id = (await created.json())["cart_id"]
            step = "add"
            for sku, quantity in basket.items():
                line = {"sku": sku, "quantity": quantity}
                async with self.http.post(f"/carts/{cart_id}/items", json=line) as added:
                    await added.read()
            step = "checkout"
            async with self.http.post(f"/carts/{cart_id}/checkout", json=body) as placed:
                order_id = (await placed.json())["order_id"]
            accepted_at = time.time()
            load.accepted[order_id] = accepted_at
            load.flow_s.append(time.perf_counter() - began)
        except (aiohttp.ClientError, TimeoutError) as error:
            status = getattr(error, "status", None)
            key = f"{step}: {status or type(error).__name__}"
            load.errors[key] = load.errors.get(key, 0) + 1


async def offered_load(
    customers: Customers, load: Load, seconds: float, at_end: Callable[[], object]
) -> None:
    """Start a customer every 1/rate seconds for `seconds`; then wait for them all.

    `at_end` is called when the window closes (the CPU snapshot), before the wait.
    """
    assert load.offered_per_s is not None
    interval = 1.0 / load.offered_per_s
    tasks: set[asyncio.Task[None]] = set()
    start_mono, start_wall = time.perf_counter(), time.time()
    arrivals = round(seconds * load.offered_per_s)
    for i in range(arrivals):
        delay = start_mono + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(customers.checkout(load))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.sleep(max(0.0, start_mono + seconds - time.perf_counter()))
    load.window = (start_wall, start_wall + (time.perf_counter() - start_mono))
    at_end()
    if tasks:
        await asyncio.gather(*tasks)
    load.finished_at = time.time()


async def max_load(
    customers: Customers,
    load: Load,
    seconds: float,
    concurrency: int,
    at_end: Callable[[], object],
) -> None:
    """`concurrency` customers check out back to back until `seconds` are up."""
    start_mono, start_wall = time.perf_counter(), time.time()
    end = start_mono + seconds

    async def one_customer() -> None:
        while time.perf_counter() < end:
            await customers.checkout(load)

    workers = [asyncio.create_task(one_customer()) for _ in range(concurrency)]
    await asyncio.sleep(seconds)
    load.window = (start_wall, start_wall + (time.perf_counter() - start_mono))
    at_end()
    await asyncio.gather(*workers)
    load.finished_at = time.time()
