"""The inventory's admin use cases: load a stock item, change it, save; return values.

The saga itself runs in the handlers (through the inbox's unit of work).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_runtime.problems import Conflict, NotFound
from orderflow_runtime.store import EventStoreApplication

from orderflow_inventory.domain import (
    ReceiptConflictError,
    StockItem,
    StockLevels,
    Thresholds,
    stock_id,
)
from orderflow_inventory.reservations import OrderStock, OrderStockView, order_stock_id

SAVE_ATTEMPTS = 5
"""Tries of a change that met a concurrent change (the inbox reserving, say)."""


class InventoryApplication(EventStoreApplication):
    name = "Inventory"

    def receive_stock(self, sku: str, quantity: int, receipt_id: str) -> tuple[StockLevels, bool]:
        """Book a goods receipt; the bool is False when it was booked already."""

        def receive(item: StockItem) -> bool:
            try:
                return item.receive(receipt_id, quantity)
            except ReceiptConflictError as error:
                raise Conflict(str(error), sku=sku, receipt_id=receipt_id) from None

        return self._change(sku, receive)

    def set_thresholds(self, sku: str, thresholds: Thresholds) -> StockLevels:
        levels, _ = self._change(sku, lambda item: item.set_thresholds(thresholds))
        return levels

    def stock_levels(self, sku: str) -> StockLevels:
        return self._stock_item(sku).levels()

    def order_stock(self, order_id: UUID) -> OrderStockView:
        try:
            order: OrderStock = self.repository.get(order_stock_id(order_id))
        except AggregateNotFoundError:
            raise NotFound(f"inventory knows nothing of order {order_id}") from None
        return order.view()

    def _stock_item(self, sku: str) -> StockItem:
        try:
            item: StockItem = self.repository.get(stock_id(sku))
        except AggregateNotFoundError:
            raise NotFound(f"no stock item for sku {sku}", sku=sku) from None
        return item

    def _change(self, sku: str, change: Callable[[StockItem], bool]) -> tuple[StockLevels, bool]:
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            item = self._stock_item(sku)
            if not change(item):
                return item.levels(), False
            try:
                self.save(item)
            except IntegrityError:
                # The inbox (or another process) changed the item first; save() dropped
                # the stale cached copy, so the next attempt works on the current state.
                if attempt == SAVE_ATTEMPTS:
                    raise
                continue
            return item.levels(), True
        raise AssertionError("unreachable")
