"""The carrier webhook and the shipment lookup, through the API that `build` wires."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from orderflow_events import Delivered, Shipped

if TYPE_CHECKING:
    from conftest import Harness

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def client(harness: Harness) -> Iterator[TestClient]:
    assert harness.spec.api is not None
    with TestClient(harness.spec.api) as client:
        yield client


def shipped_order(harness: Harness) -> Shipped:
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    [shipped] = harness.published(Shipped)
    return shipped


def test_the_webhook_records_a_delivery_once(harness: Harness, client: TestClient) -> None:
    # Given a shipped order (the read model has not caught up: the webhook does that)
    shipped = shipped_order(harness)
    update = {
        "tracking_number": shipped.tracking_number,
        "status": "delivered",
        "occurred_at": "2025-03-03T10:00:00+01:00",
    }
    url = f"/carriers/{shipped.carrier}/webhook"

    # When the carrier reports the delivery twice
    first = client.post(url, json=update, headers=KEY)
    again = client.post(url, json=update, headers=KEY)

    # Then one Delivered, at the reported time, and the repeat says so
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    [delivered] = harness.published(Delivered)
    assert delivered.shipment_id == shipped.shipment_id
    assert delivered.delivered_at.isoformat() == "2025-03-03T09:00:00+00:00"
    view = client.get(f"/shipments/{shipped.order_id}", headers=KEY).json()
    assert view["status"] == "delivered"


def test_an_unknown_tracking_number_is_a_404_problem(harness: Harness, client: TestClient) -> None:
    shipped = shipped_order(harness)
    unknown = {"tracking_number": "PC000000000000", "status": "delivered"}
    response = client.post("/carriers/parcelco/webhook", json=unknown, headers=KEY)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")
    other_carrier = {"tracking_number": shipped.tracking_number, "status": "delivered"}
    wrong = "parcelco" if shipped.carrier == "swiftship" else "swiftship"
    response = client.post(f"/carriers/{wrong}/webhook", json=other_carrier, headers=KEY)
    assert response.status_code == 404
    assert harness.published(Delivered) == []


def test_the_webhook_needs_the_key_and_a_known_status(harness: Harness, client: TestClient) -> None:
    shipped = shipped_order(harness)
    url = f"/carriers/{shipped.carrier}/webhook"
    update = {"tracking_number": shipped.tracking_number, "status": "delivered"}
    assert client.post(url, json=update).status_code == 401
    lost = {**update, "status": "lost"}
    assert client.post(url, json=lost, headers=KEY).status_code == 422
    assert harness.published(Delivered) == []


def test_the_shipment_shows_carrier_tracking_and_cost(harness: Harness, client: TestClient) -> None:
    shipped = shipped_order(harness)
    response = client.get(f"/shipments/{shipped.order_id}", headers=KEY)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "shipped"
    assert (body["carrier"], body["service_level"]) == ("swiftship", "express")
    assert body["tracking_number"] == shipped.tracking_number
    assert body["shipping_cost"] == {"amount": "35.00", "currency": "EUR"}
    assert (body["parcel_grams"], body["destination_country"]) == (510, "GB")
    assert body["lines"] == [{"sku": "TSHIRT-RED-M", "quantity": 2}]
    assert client.get(f"/shipments/{shipped.order_id}").status_code == 401
    assert client.get(f"/shipments/{uuid.uuid4()}", headers=KEY).status_code == 404
