"""The customer's cancel over HTTP, and the operators' list of every order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication
from orderflow_events import CancellationRequested

from .conftest import ADMIN_KEY, Deliver
from .saga import authorized, declined, place, published, reserved, shipped

pytestmark = pytest.mark.usefixtures("shop_app")
ADMIN = {"X-API-Key": ADMIN_KEY}


def test_a_cancel_is_accepted_once_and_answered_the_same_when_repeated(
    client: TestClient, shop_app: CartApplication
) -> None:
    order_id = place(shop_app, MUG_001=1)

    first = client.post(f"/orders/{order_id}/cancel", json={"reason": "Ordered twice"})
    again = client.post(f"/orders/{order_id}/cancel")  # no body at all

    for response in (first, again):
        assert response.status_code == 202, response.text
        assert response.json() == {"order_id": str(order_id), "status": "cancellation_requested"}
    [request] = published(shop_app, CancellationRequested)
    assert isinstance(request, CancellationRequested)
    assert (request.reason, request.detail) == ("customer", "Ordered twice")
    order = client.get(f"/orders/{order_id}").json()
    assert order["cancellation"]["status"] == "requested"
    assert order["status"] == "placed"  # fulfillment has not answered yet


def test_a_cancelled_order_answers_200_with_the_order(
    client: TestClient, shop_app: CartApplication, deliver: Deliver
) -> None:
    order_id = place(shop_app, MUG_001=1)
    deliver(shop_app, declined(order_id))

    response = client.post(f"/orders/{order_id}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancellation"]["reason"] == "payment_declined"
    assert published(shop_app, CancellationRequested) == []


def test_a_shipped_order_refuses_with_409_and_points_to_returns(
    client: TestClient, shop_app: CartApplication, deliver: Deliver
) -> None:
    order_id = place(shop_app, MUG_001=1)
    deliver(shop_app, authorized(order_id), reserved(order_id, MUG_001=1))
    deliver(shop_app, shipped(order_id, MUG_001=1))

    response = client.post(f"/orders/{order_id}/cancel")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["returns"] == f"/orders/{order_id}/returns"
    assert "return it instead" in response.json()["detail"]
    assert client.post(f"/orders/{uuid4()}/cancel").status_code == 404
    assert client.post(f"/orders/{order_id}/cancel", json={"reason": ""}).status_code == 422


def test_operators_page_through_every_order_by_status(
    client: TestClient, shop_app: CartApplication, deliver: Deliver
) -> None:
    # Given three orders, one cancelled
    ids = [place(shop_app, MUG_001=n) for n in (1, 2, 3)]
    deliver(shop_app, declined(ids[1]))

    assert client.get("/admin/orders").status_code == 401
    first = client.get("/admin/orders", params={"page": 1, "size": 2}, headers=ADMIN).json()
    second = client.get("/admin/orders", params={"page": 2, "size": 2}, headers=ADMIN).json()
    cancelled = client.get("/admin/orders", params={"status": "cancelled"}, headers=ADMIN).json()

    # Then pages hold every order once, oldest first, with the keys the invariant check reads
    assert [r["order_id"] for r in first["items"] + second["items"]] == [str(i) for i in ids]
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    row = first["items"][0]
    assert set(row) >= {
        "order_id",
        "status",
        "status_since",
        "deadline_at",
        "past_deadline",
        "total",
        "refunded",
        "cancel_reason",
        "lines",
    }
    assert row["lines"] == [{"sku": "MUG-001", "quantity": 1, "returned": 0}]
    assert row["refunded"] == {"amount": "0.00", "currency": "EUR"}
    since = datetime.fromisoformat(row["status_since"])
    assert datetime.fromisoformat(row["deadline_at"]) - since == timedelta(seconds=900)
    assert since <= datetime.now(UTC)
    assert row["past_deadline"] is False
    assert [(r["order_id"], r["cancel_reason"]) for r in cancelled["items"]] == [
        (str(ids[1]), "payment_declined")
    ]
    assert cancelled["items"][0]["deadline_at"] is None
    bad = client.get("/admin/orders", params={"status": "lost"}, headers=ADMIN)
    assert bad.status_code == 422
