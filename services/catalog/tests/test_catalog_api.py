"""The catalog API over its real store and read model (SQLite in tmp_path), no Kafka."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from orderflow_catalog.application import CatalogApplication
from orderflow_catalog.mapping import to_integration
from orderflow_catalog.projections import find_product
from orderflow_events import PriceChanged
from orderflow_runtime.projections import Projections

Body = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"


def test_a_listed_product_is_readable_at_once(
    client: TestClient, admin: dict[str, str], product_body: Body
) -> None:
    created = client.post("/products", json=product_body(), headers=admin)

    assert created.status_code == 201
    assert created.json()["price"] == {"amount": "19.90", "currency": "EUR"}
    got = client.get("/products/TSHIRT-RED-M")
    assert got.status_code == 200
    assert got.json() == created.json()
    assert got.json()["active"] is True
    assert got.json()["attributes"] == {"size": "M", "colour": "red"}


def test_listing_an_existing_sku_is_a_conflict(
    client: TestClient, admin: dict[str, str], product_body: Body
) -> None:
    assert client.post("/products", json=product_body(), headers=admin).status_code == 201

    again = client.post("/products", json=product_body(name="Other"), headers=admin)

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["sku"] == "TSHIRT-RED-M"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sku", "-starts-with-dash"),
        ("sku", "x" * 65),
        ("price", {"amount": 19.9, "currency": "EUR"}),  # a JSON number: never for money
        ("price", {"amount": "19.999", "currency": "EUR"}),
        ("price", {"amount": "19.90", "currency": "XXY"}),
        ("price", {"amount": "0", "currency": "EUR"}),
        ("weight_grams", 0),
        ("weight_grams", 1_000_001),
        ("name", ""),
        ("image_urls", ["ftp://img.example.com/a.jpg"]),
        ("unknown_field", 1),
    ],
)
def test_bad_input_is_a_422_problem(
    client: TestClient, admin: dict[str, str], product_body: Body, field: str, value: Any
) -> None:
    response = client.post("/products", json=product_body(**{field: value}), headers=admin)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert any(field in error["field"] for error in response.json()["errors"])


def test_admin_endpoints_need_the_api_key(client: TestClient, product_body: Body) -> None:
    wrong = {"X-API-Key": "guess"}
    assert client.post("/products", json=product_body()).status_code == 401
    assert client.post("/products", json=product_body(), headers=wrong).status_code == 401
    assert client.delete("/products/TSHIRT-RED-M").status_code == 401
    assert client.get("/products").status_code == 200  # reads are public


def test_unknown_skus_are_404_problems(client: TestClient, admin: dict[str, str]) -> None:
    price = {"price": {"amount": "1.00", "currency": "EUR"}}
    details = {"name": "X", "category": "c", "weight_grams": 1}

    responses = [
        client.get("/products/NOPE"),
        client.put("/products/NOPE", json=details, headers=admin),
        client.put("/products/NOPE/price", json=price, headers=admin),
        client.delete("/products/NOPE", headers=admin),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.headers["content-type"] == PROBLEM for r in responses)


def test_details_update_replaces_them(
    client: TestClient, admin: dict[str, str], product_body: Body
) -> None:
    client.post("/products", json=product_body(), headers=admin)
    details = {"name": "T-shirt, organic", "category": "tops", "weight_grams": 200}

    updated = client.put("/products/TSHIRT-RED-M", json=details, headers=admin)

    assert updated.status_code == 200
    body = client.get("/products/TSHIRT-RED-M").json()
    assert body["name"] == "T-shirt, organic"
    assert (body["category"], body["weight_grams"]) == ("tops", 200)
    assert body["attributes"] == {}
    assert body["image_urls"] == []


def test_a_price_change_keeps_the_currency(
    client: TestClient, admin: dict[str, str], product_body: Body, app: CatalogApplication
) -> None:
    client.post("/products", json=product_body(), headers=admin)

    changed = client.put(
        "/products/TSHIRT-RED-M/price",
        json={"price": {"amount": "24.90", "currency": "EUR"}},
        headers=admin,
    )
    other_currency = client.put(
        "/products/TSHIRT-RED-M/price",
        json={"price": {"amount": "24.90", "currency": "USD"}},
        headers=admin,
    )

    assert changed.status_code == 200
    assert changed.json()["price"] == {"amount": "24.90", "currency": "EUR"}
    assert other_currency.status_code == 422
    assert "EUR" in other_currency.json()["detail"]
    # the stored change publishes the previous price too
    published = [to_integration(n) for n in _stored_events(app)]
    price_changes = [e for e in published if isinstance(e, PriceChanged)]
    assert [str(e.previous_price) for e in price_changes] == ["19.90 EUR"]


def test_delisting_hides_a_product_from_the_list_and_refuses_changes(
    client: TestClient, admin: dict[str, str], product_body: Body
) -> None:
    client.post("/products", json=product_body(), headers=admin)

    assert client.delete("/products/TSHIRT-RED-M", headers=admin).status_code == 204
    assert client.delete("/products/TSHIRT-RED-M", headers=admin).status_code == 204

    assert client.get("/products").json()["total"] == 0
    assert client.get("/products/TSHIRT-RED-M").json()["active"] is False
    price = {"price": {"amount": "1.00", "currency": "EUR"}}
    refused = client.put("/products/TSHIRT-RED-M/price", json=price, headers=admin)
    assert refused.status_code == 409


def test_list_filters_by_category_searches_name_first_and_pages(
    client: TestClient, admin: dict[str, str], product_body: Body
) -> None:
    # Given five products, "blue" in two names and one description
    for sku, name, category, description in [
        ("A-1", "Plain mug", "kitchen", "A blue glaze inside"),
        ("A-2", "Blue mug", "kitchen", ""),
        ("A-3", "Tea towel", "kitchen", "Linen"),
        ("A-4", "BLUE shirt", "apparel", ""),
        ("A-5", "Socks 100%", "apparel", ""),
    ]:
        body = product_body(sku, name=name, category=category, description=description)
        assert client.post("/products", json=body, headers=admin).status_code == 201

    def skus(**params: Any) -> list[str]:
        return [p["sku"] for p in client.get("/products", params=params).json()["items"]]

    # Then the category filter, the case-insensitive search (name matches first)...
    assert skus(category="apparel") == ["A-4", "A-5"]
    assert skus(q="blue") == ["A-2", "A-4", "A-1"]
    assert skus(q="blue", category="kitchen") == ["A-2", "A-1"]
    assert skus(q="100%") == ["A-5"]
    assert skus(q="%") == ["A-5"]  # a literal percent sign, not a wildcard
    # ... and pages with the total count
    page = client.get("/products", params={"page": 2, "size": 2}).json()
    assert (page["total"], page["page"], page["size"]) == (5, 2, 2)
    # by name, ignoring case: Blue mug, BLUE shirt | Plain mug, Socks | Tea towel
    assert [p["sku"] for p in page["items"]] == ["A-1", "A-5"]
    assert client.get("/products", params={"size": 101}).status_code == 422
    assert client.get("/products", params={"page": 0}).status_code == 422


def test_the_read_model_rebuilt_from_the_store_equals_the_live_one(
    client: TestClient, admin: dict[str, str], product_body: Body, projections: Projections
) -> None:
    client.post("/products", json=product_body("A-1"), headers=admin)
    client.post("/products", json=product_body("A-2"), headers=admin)
    client.put(
        "/products/A-1/price", json={"price": {"amount": "5.00", "currency": "EUR"}}, headers=admin
    )
    client.delete("/products/A-2", headers=admin)
    with projections.engine.connect() as conn:
        live = [find_product(conn, sku) for sku in ("A-1", "A-2")]

    projections.rebuild()

    with projections.engine.connect() as conn:
        assert [find_product(conn, sku) for sku in ("A-1", "A-2")] == live


def _stored_events(app: CatalogApplication) -> list[Any]:
    notifications = app.process_recorder.select_notifications(start=1, limit=100)
    return [app.mapper.to_domain_event(n) for n in notifications]
