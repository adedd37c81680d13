"""Returns through the real handlers and store: resellable units back on hand once,
the rest written off or recorded as unmatched, and the counters always adding up."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from orderflow_events import ReorderRequested, RestockOrigin, StockRestocked
from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.domain import StockItem, StockLevels, reorder_id
from orderflow_inventory.mapping import to_integration
from orderflow_inventory.reservations import reservation_id
from orderflow_inventory.returns import NOT_SHIPPED, UNKNOWN_SKU
from structlog.testing import capture_logs

RESELLABLE, DAMAGED, DEFECTIVE = "resellable", "damaged", "defective"


def restocks_from_returns(published: Any) -> list[StockRestocked]:
    return [
        e for e in published() if isinstance(e, StockRestocked) and e.origin is RestockOrigin.RETURN
    ]


def assert_conserved(levels: StockLevels) -> None:
    """The invariant checker's arithmetic: nothing appears or vanishes."""
    assert levels.on_hand == levels.received + levels.restocked - levels.committed
    assert levels.reserved <= levels.on_hand
    assert levels.available == levels.on_hand - levels.reserved
    counters = (levels.on_hand, levels.reserved, levels.available, levels.committed)
    assert min(*counters, levels.received, levels.restocked, levels.written_off) >= 0


@pytest.fixture
def delivered_order(app: InventoryApplication, deliver: Any, make: Any) -> UUID:
    """An order of 2 A and 1 B, shipped, from 10 A and 5 B received."""
    deliver(make.listed("A"), make.listed("B"))
    app.receive_stock("A", 10, receipt_id="GR-A")
    app.receive_stock("B", 5, receipt_id="GR-B")
    order = uuid4()
    deliver(make.placed(order, A=2, B=1), make.authorized(order), make.shipped(order, A=2, B=1))
    return order


def test_a_return_restocks_the_resellable_units_and_writes_off_the_rest_once(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, delivered_order: UUID
) -> None:
    # When one A comes back resellable and one A damaged
    ret = make.returned(delivered_order, ("A", 1, RESELLABLE), ("A", 1, DAMAGED))
    deliver(ret)
    deliver(ret)  # a repeat (a new ce_id: the inbox would apply it)

    # Then one StockRestocked for the resellable unit only, naming order and return
    [restocked] = restocks_from_returns(published)
    assert (restocked.order_id, restocked.return_id) == (delivered_order, ret.return_id)
    assert restocked.reservation_id == reservation_id(delivered_order)
    assert [(line.sku, line.quantity) for line in restocked.lines] == [("A", 1)]
    assert restocked.partition_key() == str(delivered_order)
    # and the damaged unit is written off, never on hand
    a = app.stock_levels("A")
    assert (a.on_hand, a.committed, a.received, a.restocked, a.written_off) == (9, 2, 10, 1, 1)
    assert_conserved(a)
    assert app.order_stock(delivered_order).returns[str(ret.return_id)] == {
        "restocked": [{"sku": "A", "quantity": 1}],
        "written_off": [{"sku": "A", "quantity": 1, "condition": "damaged"}],
        "unmatched": [],
    }


def test_a_return_of_only_unsellable_units_restocks_and_publishes_nothing(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, delivered_order: UUID
) -> None:
    deliver(make.returned(delivered_order, ("B", 1, DEFECTIVE)))

    assert restocks_from_returns(published) == []
    b = app.stock_levels("B")
    assert (b.on_hand, b.restocked, b.written_off) == (4, 0, 1)
    assert_conserved(b)


def test_units_beyond_what_the_order_shipped_are_never_restocked(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, delivered_order: UUID
) -> None:
    # Given one A already returned and restocked
    deliver(make.returned(delivered_order, ("A", 1, RESELLABLE)))

    # When a second return brings two more A (one left to return), one damaged
    second = make.returned(delivered_order, ("A", 1, DAMAGED), ("A", 1, RESELLABLE))
    deliver(second)

    # Then the resellable one matches first; the damaged one matches nothing
    restocks = restocks_from_returns(published)
    assert [[(ln.sku, ln.quantity) for ln in r.lines] for r in restocks] == [[("A", 1)], [("A", 1)]]
    record = app.order_stock(delivered_order).returns[str(second.return_id)]
    assert record["written_off"] == []
    assert record["unmatched"] == [
        {"sku": "A", "quantity": 1, "condition": "damaged", "why": NOT_SHIPPED}
    ]
    a = app.stock_levels("A")
    assert (a.on_hand, a.restocked, a.written_off) == (10, 2, 0)
    assert_conserved(a)


def test_an_unknown_sku_or_an_unshipped_order_is_recorded_and_logged_not_restocked(
    app: InventoryApplication, deliver: Any, make: Any, published: Any, delivered_order: UUID
) -> None:
    never_shipped = uuid4()
    deliver(make.placed(never_shipped, A=1), make.authorized(never_shipped))  # reserved only

    with capture_logs() as logs:
        deliver(make.returned(delivered_order, ("NOPE", 1, RESELLABLE), ("B", 1, RESELLABLE)))
        deliver(make.returned(never_shipped, ("A", 1, RESELLABLE)))

    [restocked] = restocks_from_returns(published)
    assert [(line.sku, line.quantity) for line in restocked.lines] == [("B", 1)]
    [first] = app.order_stock(delivered_order).returns.values()
    assert first["unmatched"] == [
        {"sku": "NOPE", "quantity": 1, "condition": "resellable", "why": UNKNOWN_SKU}
    ]
    [second] = app.order_stock(never_shipped).returns.values()
    assert second["unmatched"][0]["why"] == NOT_SHIPPED
    assert app.stock_levels("A").restocked == 0
    warnings = [log for log in logs if log["log_level"] == "warning"]
    assert [w["unmatched"][0]["sku"] for w in warnings] == ["NOPE", "A"]


def test_a_restock_lifts_a_sku_back_over_its_point_so_the_next_fall_reorders() -> None:
    # Given 10 received, point 5: shipping 6 leaves 4 and one reorder is out
    item = StockItem("A", reorder_point=5, reorder_quantity=20)
    item.receive("r1", 10)
    order = uuid4()
    item.reserve(order, 6)
    item.commit(order, 6)
    item.collect_events()

    # When a return puts 2 back (available 6) and a new order takes 2 (available 4)
    item.restock(order, uuid4(), 2)
    item.reserve(uuid4(), 2)

    # Then the fall reorders again: the restock reset the reorder
    reorders = [to_integration(e) for e in item.collect_events()]
    [again] = [e for e in reorders if isinstance(e, ReorderRequested)]
    assert again.reorder_id == reorder_id("A", 2)
    assert_conserved(item.levels())


def test_a_state_with_returns_rebuilt_from_the_store_equals_the_live_one(
    app: InventoryApplication, settings: Any, deliver: Any, make: Any, delivered_order: UUID
) -> None:
    deliver(make.returned(delivered_order, ("A", 1, RESELLABLE), ("B", 1, DAMAGED)))
    live = [app.stock_levels(s) for s in "AB"], app.order_stock(delivered_order)

    rebuilt_app = InventoryApplication(settings)
    try:
        rebuilt = (
            [rebuilt_app.stock_levels(s) for s in "AB"],
            rebuilt_app.order_stock(delivered_order),
        )
    finally:
        rebuilt_app.close()

    assert rebuilt == live
