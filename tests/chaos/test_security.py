"""Security checks: credentials on admin and operator routes, no card number anywhere, no
secret in any log.

1. Every route of every service's OpenAPI document that is not on the public list below
   answers 401 without the key and with a wrong one (a new route is private until it is
   listed here on purpose).
2. The card-number scanner finds card numbers and leaves ids alone. Its scan of every
   store, topic and log after a soak in which customers type card numbers into every
   free-text field is in `test_soak.py` (one soak serves both).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from orderflow_devinfra import cardscan
from orderflow_devinfra.shop import SERVICES, Shop, wait_ready

pytestmark = pytest.mark.timeout(600)

PUBLIC: dict[str, set[tuple[str, str]]] = {
    "catalog": {("GET", "/products"), ("GET", "/products/{sku}")},
    "cart": {
        ("POST", "/carts"),
        ("GET", "/carts/{cart_id}"),
        ("POST", "/carts/{cart_id}/items"),
        ("PATCH", "/carts/{cart_id}/items/{sku}"),
        ("DELETE", "/carts/{cart_id}/items/{sku}"),
        ("DELETE", "/carts/{cart_id}/items"),
        ("POST", "/carts/{cart_id}/checkout"),
        ("GET", "/orders/{order_id}"),
        ("POST", "/orders/{order_id}/cancel"),
        ("POST", "/orders/{order_id}/returns"),
        ("GET", "/customers/{email}/orders"),
    },
}
"""What customers may call without a key; everything else is admin, operator or carrier."""
OPERATIONAL = {"/health/live", "/health/ready", "/metrics"}
PATH_VALUES = {
    "sku": "SEC-1",
    "email": "someone@example.com",
    "carrier": "sandbox",
    "rma": "RMA-1",
}


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return PATH_VALUES.get(name, str(uuid.uuid4()))

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.fixture
def shop(
    kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path
) -> Iterator[Shop]:
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    try:
        for service in SERVICES:
            settings = {"carrier_webhook_key": "hook-key"} if service == "fulfillment" else {}
            shop.launch(service, **settings)
        for running in shop.services.values():
            wait_ready(running)
        yield shop
    finally:
        shop.stop_all()


def test_admin_and_operator_routes_need_a_credential(shop: Shop) -> None:
    checked, open_routes = 0, []
    for service, running in shop.services.items():
        with httpx.Client(base_url=running.url, timeout=10) as http:
            document = http.get("/openapi.json").json()
            for path, item in document["paths"].items():
                for method in item:
                    if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                        continue
                    if (method.upper(), path) in PUBLIC.get(service, set()) or path in OPERATIONAL:
                        continue
                    url = _fill(path)
                    body = {} if method.upper() in ("POST", "PUT", "PATCH") else None
                    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
                        response = http.request(method.upper(), url, json=body, headers=headers)
                        checked += 1
                        if response.status_code != 401:
                            got = response.status_code
                            open_routes.append(
                                f"{service} {method.upper()} {path} {headers}: {got}"
                            )
    assert checked >= 20 * 3, f"only {checked} checks: did the documents list the routes?"
    assert not open_routes, "\n".join(open_routes)


def test_the_scanner_finds_card_numbers_and_ignores_ids() -> None:
    assert cardscan.card_numbers("pay with 4111 1111 1111 1111 please") == ["411111******1111"]
    assert cardscan.card_numbers('{"token": "5555-5555-5555-4444"}')
    assert cardscan.card_numbers("4242424242424242@example.com")
    assert not cardscan.card_numbers("4111 1111 1111 1112")  # fails Luhn
    assert not cardscan.card_numbers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert not cardscan.card_numbers(
        "trace 1234567890123456a7 id 0c1d2f0c-0001-4000-8000-1234567890120"
    )
    assert not cardscan.card_numbers(str(uuid.UUID("12345678-1234-5678-1234-567812345678")))
    # a traceparent whose span id happens to be all digits (flags 03: 18 digits, Luhn-valid)
    span = next(f"{n:016d}" for n in range(10**15, 10**16) if cardscan.luhn_valid(f"{n:016d}03"))
    assert not cardscan.card_numbers(
        f'"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-03"'
    )
    assert cardscan.card_numbers(f"card {span}03 please")
