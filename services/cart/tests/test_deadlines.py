"""The deadline watcher: expired orders are asked to be cancelled (once), shipped ones flagged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication
from orderflow_cart.deadlines import DeadlineWatcher
from orderflow_cart.status import DeadlineAction, OrderStatus
from orderflow_events import CancellationRequested, CancelReason, OrderCancelled
from orderflow_runtime.projections import Projections
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from .conftest import ADMIN_KEY, CATALOG, Deliver
from .saga import authorized, delivered, place, published, reserved, shipped, stopped

Service = tuple[CartApplication, Projections, TestClient]
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def watcher(service: Service) -> DeadlineWatcher:
    app, projections, _ = service
    return DeadlineWatcher(app, projections, poll_s=0.01, counts_every_s=15)


@pytest.fixture
def order_id(shop_app: CartApplication) -> UUID:
    return place(shop_app, MUG_001=1)


def expired_requests(app: CartApplication) -> list[UUID]:
    return [
        e.order_id
        for e in published(app, CancellationRequested)
        if isinstance(e, CancellationRequested) and e.reason is CancelReason.EXPIRED
    ]


def gauge(name: str, **labels: str) -> float:
    """A sample of the process's metrics (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def actions(action: str, state: str) -> float:
    return gauge("orderflow_order_deadline_actions_total", action=action, state=state)


def test_an_order_past_its_deadline_is_asked_to_be_cancelled_once(
    shop_app: CartApplication, watcher: DeadlineWatcher, order_id: UUID, deliver: Deliver
) -> None:
    now = datetime.now(UTC)
    counted = actions("cancellation_requested", "placed")

    # Within the 15 minutes of `placed`: nothing
    assert watcher.check(now + 14 * MINUTE) == {}
    assert gauge("orderflow_orders_past_deadline") == 0
    assert gauge("orderflow_orders_by_state", state="placed") == 1

    # Past them: one request, reason expired, and never a second one
    assert watcher.check(now + 16 * MINUTE) == {order_id: DeadlineAction.CANCELLATION_REQUESTED}
    assert watcher.check(now + 17 * MINUTE) == {}
    assert shop_app.enforce_deadline(order_id, now + DAY)[1] is DeadlineAction.NONE
    assert expired_requests(shop_app) == [order_id]
    assert gauge("orderflow_orders_past_deadline") == 1
    assert actions("cancellation_requested", "placed") == counted + 1

    # Fulfillment stops it: cancelled as expired, no longer past any deadline
    deliver(shop_app, stopped(order_id, reason="expired"))
    assert watcher.check(now + DAY) == {}
    view = shop_app.order(order_id)
    assert view.status is OrderStatus.CANCELLED
    assert view.cancellation is not None
    assert view.cancellation.reason == "expired"
    [cancelled] = published(shop_app, OrderCancelled)
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancelReason.EXPIRED
    assert gauge("orderflow_orders_past_deadline") == 0
    assert gauge("orderflow_orders_by_state", state="cancelled") == 1


def test_the_deadline_runs_from_the_current_status(
    shop_app: CartApplication, watcher: DeadlineWatcher, order_id: UUID, deliver: Deliver
) -> None:
    # Given an order reserved now (the stock_reserved deadline is an hour)
    deliver(shop_app, authorized(order_id), reserved(order_id, MUG_001=1))
    now = datetime.now(UTC)

    # Then 30 minutes later it is not due, though `placed` would be long past
    assert watcher.check(now + 30 * MINUTE) == {}
    assert watcher.check(now + 61 * MINUTE) == {order_id: DeadlineAction.CANCELLATION_REQUESTED}


def test_a_customer_request_is_never_followed_by_a_second_one(
    shop_app: CartApplication, watcher: DeadlineWatcher, order_id: UUID
) -> None:
    shop_app.request_cancellation(order_id, None)

    assert watcher.check(datetime.now(UTC) + DAY) == {}
    assert expired_requests(shop_app) == []
    assert len(published(shop_app, CancellationRequested)) == 1


def test_after_shipment_a_missed_deadline_flags_the_order_once_and_never_cancels(
    shop_app: CartApplication,
    watcher: DeadlineWatcher,
    order_id: UUID,
    deliver: Deliver,
) -> None:
    # Given a shipped order whose delivery is late (14 days)
    deliver(shop_app, authorized(order_id), reserved(order_id, MUG_001=1))
    deliver(shop_app, shipped(order_id, MUG_001=1))
    now = datetime.now(UTC)
    counted = actions("flagged_overdue", "shipped")
    assert watcher.check(now + 13 * DAY) == {}

    # When the watcher passes after the deadline, twice
    with capture_logs() as logs:
        late = watcher.check(now + 15 * DAY)
        again = watcher.check(now + 16 * DAY)

    # Then it is flagged once (history, metric), never asked to be cancelled
    assert late == {order_id: DeadlineAction.FLAGGED_OVERDUE}
    assert again == {}
    view = shop_app.order(order_id)
    assert view.status is OrderStatus.SHIPPED
    assert view.overdue
    assert [h.fact for h in view.status_history].count("overdue") == 1
    assert published(shop_app, CancellationRequested) == []
    assert actions("flagged_overdue", "shipped") == counted + 1
    [alert] = [log for log in logs if log["event"] == "order overdue"]
    assert (alert["log_level"], alert["order_id"], alert["status"]) == (
        "warning",
        str(order_id),
        "shipped",
    )

    # And once delivered (terminal) it has no deadline at all
    deliver(shop_app, delivered(order_id))
    assert watcher.check(now + 100 * DAY) == {}
    assert not shop_app.order(order_id).overdue


def test_operators_list_stuck_and_expired_orders_with_the_key(
    service: Service, watcher: DeadlineWatcher, deliver: Deliver
) -> None:
    app, _, client = service
    deliver(app, *CATALOG)
    waiting, expired = place(app, MUG_001=1), place(app, BOOT_42=1)
    watcher.check(datetime.now(UTC) + 16 * MINUTE)  # both are asked to be cancelled
    deliver(app, stopped(expired, reason="expired"))

    assert client.get("/orders/stuck").status_code == 401
    response = client.get("/orders/stuck", headers={"X-API-Key": ADMIN_KEY})

    # `waiting` is not past its deadline by the real clock: only the expired one is listed
    assert response.status_code == 200, response.text
    [listed] = response.json()["items"]
    assert listed["order_id"] == str(expired)
    assert (listed["status"], listed["expired"], listed["past_deadline"]) == (
        "cancelled",
        True,
        False,
    )
    assert str(waiting) not in response.text


def test_the_watcher_runs_until_stopped(service: Service, order_id: UUID) -> None:
    app, projections, _ = service
    rounds: list[datetime] = []

    def clock() -> datetime:
        rounds.append(datetime.now(UTC))
        return rounds[-1] + DAY  # every order is long past its deadline

    async def run_briefly() -> None:
        stop = asyncio.Event()
        watcher = DeadlineWatcher(app, projections, poll_s=0.01, counts_every_s=15, clock=clock)
        task = asyncio.create_task(watcher.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(run_briefly())

    assert len(rounds) > 2
    assert expired_requests(app) == [order_id]


def test_orders_are_counted_by_status_at_most_every_15_seconds(
    shop_app: CartApplication, watcher: DeadlineWatcher, order_id: UUID, deliver: Deliver
) -> None:
    # Given a placed order, counted by a round
    now = datetime.now(UTC)
    watcher.check(now)
    assert gauge("orderflow_orders_by_state", state="placed") == 1

    # When it is cancelled, then rounds come a second apart
    deliver(shop_app, stopped(order_id, reason="expired"))
    watcher.check(now + timedelta(seconds=1))

    # Then the count (which reads every order) waits until it is 15 s old
    assert gauge("orderflow_orders_by_state", state="placed") == 1
    watcher.check(now + timedelta(seconds=15))
    assert gauge("orderflow_orders_by_state", state="placed") == 0
    assert gauge("orderflow_orders_by_state", state="cancelled") == 1
