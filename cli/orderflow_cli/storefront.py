"""The demo's shop: its catalog, its customers' baskets, and what they do over HTTP."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import httpx
from orderflow_devinfra.sample_shop import CATALOG, LIMITED_SKU, Customer
from orderflow_devinfra.shop import Shop
from rich.console import Console
from rich.table import Table

Basket = dict[str, int]


def _http(shop: Shop, service: str) -> httpx.Client:
    running = shop.services[service]
    return httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=30)


def seed(shop: Shop, units_per_sku: int, limited_units: int = 3) -> None:
    """List the catalog and receive `units_per_sku` of each product (few of the limited one)."""
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
            units = limited_units if sku == LIMITED_SKU else units_per_sku
            inventory.post(f"/stock/{sku}/receipts", json={"quantity": units})


def checkout(shop: Shop, who: Customer) -> str:
    """One customer: a cart, its items, checkout; returns the order id."""
    number, items, address = who.number, who.basket, who.address
    with _http(shop, "cart") as cart:
        cart_id = cart.post("/carts").raise_for_status().json()["cart_id"]
        for sku, quantity in items.items():
            add = {"sku": sku, "quantity": quantity}
            _retry(lambda add=add: cart.post(f"/carts/{cart_id}/items", json=add).is_success)
        response = cart.post(
            f"/carts/{cart_id}/checkout",
            json={
                "email": who.email,
                "shipping_address": address,
                "shipping_method": "express" if number % 4 == 0 else "standard",
                "payment": {"token": who.token, "brand": "visa", "last4": "4242"},
            },
        )
        response.raise_for_status()
        order_id: str = response.json()["order_id"]
        return order_id


def cancel(shop: Shop, order_id: str) -> None:
    """The customer changes their mind (202 accepted, or 409 when it has shipped already)."""
    with _http(shop, "cart") as cart:
        cart.post(f"/orders/{order_id}/cancel")


def return_some(shop: Shop, order_id: str, rng: random.Random) -> None:
    """Send back part of a delivered order; the warehouse receives it a moment later."""
    with _http(shop, "cart") as cart:
        lines = cart.get(f"/orders/{order_id}").json()["lines"]
    line = rng.choice(lines)
    with _http(shop, "cart") as cart:
        response = cart.post(
            f"/orders/{order_id}/returns",
            json={
                "lines": [{"sku": line["sku"], "quantity": line["quantity"]}],
                "reason": "Changed my mind",
            },
        )
    if response.status_code != 202:
        return
    return_id = response.json()["return_id"]
    for _ in range(200):  # until fulfillment authorised it (the cart shows the RMA)
        with _http(shop, "cart") as cart:
            returns = cart.get(f"/orders/{order_id}").json().get("returns", [])
        rma = next((r.get("rma") for r in returns if r.get("return_id") == return_id), None)
        if rma:
            condition = rng.choice(["resellable", "resellable", "damaged"])
            receipt = {
                "lines": [
                    {"sku": line["sku"], "quantity": line["quantity"], "condition": condition}
                ]
            }
            with _http(shop, "fulfillment") as fulfillment:
                fulfillment.post(f"/returns/{rma}/receipt", json=receipt)
            return
        time.sleep(0.1)


def order_states(shop: Shop, order_ids: list[str]) -> dict[str, str]:
    with _http(shop, "cart") as cart:
        return {oid: cart.get(f"/orders/{oid}").json().get("status", "?") for oid in order_ids}


def cancel_reasons(shop: Shop, order_ids: list[str]) -> dict[str, int]:
    """How many of these orders were cancelled for each reason."""
    reasons: Counter[str] = Counter()
    with _http(shop, "cart") as cart:
        for order_id in order_ids:
            cancellation = cart.get(f"/orders/{order_id}").json().get("cancellation") or {}
            if cancellation.get("status") == "cancelled":
                reasons[cancellation.get("reason", "?")] += 1
    return dict(sorted(reasons.items()))


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
    for reason, count in result.get("cancel_reasons", {}).items():
        table.add_row(f"  cancelled: {reason}", str(count))
    table.add_row("emails sent", str(result["emails"]))
    Console(width=160).print(table)


def _retry(attempt: Any, times: int = 600) -> None:
    """Until the service has caught up with the catalog events (eventually consistent)."""
    for _ in range(times):
        if attempt():
            return
        time.sleep(0.1)
    raise RuntimeError("the shop did not catch up with the catalog in time")
