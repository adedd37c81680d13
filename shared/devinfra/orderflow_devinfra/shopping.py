"""What a shop admin and a customer do over the services' HTTP APIs (saga and fault tests)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from orderflow_devinfra.shop import Shop

ADDRESS_DE = {
    "name": "Grace Hopper",
    "line1": "Friedrichstrasse 10",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}
CARD = {"token": "tok_approve", "brand": "visa", "last4": "4242"}


def client(shop: Shop, service: str) -> httpx.Client:
    running = shop.services[service]
    return httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=30)


def list_product(shop: Shop, sku: str, price: str, *, weight_grams: int = 500) -> None:
    with client(shop, "catalog") as catalog:
        response = catalog.post(
            "/products",
            json={
                "sku": sku,
                "name": f"Product {sku}",
                "description": f"A fine {sku}",
                "category": "apparel",
                "attributes": {"size": "M"},
                "image_urls": [f"https://img.example.com/{sku}.jpg"],
                "price": {"amount": price, "currency": "EUR"},
                "weight_grams": weight_grams,
            },
        )
        response.raise_for_status()


def receive_stock(shop: Shop, sku: str, quantity: int) -> None:
    """Wait until inventory knows the sku (from ProductListed), then receive stock."""
    with client(shop, "inventory") as inventory:
        eventually(lambda: inventory.get(f"/stock/{sku}").status_code == 200, what=f"stock {sku}")
        inventory.post(f"/stock/{sku}/receipts", json={"quantity": quantity}).raise_for_status()


def buy(shop: Shop, email: str, lines: dict[str, int], *, token: str = "tok_approve") -> str:
    """A customer's cart and checkout; returns the order id."""
    with client(shop, "cart") as cart:
        cart_id = cart.post("/carts").raise_for_status().json()["cart_id"]
        for sku, quantity in lines.items():
            add = {"sku": sku, "quantity": quantity}
            eventually(
                lambda add=add: cart.post(f"/carts/{cart_id}/items", json=add).status_code < 300,
                what=f"cart accepts {add['sku']}",
            )
        checkout = {
            "email": email,
            "shipping_address": ADDRESS_DE,
            "shipping_method": "standard",
            "payment": {**CARD, "token": token},
        }
        response = cart.post(f"/carts/{cart_id}/checkout", json=checkout)
        assert response.status_code == 201, response.text
        order_id: str = response.json()["order_id"]
        return order_id


def order(shop: Shop, order_id: str) -> dict[str, Any]:
    with client(shop, "cart") as cart:
        response = cart.get(f"/orders/{order_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def wait_status(shop: Shop, order_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(order(shop, order_id))
        return bool(found["status"] == status)

    eventually(reached, timeout=timeout, what=f"order {order_id} {status} (now {found})")
    return found


def eventually(condition: Any, *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
