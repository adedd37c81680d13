"""GET /payments/{order_id}: operators only, problem details, no token in the response."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from orderflow_events import ORDERS_EVENTS, PAYMENT_EVENTS, OrderCancelled, OrderPlaced, Shipped
from orderflow_payment.api import create_api
from orderflow_payment.main import build
from orderflow_payment.settings import PaymentSettings

if TYPE_CHECKING:
    from conftest import Harness

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def client(harness: Harness, settings: PaymentSettings) -> Iterator[TestClient]:
    with TestClient(create_api(harness.app, settings)) as client:
        yield client


def test_the_payment_shows_amounts_attempts_and_the_card_without_its_token(
    harness: Harness, client: TestClient
) -> None:
    order = harness.order("tok_transient_then_approve")
    harness.deliver(order)
    harness.deliver(harness.shipped(order.order_id))
    response = client.get(f"/payments/{order.order_id}", headers=KEY)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "captured"
    assert body["authorized"] == {"amount": "53.19", "currency": "EUR"}
    assert body["captured"] == {"amount": "53.19", "currency": "EUR"}
    assert body["refunded"] == {"amount": "0.00", "currency": "EUR"}
    assert (body["brand"], body["last4"], body["auth_attempts"]) == ("visa", "4242", 2)
    assert "tok_" not in response.text


def test_a_declined_payment_shows_its_reason_and_no_authorised_amount(
    harness: Harness, client: TestClient
) -> None:
    order = harness.order("tok_decline_funds")
    harness.deliver(order)
    body = client.get(f"/payments/{order.order_id}", headers=KEY).json()
    assert (body["status"], body["decline_reason"], body["authorized"]) == (
        "declined",
        "insufficient_funds",
        None,
    )


def test_an_unknown_order_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"/payments/{uuid.uuid4()}", headers=KEY)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")


def test_the_endpoint_needs_the_admin_key(harness: Harness, client: TestClient) -> None:
    order = harness.order()
    harness.deliver(order)
    assert client.get(f"/payments/{order.order_id}").status_code == 401
    wrong = {"X-API-Key": "wrong"}
    assert client.get(f"/payments/{order.order_id}", headers=wrong).status_code == 401


def test_a_malformed_order_id_is_a_422_problem(client: TestClient) -> None:
    response = client.get("/payments/not-a-uuid", headers=KEY)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.order_id"


def test_build_wires_the_topics_and_handlers(settings: PaymentSettings) -> None:
    spec = build(settings)
    try:
        assert spec.output_topic == PAYMENT_EVENTS
        assert ORDERS_EVENTS in spec.input_topics
        assert set(spec.handlers) == {
            OrderPlaced.ce_type,
            Shipped.ce_type,
            OrderCancelled.ce_type,
        }
    finally:
        spec.app.close()
