"""Stock items: guards, low levels and reorders, and the public events they map to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from orderflow_events import (
    ReorderRequested,
    StockLevelLow,
    StockRestocked,
    from_record,
    to_record,
)
from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.domain import (
    ReceiptConflictError,
    StockInvariantError,
    StockItem,
    Thresholds,
    reorder_id,
)
from orderflow_inventory.mapping import to_integration


def test_guards_keep_every_counter_non_negative() -> None:
    item = StockItem("A", reorder_point=0, reorder_quantity=5)
    item.receive("r1", 3)
    order = uuid4()

    with pytest.raises(StockInvariantError):
        item.reserve(order, 4)  # more than available
    item.reserve(order, 3)
    with pytest.raises(StockInvariantError):
        item.release(order, 4)
    with pytest.raises(StockInvariantError):
        item.commit(order, 4)
    with pytest.raises(StockInvariantError):
        item.reserve(order, 0)
    item.commit(order, 3)

    assert (item.on_hand, item.reserved, item.committed, item.available) == (0, 0, 3, 0)


def test_a_receipt_books_once_and_refuses_another_quantity() -> None:
    item = StockItem("A", reorder_point=0, reorder_quantity=5)

    assert item.receive("r1", 3) is True
    assert item.receive("r1", 3) is False
    with pytest.raises(ReceiptConflictError):
        item.receive("r1", 4)
    assert item.on_hand == 3


def test_a_delisted_item_reserves_nothing_more() -> None:
    item = StockItem("A", reorder_point=0, reorder_quantity=5)
    item.receive("r1", 3)

    assert item.deactivate() is True
    assert item.deactivate() is False
    assert item.can_reserve(1) is False


def test_falling_under_the_reorder_point_reorders_once_until_a_receipt() -> None:
    # Given 10 on hand and a reorder point of 5
    item = StockItem("A", reorder_point=5, reorder_quantity=20)
    item.receive("r1", 10)
    item.collect_events()

    # When reservations take available to 5 (not under), then 4, then 2
    item.reserve(uuid4(), 5)
    assert _public(item) == []
    item.reserve(uuid4(), 1)
    low, reorder = _public(item)
    item.reserve(uuid4(), 2)

    # Then one low level and one reorder, for the crossing only
    assert isinstance(low, StockLevelLow)
    assert (low.sku, low.on_hand, low.available, low.reorder_point) == ("A", 10, 4, 5)
    assert isinstance(reorder, ReorderRequested)
    assert (reorder.quantity, reorder.available, reorder.reorder_id) == (20, 4, reorder_id("A", 1))
    assert _public(item) == []

    # When a receipt brings it back to the point, the next fall reorders again
    item.receive("r2", 3)  # available 5
    [restocked] = _public(item)
    item.reserve(uuid4(), 1)
    _low, again = _public(item)
    assert isinstance(restocked, StockRestocked)
    assert (restocked.receipt_id, restocked.lines[0].quantity) == ("r2", 3)
    assert restocked.partition_key() == "A"
    assert again.reorder_id == reorder_id("A", 2)


def test_a_receipt_still_under_the_point_reorders_nothing_new() -> None:
    item = StockItem("A", reorder_point=5, reorder_quantity=20)
    item.receive("r1", 2)
    item.reserve(uuid4(), 1)  # low: reorder 1
    item.receive("r2", 1)  # available 2: still under
    item.collect_events()

    item.reserve(uuid4(), 1)

    assert _public(item) == []


def test_thresholds_change_and_listing_overrides_the_default_point(
    app: InventoryApplication, deliver: Any, make: Any
) -> None:
    deliver(make.listed("A"), make.listed("B", reorder_point=7))

    assert (app.stock_levels("A").reorder_point, app.stock_levels("B").reorder_point) == (2, 7)
    assert app.stock_levels("A").reorder_quantity == 20  # the settings' default
    levels = app.set_thresholds("A", Thresholds(reorder_point=4, reorder_quantity=8))
    assert (levels.reorder_point, levels.reorder_quantity) == (4, 8)
    assert app.stock_levels("A").reorder_point == 4


def _public(item: StockItem) -> list[Any]:
    """The public events of the item's new changes, through real Kafka records."""
    events = [to_integration(e) for e in item.collect_events()]
    parsed = []
    for event in events:
        if event is not None:
            record = to_record(event, event_id=str(uuid4()), time=datetime.now(UTC), sequence=1)
            parsed.append(from_record(record.key, record.value, record.headers).data)
    return parsed
