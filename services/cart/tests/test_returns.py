"""Returns over HTTP: cart checks the request's shape, fulfillment decides, cart follows."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication
from orderflow_events import ReturnRequested

from .conftest import ADMIN_KEY, Deliver
from .saga import (
    authorized,
    declined,
    delivered,
    place,
    published,
    refunded,
    reserved,
    return_authorized,
    return_received,
    return_rejected,
    shipped,
)

pytestmark = pytest.mark.usefixtures("shop_app")


@pytest.fixture
def order_id(shop_app: CartApplication, deliver: Deliver) -> UUID:
    """A delivered order: 3 mugs and 1 boot."""
    order_id = place(shop_app, MUG_001=3, BOOT_42=1)
    deliver(shop_app, authorized(order_id), reserved(order_id, MUG_001=3, BOOT_42=1))
    deliver(shop_app, shipped(order_id, MUG_001=3, BOOT_42=1), delivered(order_id))
    return order_id


def ask_return(client: TestClient, order_id: UUID, reason: str = "Too big", **lines: int) -> Any:
    body = {
        "lines": [{"sku": sku.replace("_", "-"), "quantity": n} for sku, n in lines.items()],
        "reason": reason,
    }
    return client.post(f"/orders/{order_id}/returns", json=body)


def problem(response: Any, status: int, text: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert text.lower() in response.json()["detail"].lower()


def test_partial_then_full_returns_end_returned_with_refunds(
    client: TestClient, shop_app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    # When the customer returns one mug
    response = ask_return(client, order_id, MUG_001=1)

    # Then a return is requested and published with its lines
    assert response.status_code == 202, response.text
    first = UUID(response.json()["return_id"])
    [event] = published(shop_app, ReturnRequested)
    assert isinstance(event, ReturnRequested)
    assert (event.order_id, event.return_id, event.reason) == (order_id, first, "Too big")
    assert [(ln.sku, ln.quantity) for ln in event.lines] == [("MUG-001", 1)]
    assert client.get(f"/orders/{order_id}").json()["status"] == "return_requested"

    # When fulfillment authorises it, receives it and payment refunds it
    deliver(shop_app, return_authorized(order_id, first, "RMA-1", MUG_001=1))
    order = client.get(f"/orders/{order_id}").json()
    assert (order["status"], order["returns"][0]["rma"]) == ("return_requested", "RMA-1")
    deliver(shop_app, return_received(order_id, first, "RMA-1", MUG_001=1))
    deliver(shop_app, refunded(order_id, "10.12", first))

    # Then the order is partially returned, with the refund
    order = client.get(f"/orders/{order_id}").json()
    assert order["status"] == "partially_returned"
    assert order["refunded"] == {"amount": "10.12", "currency": "EUR"}
    assert [(r["status"], r["refunded"]["amount"]) for r in order["returns"]] == [
        ("received", "10.12")
    ]
    assert {line["sku"]: line["returned"] for line in order["lines"]} == {
        "MUG-001": 1,
        "BOOT-42": 0,
    }

    # When the rest comes back in a second return
    second = UUID(ask_return(client, order_id, MUG_001=2, BOOT_42=1).json()["return_id"])
    deliver(shop_app, return_authorized(order_id, second, "RMA-2", MUG_001=2, BOOT_42=1))
    deliver(shop_app, return_received(order_id, second, "RMA-2", MUG_001=2, BOOT_42=1))

    # Then every shipped unit is back: returned; the operators' list says so too
    assert client.get(f"/orders/{order_id}").json()["status"] == "returned"
    listing = client.get("/admin/orders", headers={"X-API-Key": ADMIN_KEY}).json()
    [row] = listing["items"]
    assert row["status"] == "returned"
    assert row["refunded"] == {"amount": "10.12", "currency": "EUR"}
    assert {line["sku"]: (line["quantity"], line["returned"]) for line in row["lines"]} == {
        "MUG-001": (3, 3),
        "BOOT-42": (1, 1),
    }
    assert (row["deadline_at"], row["past_deadline"]) == (None, False)


def test_a_rejected_return_puts_the_status_back(
    client: TestClient, shop_app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    return_id = UUID(ask_return(client, order_id, BOOT_42=1).json()["return_id"])

    deliver(shop_app, return_rejected(order_id, return_id))
    deliver(shop_app, return_rejected(order_id, return_id))  # a redelivery

    order = client.get(f"/orders/{order_id}").json()
    assert order["status"] == "delivered"
    assert [(r["status"], r["rejection"]) for r in order["returns"]] == [
        ("rejected", "outside the window")
    ]
    assert [h["fact"] for h in order["status_history"]].count("return_rejected") == 1


def test_bad_return_requests_get_problems(
    client: TestClient, shop_app: CartApplication, deliver: Deliver, order_id: UUID
) -> None:
    problem(ask_return(client, uuid4(), MUG_001=1), 404, "not found")
    problem(ask_return(client, order_id, SOCK_1=1), 422, "SOCK-1 is not in order")
    problem(ask_return(client, order_id, MUG_001=4), 422, "3 were ordered")
    problem(ask_return(client, order_id, MUG_001=0), 422, "quantity")
    problem(ask_return(client, order_id), 422, "lines")
    problem(ask_return(client, order_id, reason="", MUG_001=1), 422, "reason")
    problem(ask_return(client, order_id, reason="card 4111 1111 1111 1111", MUG_001=1), 422)

    not_shipped = place(shop_app, MUG_001=1)
    problem(ask_return(client, not_shipped, MUG_001=1), 409, "not shipped")
    deliver(shop_app, declined(not_shipped))
    problem(ask_return(client, not_shipped, MUG_001=1), 409, "cancelled")

    assert published(shop_app, ReturnRequested) == []
