"""The demo's shop: its catalog, its customers' baskets, and what they do over HTTP."""

from __future__ import annotations

import random
from typing import Any

import httpx
from orderflow_devinfra.shop import Shop
from rich.console import Console
from rich.table import Table

# sku, name, category, price (EUR), weight in grams
CATALOG: list[tuple[str, str, str, str, int]] = [
    ("TEE-RED-M", "T-shirt red M", "apparel", "19.90", 180),
    ("TEE-BLUE-L", "T-shirt blue L", "apparel", "19.90", 190),
    ("HOODIE-GREY-M", "Hoodie grey M", "apparel", "49.00", 600),
    ("MUG-001", "Ceramic mug", "kitchen", "8.50", 350),
    ("KETTLE-STEEL", "Steel kettle", "kitchen", "34.90", 1200),
    ("BOOK-DDD", "Domain-Driven Design", "books", "54.00", 900),
]
ADDRESSES: list[dict[str, str]] = [
    {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    {
        "name": "Grace Hopper",
        "line1": "Friedrichstrasse 10",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
    },
    {
        "name": "Alan Kay",
        "line1": "1 Market St",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country": "US",
    },
]
Basket = dict[str, int]


def _http(shop: Shop, service: str) -> httpx.Client:
    running = shop.services[service]
    return httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=30)


def seed(shop: Shop, units_per_sku: int) -> None:
    """List the catalog and receive `units_per_sku` of each product."""
    with _http(shop, "catalog") as catalog:
        for sku, name, category, price, grams in CATALOG:
            catalog.post(
                "/products",
                json={
                    "sku": sku,
                    "name": name,
                    "description": f"{name}, from the demo catalog.",
                    "category": category,
                    "price": {"amount": price, "currency": "EUR"},
                    "weight_grams": grams,
                },
            ).raise_for_status()
    with _http(shop, "inventory") as inventory:
        for sku, *_ in CATALOG:
            _retry(lambda sku=sku: inventory.get(f"/stock/{sku}").status_code == 200)
            inventory.post(f"/stock/{sku}/receipts", json={"quantity": units_per_sku})


def basket(rng: random.Random) -> tuple[Basket, dict[str, str]]:
    skus = rng.sample([row[0] for row in CATALOG], k=rng.randint(1, 3))
    return {sku: rng.randint(1, 2) for sku in skus}, rng.choice(ADDRESSES)


def checkout(shop: Shop, number: int, choice: tuple[Basket, dict[str, str]]) -> str:
    """One customer: a cart, its items, checkout; returns the order id."""
    items, address = choice
    with _http(shop, "cart") as cart:
        cart_id = cart.post("/carts").raise_for_status().json()["cart_id"]
        for sku, quantity in items.items():
            add = {"sku": sku, "quantity": quantity}
            _retry(lambda add=add: cart.post(f"/carts/{cart_id}/items", json=add).is_success)
        response = cart.post(
            f"/carts/{cart_id}/checkout",
            json={
                "email": f"customer{number}@example.com",
                "shipping_address": address,
                "shipping_method": "express" if number % 4 == 0 else "standard",
                "payment": {"token": "tok_approve", "brand": "visa", "last4": "4242"},
            },
        )
        response.raise_for_status()
        order_id: str = response.json()["order_id"]
        return order_id


def order_states(shop: Shop, order_ids: list[str]) -> dict[str, str]:
    with _http(shop, "cart") as cart:
        return {oid: cart.get(f"/orders/{oid}").json().get("status", "?") for oid in order_ids}


def notices_pending(shop: Shop) -> int:
    """Notices requested or being sent (the notification service's own backlog)."""
    with _http(shop, "notification") as notification:
        return sum(
            len(notification.get("/notices", params={"status": status}).json())
            for status in ("requested", "claimed")
        )


def print_states(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['orders']} orders after {result['seconds']} s")
    table.add_column("final state")
    table.add_column("orders", justify="right")
    for state, count in result["states"].items():
        table.add_row(state, str(count))
    table.add_row("emails sent", str(result["emails"]))
    Console(width=160).print(table)


def _retry(attempt: Any, times: int = 600) -> None:
    """Until the service has caught up with the catalog events (eventually consistent)."""
    import time

    for _ in range(times):
        if attempt():
            return
        time.sleep(0.1)
    raise RuntimeError("the shop did not catch up with the catalog in time")
