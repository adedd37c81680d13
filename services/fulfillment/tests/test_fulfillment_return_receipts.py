"""The warehouse records a returned parcel by its RMA (-> ReturnReceived); the return shows
in GET /returns/{rma} and GET /shipments/{order_id}; a bad receipt is a problem."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from orderflow_events import ReturnAuthorized, ReturnReceived

if TYPE_CHECKING:
    from conftest import Harness

KEY = {"X-API-Key": "test-key"}


@pytest.fixture
def client(harness: Harness) -> Iterator[TestClient]:
    assert harness.spec.api is not None
    with TestClient(harness.spec.api) as client:
        yield client


def authorised_return(harness: Harness, quantity: int = 2) -> ReturnAuthorized:
    order = harness.delivered_order()
    harness.deliver(harness.return_requested(order.order_id, quantity))
    [authorized] = harness.published(ReturnAuthorized)
    return authorized


def receipt(*lines: tuple[str, int, str]) -> dict[str, Any]:
    return {"lines": [{"sku": s, "quantity": q, "condition": c} for s, q, c in lines]}


def test_a_receipt_records_the_parcel_once(harness: Harness, client: TestClient) -> None:
    # Given an authorised return of 2 units (the read model has not caught up)
    authorized = authorised_return(harness)
    url = f"/returns/{authorized.rma}/receipt"

    # When the warehouse finds one resellable and one damaged unit
    body = receipt(("TSHIRT-RED-M", 1, "resellable"), ("TSHIRT-RED-M", 1, "damaged"))
    response = client.post(url, json=body, headers=KEY)

    # Then ReturnReceived with each line's condition, and the return shows it
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "received"
    [received] = harness.published(ReturnReceived)
    assert (received.return_id, received.rma) == (authorized.return_id, authorized.rma)
    assert [(ln.sku, ln.quantity, str(ln.condition)) for ln in received.lines] == [
        ("TSHIRT-RED-M", 1, "resellable"),
        ("TSHIRT-RED-M", 1, "damaged"),
    ]
    shown = client.get(f"/returns/{authorized.rma}", headers=KEY).json()
    assert shown["order_id"] == str(authorized.order_id)
    assert shown["received"] == body["lines"]
    assert shown["label"] == authorized.label.model_dump()

    # And a second receipt for it is a conflict
    again = client.post(url, json=body, headers=KEY)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert len(harness.published(ReturnReceived)) == 1


def test_fewer_units_than_authorised_may_arrive(harness: Harness, client: TestClient) -> None:
    authorized = authorised_return(harness, 2)
    body = receipt(("TSHIRT-RED-M", 1, "defective"))
    response = client.post(f"/returns/{authorized.rma}/receipt", json=body, headers=KEY)
    assert response.status_code == 201
    [received] = harness.published(ReturnReceived)
    assert received.lines[0].quantity == 1


@pytest.mark.parametrize(
    "lines",
    [
        [("MUG-BLUE", 1, "resellable")],
        [("TSHIRT-RED-M", 2, "resellable")],
        [("TSHIRT-RED-M", 1, "resellable"), ("TSHIRT-RED-M", 1, "damaged")],
    ],
    ids=["sku not in the return", "more than authorised", "more over two conditions"],
)
def test_a_parcel_that_does_not_match_is_a_422_problem(
    harness: Harness, client: TestClient, lines: list[tuple[str, int, str]]
) -> None:
    authorized = authorised_return(harness, 1)
    response = client.post(f"/returns/{authorized.rma}/receipt", json=receipt(*lines), headers=KEY)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/unprocessable")
    assert harness.published(ReturnReceived) == []


def test_an_unknown_rma_is_a_404_problem(harness: Harness, client: TestClient) -> None:
    authorised_return(harness)
    body = receipt(("TSHIRT-RED-M", 1, "resellable"))
    for rma in ("RMA-0000000000", "nonsense"):
        response = client.post(f"/returns/{rma}/receipt", json=body, headers=KEY)
        assert response.status_code == 404
        assert response.json()["type"].endswith("/not-found")
        assert client.get(f"/returns/{rma}", headers=KEY).status_code == 404
    assert harness.published(ReturnReceived) == []


@pytest.mark.parametrize(
    "body",
    [
        {"lines": []},
        receipt(("TSHIRT-RED-M", 1, "broken")),
        receipt(("TSHIRT-RED-M", 0, "resellable")),
        receipt(("TSHIRT RED", 1, "resellable")),
    ],
    ids=["no lines", "unknown condition", "zero units", "bad sku"],
)
def test_a_malformed_receipt_is_a_422_problem(
    harness: Harness, client: TestClient, body: dict[str, Any]
) -> None:
    authorized = authorised_return(harness)
    response = client.post(f"/returns/{authorized.rma}/receipt", json=body, headers=KEY)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-request")


def test_the_return_endpoints_need_the_key(harness: Harness, client: TestClient) -> None:
    authorized = authorised_return(harness)
    body = receipt(("TSHIRT-RED-M", 1, "resellable"))
    assert client.post(f"/returns/{authorized.rma}/receipt", json=body).status_code == 401
    assert client.get(f"/returns/{authorized.rma}").status_code == 401
    assert harness.published(ReturnReceived) == []


def test_the_shipment_lists_its_returns(harness: Harness, client: TestClient) -> None:
    authorized = authorised_return(harness, 2)
    rejected = harness.return_requested(authorized.order_id, 1)
    harness.deliver(rejected)
    body = client.get(f"/shipments/{authorized.order_id}", headers=KEY).json()
    assert [(r["return_id"], r["status"], r["rma"]) for r in body["returns"]] == [
        (str(authorized.return_id), "authorized", authorized.rma),
        (str(rejected.return_id), "rejected", None),
    ]
    assert body["returns"][1]["reason"].startswith("Only 0 unit(s)")
    assert client.get(f"/shipments/{uuid.uuid4()}", headers=KEY).status_code == 404
