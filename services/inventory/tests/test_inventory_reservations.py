"""The saga's stock side through the real handlers, unit of work and SQLite store."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from orderflow_events import (
    CancelReason,
    OrderCancelled,
    ProductDelisted,
    Shipped,
    StockCommitted,
    StockLine,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    UnavailableLine,
)
from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.reservations import Status, reservation_id

NOW = "2025-03-01T12:00:00Z"


def receive(app: InventoryApplication, sku: str, quantity: int) -> None:
    app.receive_stock(sku, quantity, receipt_id=str(uuid4()))


def levels(app: InventoryApplication, sku: str) -> tuple[int, int, int]:
    item = app.stock_levels(sku)
    return item.on_hand, item.reserved, item.available


def of_type(events: list[Any], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def shipped(order_id: UUID, shipment_id: UUID, **lines: int) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=shipment_id,
        carrier="dhl",
        service_level="ground",
        tracking_number="T1",
        lines=[StockLine(sku=s, quantity=q) for s, q in lines.items()],
        shipped_at=NOW,
    )


def cancelled(order_id: UUID) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason=CancelReason.CUSTOMER, cancelled_at=NOW)


@pytest.fixture
def stocked(app: InventoryApplication, deliver: Any, make: Any) -> None:
    """Skus A (10 on hand) and B (3 on hand)."""
    deliver(make.listed("A"), make.listed("B"))
    receive(app, "A", 10)
    receive(app, "B", 3)


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize("payment_first", [False, True])
def test_an_order_reserves_every_line_when_it_has_lines_and_payment(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, payment_first: bool
) -> None:
    order = uuid4()
    first, second = make.placed(order, A=2, B=3), make.authorized(order)
    if payment_first:
        first, second = second, first

    # When the first of the two arrives, nothing is reserved yet
    deliver(first)
    assert app.order_stock(order).status is Status.PENDING
    assert of_type(published(), StockReserved) == []

    # When the second arrives, every line is reserved at once
    deliver(second)
    [reserved] = of_type(published(), StockReserved)
    assert reserved.order_id == order
    assert reserved.reservation_id == reservation_id(order)
    assert {(line.sku, line.quantity) for line in reserved.lines} == {("A", 2), ("B", 3)}
    assert levels(app, "A") == (10, 2, 8)
    assert levels(app, "B") == (3, 3, 0)


@pytest.mark.usefixtures("stocked")
def test_a_short_line_fails_the_whole_order_and_reserves_nothing(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    order = uuid4()

    deliver(make.placed(order, A=2, B=4), make.authorized(order))

    [failed] = of_type(published(), StockReservationFailed)
    assert failed.unavailable == [UnavailableLine(sku="B", requested=4, available=3)]
    assert of_type(published(), StockReserved) == []
    assert levels(app, "A") == (10, 0, 10)
    assert app.order_stock(order).status is Status.FAILED


@pytest.mark.usefixtures("stocked")
def test_unknown_and_delisted_skus_are_unavailable(deliver: Any, make: Any, published: Any) -> None:
    order = uuid4()
    deliver(ProductDelisted(sku="B", delisted_at=NOW))

    deliver(make.placed(order, A=1, B=1, NOPE=2), make.authorized(order))

    [failed] = of_type(published(), StockReservationFailed)
    assert failed.unavailable == [
        UnavailableLine(sku="B", requested=1, available=0),
        UnavailableLine(sku="NOPE", requested=2, available=0),
    ]


@pytest.mark.usefixtures("stocked")
def test_repeats_change_nothing(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    order = uuid4()
    deliver(make.placed(order, A=2), make.authorized(order))

    # a second authorisation (another payment even) and a repeated OrderPlaced
    deliver(make.authorized(order), make.placed(order, A=5))
    deliver(make.listed("A", reorder_point=9))

    assert len(of_type(published(), StockReserved)) == 1
    assert levels(app, "A") == (10, 2, 8)
    assert app.stock_levels("A").reorder_point == 2  # the first listing's, not the repeat's


@pytest.mark.usefixtures("stocked")
def test_orders_in_one_batch_never_hold_the_same_unit(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    orders = [uuid4() for _ in range(4)]

    deliver(*(e for o in orders for e in (make.placed(o, A=3), make.authorized(o))))

    assert len(of_type(published(), StockReserved)) == 3
    [failed] = of_type(published(), StockReservationFailed)
    assert (failed.order_id, failed.unavailable[0].available) == (orders[3], 1)
    assert levels(app, "A") == (10, 9, 1)


@pytest.mark.usefixtures("stocked")
def test_shipping_commits_the_reservation_once(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    order, shipment = uuid4(), uuid4()
    deliver(make.placed(order, A=2, B=1), make.authorized(order))

    deliver(shipped(order, shipment, A=2, B=1))
    deliver(shipped(order, shipment, A=2, B=1))  # a repeat

    [committed] = of_type(published(), StockCommitted)
    assert (committed.reservation_id, committed.shipment_id) == (reservation_id(order), shipment)
    assert levels(app, "A") == (8, 0, 8)
    assert app.stock_levels("A").committed == 2
    assert levels(app, "B") == (2, 0, 2)
    assert app.order_stock(order).status is Status.COMMITTED


@pytest.mark.usefixtures("stocked")
def test_a_cancel_releases_a_reservation_and_stops_a_later_one(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    reserved_order, waiting_order = uuid4(), uuid4()
    deliver(make.placed(reserved_order, A=4), make.authorized(reserved_order))
    deliver(make.placed(waiting_order, A=1))

    # When both are cancelled, and the second's payment arrives afterwards
    deliver(cancelled(reserved_order), cancelled(waiting_order))
    deliver(make.authorized(waiting_order), cancelled(reserved_order))

    # Then the reservation was released once, and the second order reserved nothing
    [released] = of_type(published(), StockReleased)
    assert released.order_id == reserved_order
    assert [(line.sku, line.quantity) for line in released.lines] == [("A", 4)]
    assert levels(app, "A") == (10, 0, 10)
    assert len(of_type(published(), StockReserved)) == 1
    assert app.order_stock(waiting_order).status is Status.CANCELLED


@pytest.mark.usefixtures("stocked")
def test_a_cancel_after_shipping_releases_nothing(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    order = uuid4()
    deliver(make.placed(order, A=1), make.authorized(order), shipped(order, uuid4(), A=1))

    deliver(cancelled(order))

    assert of_type(published(), StockReleased) == []
    assert levels(app, "A") == (9, 0, 9)


def test_a_state_rebuilt_from_the_store_equals_the_live_one(
    app: InventoryApplication, settings: Any, deliver: Any, make: Any, stocked: None
) -> None:
    a, b = uuid4(), uuid4()
    deliver(make.placed(a, A=2, B=1), make.authorized(a), make.placed(b, A=9))
    deliver(make.authorized(b), shipped(a, uuid4(), A=2, B=1))
    live = [app.stock_levels(sku) for sku in "AB"], [app.order_stock(o) for o in (a, b)]

    rebuilt_app = InventoryApplication(settings)  # a new process: its cache starts empty
    try:
        rebuilt = (
            [rebuilt_app.stock_levels(sku) for sku in "AB"],
            [rebuilt_app.order_stock(o) for o in (a, b)],
        )
    finally:
        rebuilt_app.close()

    assert rebuilt == live


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize(
    "arrival",
    [
        ("cancel", "placed", "authorized"),
        ("cancel", "authorized", "placed"),
        ("placed", "cancel", "authorized"),
        ("authorized", "cancel", "placed"),
    ],
)
def test_a_cancel_arriving_before_the_order_means_it_never_reserves(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, arrival: tuple[str, ...]
) -> None:
    order = uuid4()
    events = {
        "cancel": cancelled(order),
        "placed": make.placed(order, A=2),
        "authorized": make.authorized(order),
    }

    # When the cancel arrives before the order has both its lines and its payment,
    # each event in its own batch
    for name in arrival:
        deliver(events[name])

    # Then nothing is reserved nor released, and the cancel is remembered
    assert of_type(published(), StockReserved) == []
    assert of_type(published(), StockReleased) == []
    view = app.order_stock(order)
    assert (view.status, view.lines, view.reservation_id) == (Status.CANCELLED, {"A": 2}, None)
    assert levels(app, "A") == (10, 0, 10)


@pytest.mark.usefixtures("stocked")
def test_an_out_of_stock_cancel_after_a_failed_reservation_releases_nothing(
    app: InventoryApplication, deliver: Any, make: Any, published: Any
) -> None:
    order = uuid4()
    deliver(make.placed(order, B=9), make.authorized(order))

    deliver(
        OrderCancelled(order_id=order, reason=CancelReason.OUT_OF_STOCK, cancelled_at=NOW),
        make.authorized(order),
    )

    assert of_type(published(), StockReleased) == []
    assert app.order_stock(order).status is Status.CANCELLED
    assert levels(app, "B") == (3, 0, 3)
