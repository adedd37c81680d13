"""The catalog service as a process on Kafka + PostgreSQL: admin changes become events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow_events import (
    CATALOG_EVENTS,
    Envelope,
    Money,
    PriceChanged,
    ProductDelisted,
    ProductListed,
    ProductUpdated,
)

from .conftest import Shop


def product(sku: str, name: str, category: str = "apparel", **extra: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "category": category,
        "description": extra.pop("description", ""),
        "attributes": {"size": "M"},
        "image_urls": [f"https://img.example.com/{sku}.jpg"],
        "price": {"amount": "19.90", "currency": "EUR"},
        "weight_grams": 180,
        **extra,
    }


def of(sku: str, kind: type[Any]) -> Callable[[Envelope], bool]:
    return lambda e: isinstance(e.data, kind) and getattr(e.data, "sku", None) == sku


async def test_admin_changes_are_served_and_published(shop: Shop) -> None:
    catalog = shop.start("catalog")
    admin = catalog.admin_headers
    with catalog.client() as http:
        # Given three products listed over HTTP
        for body in (
            product("TSHIRT-RED-M", "Red T-shirt", reorder_point=5),
            product("MUG-001", "Mug", "kitchen", description="A red glaze"),
            product("SOCKS-1", "Socks"),
        ):
            assert http.post("/products", json=body, headers=admin).status_code == 201

        # Then they are listed, filtered and searched at once (name matches first)
        listed = http.get("/products").json()
        assert listed["total"] == 3
        kitchen = http.get("/products", params={"category": "kitchen"}).json()
        assert [p["sku"] for p in kitchen["items"]] == ["MUG-001"]
        red = http.get("/products", params={"q": "RED"}).json()
        assert [p["sku"] for p in red["items"]] == ["TSHIRT-RED-M", "MUG-001"]

        # When an admin updates, reprices and delists
        details = {"name": "Red T-shirt, organic", "category": "apparel", "weight_grams": 190}
        assert http.put("/products/TSHIRT-RED-M", json=details, headers=admin).status_code == 200
        price = {"price": {"amount": "24.90", "currency": "EUR"}}
        repriced = http.put("/products/TSHIRT-RED-M/price", json=price, headers=admin)
        assert repriced.json()["price"] == price["price"]
        assert http.delete("/products/SOCKS-1", headers=admin).status_code == 204

        # Then reads see the changes at once
        assert http.get("/products").json()["total"] == 2
        assert http.get("/products/SOCKS-1").json()["active"] is False

    # And every change is on catalog.events, keyed by sku
    listed_event = await shop.wait_for(CATALOG_EVENTS, of("TSHIRT-RED-M", ProductListed))
    assert isinstance(listed_event.data, ProductListed)
    assert listed_event.data.reorder_point == 5
    assert listed_event.data.price == Money.of("19.90", "EUR")
    updated = await shop.wait_for(CATALOG_EVENTS, of("TSHIRT-RED-M", ProductUpdated))
    assert isinstance(updated.data, ProductUpdated)
    assert (updated.data.name, updated.data.weight_grams) == ("Red T-shirt, organic", 190)
    changed = await shop.wait_for(CATALOG_EVENTS, of("TSHIRT-RED-M", PriceChanged))
    assert isinstance(changed.data, PriceChanged)
    assert changed.data.previous_price == Money.of("19.90", "EUR")
    assert changed.data.price == Money.of("24.90", "EUR")
    await shop.wait_for(CATALOG_EVENTS, of("SOCKS-1", ProductDelisted))
    everything = await shop.events(CATALOG_EVENTS, at_least=6)
    assert len(everything) == 6  # 3 listed, 1 updated, 1 price, 1 delisted: nothing twice


async def test_bad_requests_are_problem_details(shop: Shop) -> None:
    catalog = shop.start("catalog")
    admin = catalog.admin_headers
    with catalog.client() as http:
        assert http.post("/products", json=product("A-1", "A"), headers=admin).status_code == 201
        answers = {
            "no key": http.post("/products", json=product("A-2", "A")),
            "duplicate": http.post("/products", json=product("A-1", "B"), headers=admin),
            "float price": http.post(
                "/products",
                json={**product("A-3", "C"), "price": {"amount": 1.5, "currency": "EUR"}},
                headers=admin,
            ),
            "bad sku": http.post("/products", json=product("-x", "D"), headers=admin),
            "other currency": http.put(
                "/products/A-1/price",
                json={"price": {"amount": "1.00", "currency": "USD"}},
                headers=admin,
            ),
            "unknown sku": http.get("/products/NOPE"),
            "unknown delist": http.delete("/products/NOPE", headers=admin),
        }

    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "no key": 401,
        "duplicate": 409,
        "float price": 422,
        "bad sku": 422,
        "other currency": 422,
        "unknown sku": 404,
        "unknown delist": 404,
    }
    for response in answers.values():
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
