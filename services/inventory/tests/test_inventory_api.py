"""The inventory API on its real store and read model (SQLite in tmp_path), no Kafka."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient
from orderflow_runtime.projections import Projections

PROBLEM = "application/problem+json"


def test_a_receipt_books_stock_once_per_receipt_id(
    client: TestClient, deliver: Any, make: Any
) -> None:
    deliver(make.listed("A"))

    first = client.post("/stock/A/receipts", json={"quantity": 5, "receipt_id": "GR-1"})
    again = client.post("/stock/A/receipts", json={"quantity": 5, "receipt_id": "GR-1"})
    other = client.post("/stock/A/receipts", json={"quantity": 6, "receipt_id": "GR-1"})
    fresh = client.post("/stock/A/receipts", json={"quantity": 2})

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert other.headers["content-type"] == PROBLEM
    assert fresh.status_code == 201
    assert fresh.json()["receipt_id"] not in ("", "GR-1")
    assert fresh.json()["stock"]["on_hand"] == 7
    assert client.get("/stock/A").json() == {
        "sku": "A",
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "committed": 0,
        "received": 7,
        "restocked": 0,
        "written_off": 0,
        "reorder_point": 2,
        "reorder_quantity": 20,
        "active": True,
    }


def test_bad_requests_are_problems(client: TestClient, deliver: Any, make: Any) -> None:
    deliver(make.listed("A"))

    answers = [
        client.post("/stock/NOPE/receipts", json={"quantity": 1}),
        client.post("/stock/A/receipts", json={"quantity": 0}),
        client.post("/stock/A/receipts", json={"quantity": 1, "receipt_id": "bad id"}),
        client.put("/stock/A/thresholds", json={"reorder_point": -1, "reorder_quantity": 5}),
        client.put("/stock/A/thresholds", json={"reorder_point": 1, "reorder_quantity": 0}),
        client.get("/stock/NOPE"),
        client.get(f"/orders/{uuid4()}/stock"),
        client.get("/orders/not-a-uuid/stock"),
    ]

    assert [a.status_code for a in answers] == [404, 422, 422, 422, 422, 404, 404, 422]
    assert all(a.headers["content-type"] == PROBLEM for a in answers)


def test_every_endpoint_needs_the_api_key(client: TestClient, deliver: Any, make: Any) -> None:
    deliver(make.listed("A"))
    del client.headers["X-API-Key"]

    answers = [
        client.post("/stock/A/receipts", json={"quantity": 1}),
        client.put("/stock/A/thresholds", json={"reorder_point": 1, "reorder_quantity": 5}),
        client.get("/stock/A"),
        client.get("/stock"),
        client.get(f"/orders/{uuid4()}/stock"),
        client.get("/reservations"),
    ]

    assert [a.status_code for a in answers] == [401] * 6


def test_levels_list_pages_and_filters_low_stock(
    client: TestClient, deliver: Any, make: Any, projections: Projections
) -> None:
    # Given three skus, B under its reorder point after an order
    deliver(make.listed("A"), make.listed("B", reorder_point=5), make.listed("C"))
    for sku, quantity in (("A", 3), ("B", 6), ("C", 4)):
        client.post(f"/stock/{sku}/receipts", json={"quantity": quantity})
    order = uuid4()
    deliver(make.placed(order, B=2), make.authorized(order))
    projections.catch_up()  # the service's background projection does this by itself

    everything = client.get("/stock").json()
    low = client.get("/stock", params={"low": True}).json()
    page = client.get("/stock", params={"page": 2, "size": 2}).json()

    assert [(s["sku"], s["available"]) for s in everything["items"]] == [
        ("A", 3),
        ("B", 4),
        ("C", 4),
    ]
    assert [s["sku"] for s in low["items"]] == ["B"]
    assert (page["total"], [s["sku"] for s in page["items"]]) == (3, ["C"])
    assert client.get("/stock", params={"size": 101}).status_code == 422


def test_the_order_stock_shows_the_reservation(client: TestClient, deliver: Any, make: Any) -> None:
    deliver(make.listed("A"))
    client.post("/stock/A/receipts", json={"quantity": 3})
    order, payment = uuid4(), uuid4()

    deliver(make.placed(order, A=1))
    waiting = client.get(f"/orders/{order}/stock").json()
    deliver(make.authorized(order, payment))
    reserved = client.get(f"/orders/{order}/stock").json()

    assert (waiting["status"], waiting["lines"]) == ("pending", {"A": 1})
    assert waiting["payment_id"] is None
    assert reserved["status"] == "reserved"
    assert reserved["payment_id"] == str(payment)
    assert reserved["reservation_id"] is not None


def test_the_read_model_rebuilt_from_the_store_equals_the_live_one(
    client: TestClient, deliver: Any, make: Any, projections: Projections
) -> None:
    deliver(make.listed("A"), make.listed("B"))
    client.post("/stock/A/receipts", json={"quantity": 9})
    client.post("/stock/B/receipts", json={"quantity": 2})
    order = uuid4()
    deliver(make.placed(order, A=8, B=1), make.authorized(order))  # A falls low: reorders
    projections.catch_up()
    live = client.get("/stock").json()

    projections.rebuild()

    assert client.get("/stock").json() == live
    assert [s["reserved"] for s in live["items"]] == [8, 1]


def test_totals_add_up_in_both_views_after_receipts_orders_shipping_and_returns(
    client: TestClient, deliver: Any, make: Any, projections: Projections
) -> None:
    # Given 10 A received; one order shipped 3, and a return of 1 resellable, 1 defective
    deliver(make.listed("A"))
    client.post("/stock/A/receipts", json={"quantity": 10})
    order, pending = uuid4(), uuid4()
    deliver(make.placed(order, A=3), make.authorized(order), make.shipped(order, A=3))
    deliver(make.returned(order, ("A", 1, "resellable"), ("A", 1, "defective")))
    deliver(make.placed(pending, A=2), make.authorized(pending))  # 2 reserved
    projections.catch_up()

    one = client.get("/stock/A").json()
    [listed] = client.get("/stock").json()["items"]

    expected = {
        "on_hand": 8,
        "reserved": 2,
        "available": 6,
        "committed": 3,
        "received": 10,
        "restocked": 1,
        "written_off": 1,
    }
    assert {key: one[key] for key in expected} == expected
    assert {key: listed[key] for key in expected} == expected
    assert one["on_hand"] == one["received"] + one["restocked"] - one["committed"]


def test_reservations_list_every_order_with_its_status_and_lines(
    client: TestClient, deliver: Any, make: Any, projections: Projections
) -> None:
    # Given one order in each status
    deliver(make.listed("A"))
    client.post("/stock/A/receipts", json={"quantity": 5})
    ids = {status: uuid4() for status in ("pending", "reserved", "failed", "released")}
    ids |= {"committed": uuid4(), "cancelled": uuid4()}
    deliver(make.placed(ids["pending"], A=1))
    deliver(make.placed(ids["reserved"], A=1), make.authorized(ids["reserved"]))
    deliver(make.placed(ids["failed"], A=99), make.authorized(ids["failed"]))
    deliver(make.placed(ids["released"], A=1), make.authorized(ids["released"]))
    deliver(make.cancelled(ids["released"]))
    committed = ids["committed"]
    deliver(make.placed(committed, A=2), make.authorized(committed))
    deliver(make.shipped(committed, A=2), make.returned(committed, ("A", 1, "damaged")))
    deliver(make.cancelled(ids["cancelled"]))  # before anything else of the order
    projections.catch_up()

    everything = client.get("/reservations", params={"size": 100}).json()
    first, second = (client.get("/reservations", params={"page": p, "size": 4}) for p in (1, 2))

    by_order = {item["order_id"]: item for item in everything["items"]}
    assert {status: by_order[str(order)]["status"] for status, order in ids.items()} == {
        status: status for status in ids
    }
    record = by_order[str(committed)]
    assert (record["lines"], record["restocked"], record["written_off"]) == ({"A": 2}, {}, {"A": 1})
    assert record["reservation_id"] is not None
    assert by_order[str(ids["failed"])]["reservation_id"] is None
    assert everything["total"] == 6
    pages = [*first.json()["items"], *second.json()["items"]]
    assert [item["order_id"] for item in pages] == sorted(str(o) for o in ids.values())
    assert client.get("/reservations", params={"size": 101}).status_code == 422

    # and the read model rebuilt from the store says the same
    projections.rebuild()
    assert client.get("/reservations", params={"size": 100}).json() == everything
