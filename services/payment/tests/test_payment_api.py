"""GET /payments/{order_id}: operators only, problem details, no token in the response."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from orderflow_events import (
    FULFILLMENT_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    OrderCancelled,
    OrderPlaced,
    ReturnReceived,
    Shipped,
)
from orderflow_payment.api import create_api
from orderflow_payment.domain import NAMESPACE
from orderflow_payment.main import build
from orderflow_payment.settings import PaymentSettings

if TYPE_CHECKING:
    from conftest import Harness

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def client(harness: Harness, settings: PaymentSettings) -> Iterator[TestClient]:
    with TestClient(create_api(harness.app, settings, harness.projections)) as client:
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
        assert set(spec.input_topics) == {ORDERS_EVENTS, FULFILLMENT_EVENTS}
        assert set(spec.handlers) == {
            OrderPlaced.ce_type,
            Shipped.ce_type,
            OrderCancelled.ce_type,
            ReturnReceived.ce_type,
        }
    finally:
        spec.app.close()


def test_the_list_shows_every_payment_with_what_the_invariants_need(
    harness: Harness, client: TestClient
) -> None:
    # Given a captured-then-partly-refunded, a voided, a declined and a cancelled-early order
    refunded = harness.order()
    harness.deliver(refunded)
    harness.deliver(harness.shipped(refunded.order_id))
    returned = harness.return_received(refunded.order_id)
    harness.deliver(returned)
    voided = harness.order()
    harness.deliver(voided)
    harness.deliver(harness.cancelled(voided.order_id))
    declined = harness.order("tok_decline_funds")
    harness.deliver(declined)
    early = harness.order()
    harness.deliver(harness.cancelled(early.order_id))

    # When operators list the payments
    response = client.get("/payments", headers=KEY)

    # Then each shows its amounts, voided flag, authorisations and refunds, oldest first
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["size"]) == (4, 1, 100)
    items = {item["order_id"]: item for item in body["items"]}
    assert list(items) == [str(o.order_id) for o in (refunded, voided, declined, early)]
    first = items[str(refunded.order_id)]
    assert (first["status"], first["voided"], first["authorizations"]) == ("captured", False, 1)
    assert first["captured"] == {"amount": "53.19", "currency": "EUR"}
    assert first["refunded"] == {"amount": "23.68", "currency": "EUR"}
    assert first["refunds"] == [
        {
            "refund_id": str(uuid.uuid5(NAMESPACE, f"refund:{returned.return_id}")),
            "amount": {"amount": "23.68", "currency": "EUR"},
            "return_id": str(returned.return_id),
        }
    ]
    second = items[str(voided.order_id)]
    assert (second["status"], second["voided"], second["authorizations"]) == ("voided", True, 1)
    assert second["captured"] == {"amount": "0.00", "currency": "EUR"}
    third = items[str(declined.order_id)]
    assert (third["authorized"], third["authorizations"], third["voided"]) == (None, 0, False)
    fourth = items[str(early.order_id)]
    assert (fourth["status"], fourth["authorized"], fourth["captured"]) == (
        "cancelled",
        None,
        None,
    )
    assert "tok_" not in response.text


def test_the_list_is_paged(harness: Harness, client: TestClient) -> None:
    orders = [harness.order() for _ in range(5)]
    for placed in orders:
        harness.deliver(placed)
    pages = [client.get("/payments", params={"page": n, "size": 2}, headers=KEY) for n in (1, 2, 3)]
    listed = [item["order_id"] for page in pages for item in page.json()["items"]]
    assert listed == [str(o.order_id) for o in orders]
    assert [len(page.json()["items"]) for page in pages] == [2, 2, 1]
    assert all(page.json()["total"] == 5 for page in pages)


def test_the_list_needs_the_key_and_sane_pages(client: TestClient) -> None:
    assert client.get("/payments").status_code == 401
    assert client.get("/payments", params={"size": 501}, headers=KEY).status_code == 422
    assert client.get("/payments", params={"page": 0}, headers=KEY).status_code == 422
    empty = client.get("/payments", headers=KEY).json()
    assert (empty["items"], empty["total"]) == ([], 0)
