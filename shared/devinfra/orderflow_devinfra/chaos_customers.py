"""The soak's customers: what they buy, and how they keep shopping while services die.

Every call goes through `Caller.call`, which retries while a service is down, being
restarted or waiting for its database (connection errors, 5xx), so that a fault shows
up as latency for the customer, never as a lost request in the driver. The customers
are the sample shop's (`sample_shop`), as in the demo.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from orderflow_devinfra.sample_shop import CATALOG, LIMITED_SKU, Customer
from orderflow_devinfra.shop import Shop

TEST_CARD_NUMBERS = ("4111111111111111", "4242 4242 4242 4242", "5555-5555-5555-4444")
"""Well-known test PANs (Luhn-valid): what a careless customer pastes into a form."""


class ShopUnavailable(RuntimeError):  # noqa: N818 - says what happened
    """A service kept failing for longer than the caller's patience."""


@dataclass
class Caller:
    """HTTP calls to the shop's services that ride out restarts and outages."""

    shop: Shop
    patience_s: float = 180.0
    retries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        admin: bool = True,
        retry_statuses: Iterable[int] = (),
    ) -> httpx.Response:
        """The first answer that is neither a transport error nor a 5xx (nor `retry_statuses`)."""
        again = {500, 502, 503, 504, *retry_statuses}
        deadline = time.monotonic() + self.patience_s
        last = ""
        while True:
            running = self.shop.services[service]  # its port may change on a restart
            headers = running.admin_headers if admin else {}
            try:
                with httpx.Client(base_url=running.url, headers=headers, timeout=20) as http:
                    response = http.request(method, path, json=json, params=params)
                if response.status_code not in again:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as error:
                last = repr(error)
            with self._lock:
                self.retries[service] += 1
            if time.monotonic() > deadline:
                raise ShopUnavailable(f"{service} {method} {path}: {last}")
            time.sleep(0.25)


def seed(caller: Caller, units_per_sku: int, limited_units: int) -> None:
    """List the catalog, receive stock, and wait until the cart can sell every product."""
    for sku, name, category, price, grams in CATALOG:
        response = caller.call(
            "catalog",
            "POST",
            "/products",
            json={
                "sku": sku,
                "name": name,
                "description": f"{name}, from the soak catalog.",
                "category": category,
                "price": {"amount": price, "currency": "EUR"},
                "weight_grams": grams,
            },
        )
        if response.status_code not in (201, 409):
            raise RuntimeError(f"listing {sku}: {response.status_code} {response.text}")
    for sku, *_ in CATALOG:
        caller.call("inventory", "GET", f"/stock/{sku}", retry_statuses=(404,))
        units = limited_units if sku == LIMITED_SKU else units_per_sku
        response = caller.call(
            "inventory", "POST", f"/stock/{sku}/receipts", json={"quantity": units}
        )
        if response.status_code != 201:
            raise RuntimeError(f"receiving {sku}: {response.status_code} {response.text}")
    cart_id = caller.call("cart", "POST", "/carts", admin=False).json()["cart_id"]
    for sku, *_ in CATALOG:  # the cart learns the catalog from catalog.events
        item = {"sku": sku, "quantity": 1}
        caller.call(
            "cart",
            "POST",
            f"/carts/{cart_id}/items",
            json=item,
            admin=False,
            retry_statuses=(404, 409, 422),
        )


@dataclass
class Outcome:
    """What happened to one customer."""

    order_id: str | None = None
    cancel_asked: bool = False
    return_asked: bool = False
    returned: bool = False
    card_probes: int = 0
    card_probes_accepted: list[str] = field(default_factory=list)
    error: str | None = None


def shop_once(caller: Caller, who: Customer, rng: random.Random) -> Outcome:
    """One customer's visit: maybe a card-number probe, a checkout, a cancel or a return."""
    outcome = Outcome()
    try:
        if who.card_probe:
            probe_card_numbers(caller, who, outcome)
        outcome.order_id = checkout(caller, who)
        if outcome.order_id is None:
            return outcome
        if who.cancels:
            time.sleep(rng.uniform(0, 0.5))
            caller.call("cart", "POST", f"/orders/{outcome.order_id}/cancel", admin=False)
            outcome.cancel_asked = True
        elif who.returns:
            outcome.return_asked = True
            outcome.returned = return_some(caller, outcome.order_id, rng)
    except ShopUnavailable as error:
        outcome.error = str(error)
    return outcome


def checkout(caller: Caller, who: Customer) -> str | None:
    cart_id = caller.call("cart", "POST", "/carts", admin=False).json()["cart_id"]
    for sku, quantity in who.basket.items():
        item = {"sku": sku, "quantity": quantity}
        # a retried add after a lost answer adds twice: put the quantity right afterwards
        caller.call("cart", "POST", f"/carts/{cart_id}/items", json=item, admin=False)
        caller.call(
            "cart",
            "PATCH",
            f"/carts/{cart_id}/items/{sku}",
            json={"quantity": quantity},
            admin=False,
        )
    body = {
        "email": who.email,
        "shipping_address": who.address,
        "shipping_method": "express" if who.number % 4 == 0 else "standard",
        "payment": {"token": who.token, "brand": "visa", "last4": "4242"},
    }
    response = caller.call("cart", "POST", f"/carts/{cart_id}/checkout", json=body, admin=False)
    if response.status_code == 201:
        order_id: str = response.json()["order_id"]
        return order_id
    # Placed by an attempt whose answer was lost (the cart refuses a second checkout)?
    mine = caller.call("cart", "GET", f"/customers/{who.email}/orders", admin=False)
    orders = mine.json().get("orders", []) if mine.status_code == 200 else []
    return str(orders[0]["order_id"]) if orders else None


def return_some(caller: Caller, order_id: str, rng: random.Random) -> bool:
    """Wait for delivery, send back one line, and have the warehouse receive it."""
    order = _wait_order(caller, order_id, lambda o: o["status"] in _SETTLED, timeout=120)
    if order is None or order["status"] != "delivered":
        return False
    line = rng.choice(order["lines"])
    request = {"lines": [{"sku": line["sku"], "quantity": line["quantity"]}], "reason": "Too big"}
    response = caller.call("cart", "POST", f"/orders/{order_id}/returns", json=request, admin=False)
    if response.status_code != 202:
        return False
    return_id = response.json()["return_id"]

    def decided(o: dict[str, Any]) -> bool:
        mine = [r for r in o.get("returns", []) if r.get("return_id") == return_id]
        return bool(mine and (mine[0].get("rma") or mine[0].get("status") == "rejected"))

    order = _wait_order(caller, order_id, decided, timeout=120)
    if order is None:
        return False
    rma = next(r.get("rma") for r in order["returns"] if r.get("return_id") == return_id)
    if not rma:
        return False
    condition = rng.choice(["resellable", "resellable", "damaged"])
    receipt = {
        "lines": [{"sku": line["sku"], "quantity": line["quantity"], "condition": condition}]
    }
    response = caller.call(
        "fulfillment", "POST", f"/returns/{rma}/receipt", json=receipt, retry_statuses=(404,)
    )
    return response.status_code in (200, 201, 409)


_SETTLED = frozenset({"delivered", "cancelled", "returned", "partially_returned"})


def _wait_order(
    caller: Caller, order_id: str, condition: Any, *, timeout: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = caller.call("cart", "GET", f"/orders/{order_id}", admin=False)
        if response.status_code == 200:
            order: dict[str, Any] = response.json()
            if condition(order):
                return order
        time.sleep(0.5)
    return None


def card_number_requests(who: Customer, number: str) -> list[tuple[str, str, str, Any]]:
    """Requests with `number` where a customer may type text: (service, method, path, body)."""
    good: dict[str, Any] = {
        "email": who.email,
        "shipping_address": who.address,
        "shipping_method": "standard",
        "payment": {"token": "tok_approve", "brand": "visa", "last4": "1111"},
    }
    cart = str(uuid.uuid4())
    order = str(uuid.uuid4())
    bodies: list[tuple[str, str, str, Any]] = [
        (
            "cart",
            "POST",
            f"/carts/{cart}/checkout",
            {**good, "payment": {**good["payment"], "token": number}},
        ),
        (
            "cart",
            "POST",
            f"/carts/{cart}/checkout",
            {**good, "email": f"{number.replace(' ', '').replace('-', '')}@example.com"},
        ),
    ]
    for name in ("name", "line1", "line2", "city", "region", "postal_code", "phone"):
        address = {**who.address, name: number}
        bodies.append(
            ("cart", "POST", f"/carts/{cart}/checkout", {**good, "shipping_address": address})
        )
    bodies += [
        ("cart", "POST", f"/orders/{order}/cancel", {"reason": f"my card {number}"}),
        (
            "cart",
            "POST",
            f"/orders/{order}/returns",
            {"lines": [{"sku": "MUG-001", "quantity": 1}], "reason": number},
        ),
    ]
    return bodies


def probe_card_numbers(caller: Caller, who: Customer, outcome: Outcome) -> None:
    """Try a card number in every free-text field; each must be refused (4xx, never stored).

    The cart-item probe uses a real cart: its attributes would be stored with the cart.
    """
    number = TEST_CARD_NUMBERS[who.number % len(TEST_CARD_NUMBERS)]
    for service, method, path, body in card_number_requests(who, number):
        response = caller.call(service, method, path, json=body, admin=False)
        outcome.card_probes += 1
        if response.status_code != 422:
            outcome.card_probes_accepted.append(f"{method} {path} -> {response.status_code}")
    cart_id = caller.call("cart", "POST", "/carts", admin=False).json()["cart_id"]
    sku = next(iter(who.basket))
    item = {"sku": sku, "quantity": 1, "attributes": {"gift_note": f"card {number}"}}
    response = caller.call("cart", "POST", f"/carts/{cart_id}/items", json=item, admin=False)
    outcome.card_probes += 1
    if response.status_code != 422:
        outcome.card_probes_accepted.append(f"POST /carts/.../items -> {response.status_code}")
