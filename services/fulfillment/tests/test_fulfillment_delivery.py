"""The sandbox carriers confirm each delivery through the webhook once its delay passed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from orderflow_events import Delivered, Shipped
from orderflow_fulfillment.delivery import SandboxDeliveries
from orderflow_fulfillment.projections import in_transit
from pydantic import SecretStr

if TYPE_CHECKING:
    from conftest import Harness


def deliveries(harness: Harness, key: str = "test-key") -> SandboxDeliveries:
    return SandboxDeliveries(
        harness.projections.engine,
        base_url="http://fulfillment",
        webhook_key=SecretStr(key),
        carriers=["parcelco", "swiftship"],
        delay_s=2,
        poll_s=0.1,
    )


class InProcessWebhook:
    """The service's webhook called in process (httpx's ASGI transport), not over HTTP."""

    def __init__(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://fulfillment")

    async def __call__(self, path: str, update: dict[str, Any], headers: Mapping[str, str]) -> int:
        return (await self.http.post(path, json=update, headers=headers)).status_code

    async def __aenter__(self) -> InProcessWebhook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()


def client_of(harness: Harness) -> InProcessWebhook:
    assert harness.spec.api is not None
    return InProcessWebhook(harness.spec.api)


async def test_a_parcel_is_delivered_once_its_delay_has_passed(harness: Harness) -> None:
    # Given a shipped order, as the read model knows it (e.g. after a restart)
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    [shipped] = harness.published(Shipped)
    harness.projections.catch_up()
    [parcel] = in_transit(harness.projections.engine)
    carriers = deliveries(harness)

    async with client_of(harness) as http:
        # When the carriers look before the delay, then after it, then again
        early = await carriers.confirm_due(http, parcel.shipped_at + timedelta(seconds=1))
        due = await carriers.confirm_due(http, parcel.shipped_at + timedelta(seconds=2))
        harness.projections.catch_up()
        later = await carriers.confirm_due(http, datetime.now(UTC) + timedelta(hours=1))

    # Then exactly one delivery, at shipping time + delay
    assert (early, due, later) == (0, 1, 0)
    [delivered] = harness.published(Delivered)
    assert delivered.shipment_id == shipped.shipment_id
    assert delivered.delivered_at == parcel.shipped_at + timedelta(seconds=2)
    assert in_transit(harness.projections.engine) == []


async def test_a_refused_call_is_tried_again_next_round(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    harness.projections.catch_up()
    later = datetime.now(UTC) + timedelta(hours=1)
    async with client_of(harness) as http:
        assert await deliveries(harness, key="wrong").confirm_due(http, later) == 0
        assert await deliveries(harness).confirm_due(http, later) == 1
    assert len(harness.published(Delivered)) == 1


async def test_parcels_due_together_are_confirmed_at_the_same_time(harness: Harness) -> None:
    # Given three shipped orders and a webhook that takes its time
    for _ in range(3):
        order = harness.order()
        harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    harness.projections.catch_up()
    in_flight, most = 0, 0
    assert harness.spec.api is not None
    api = harness.spec.api

    async def slow_webhook(scope: Any, receive: Any, send: Any) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        try:
            await api(scope, receive, send)
        finally:
            in_flight -= 1

    later = datetime.now(UTC) + timedelta(hours=1)
    async with InProcessWebhook(slow_webhook) as http:
        # When the carriers confirm what is due
        confirmed = await deliveries(harness).confirm_due(http, later)

    # Then the three calls overlapped, and each parcel was delivered once
    assert confirmed == 3
    assert most == 3
    assert len(harness.published(Delivered)) == 3
