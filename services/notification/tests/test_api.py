"""GET /notices: operators see status, channel, template and times; never bodies."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from orderflow_events import OrderPlaced, Shipped
from orderflow_notification.api import create_api
from orderflow_notification.application import NotificationApplication
from orderflow_notification.dispatcher import Dispatcher
from orderflow_notification.settings import NotificationSettings
from orderflow_runtime.projections import Projections

KEY = {"X-API-Key": "secret-key"}


@pytest.fixture
def client(
    app: NotificationApplication, projections: Projections, settings: NotificationSettings
) -> TestClient:
    return TestClient(create_api(app, projections, settings))


def test_notices_need_the_api_key(client: TestClient) -> None:
    response = client.get("/notices")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/notices", headers={"X-API-Key": "wrong"}).status_code == 401


def test_an_orders_notices_with_status_and_times_but_no_body(
    client: TestClient, dispatcher: Dispatcher, deliver: Any, make: Any
) -> None:
    order_id, other = uuid4(), uuid4()
    placed = deliver(make(OrderPlaced, order_id))
    deliver(make(OrderPlaced, other))
    asyncio.run(dispatcher.dispatch_pending(asyncio.Event()))
    deliver(make(Shipped, order_id))

    response = client.get("/notices", params={"order_id": str(order_id)}, headers=KEY)

    assert response.status_code == 200
    notices = response.json()
    assert [(n["template"], n["status"]) for n in notices] == [
        ("order_confirmation", "sent"),
        ("shipping_confirmation", "requested"),
    ]
    first = notices[0]
    assert first["channel"] == "email"
    assert first["caused_by"] == placed.id
    assert first["sent_at"] is not None
    assert first["attempts"] == 1
    assert "ada@example.com" not in response.text
    assert "53.19" not in response.text


def test_notices_waiting_for_their_order_are_listed(
    client: TestClient, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    shipped = deliver(make(Shipped, order_id))

    params = {"order_id": str(order_id)}
    notices = client.get("/notices", params=params, headers=KEY).json()
    awaiting = client.get("/notices/awaiting-contact", params=params, headers=KEY).json()

    assert notices == []
    assert awaiting == [
        {"template": "shipping_confirmation", "caused_by": shipped.id, "waiting_for": ["contact"]}
    ]
    assert client.get("/notices/awaiting-contact", params=params).status_code == 401


def test_filter_by_status_and_invalid_parameters(
    client: TestClient, deliver: Any, make: Any
) -> None:
    deliver(make(OrderPlaced, uuid4()))

    failed = client.get("/notices", params={"status": "failed"}, headers=KEY).json()
    requested = client.get("/notices", params={"status": "requested"}, headers=KEY).json()
    bad = client.get("/notices", params={"order_id": "nope", "limit": 0}, headers=KEY)

    assert failed == []
    assert len(requested) == 1
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
