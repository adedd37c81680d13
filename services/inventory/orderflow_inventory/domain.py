"""Stock per sku and the reservation of each order's lines. No I/O here.

`StockItem` counts one sku: on hand (in the warehouse), reserved (promised to
orders, still on hand) and committed (shipped), and where units came from:
received (goods receipts) and restocked (resellable returns); returned units that
cannot be sold are written off. So on hand = received + restocked - committed.
`OrderStock` (reservations.py) is one order's side of the saga.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

NAMESPACE = uuid.UUID("8a4c2e1b-6f3d-4b7a-9c5e-1d2f3a4b5c6d")


class InventoryError(Exception):
    """A change the inventory refuses."""


class StockInvariantError(InventoryError):
    """A change that would break a stock invariant: a bug in the caller if raised."""


class ReceiptConflictError(InventoryError):
    """A goods receipt id used again with another quantity."""


@dataclass(frozen=True)
class Thresholds:
    reorder_point: int
    reorder_quantity: int


@dataclass(frozen=True)
class StockLevels:
    sku: str
    on_hand: int
    reserved: int
    available: int
    committed: int
    received: int
    restocked: int
    written_off: int
    reorder_point: int
    reorder_quantity: int
    active: bool


def stock_id(sku: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"stock:{sku}")


def reorder_id(sku: str, number: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"reorder:{sku}:{number}")


class StockItem(TracedAggregate):
    """The stock of one sku. Counters never go negative; reserved <= on hand."""

    @staticmethod
    def create_id(sku: str) -> uuid.UUID:
        return stock_id(sku)

    @event("Created")
    def __init__(self, sku: str, reorder_point: int, reorder_quantity: int) -> None:
        self.sku = sku
        self.on_hand = 0
        self.reserved = 0
        self.committed = 0
        self.received = 0  # from goods receipts
        self.restocked = 0  # back from returns, resellable
        self.written_off = 0  # back from returns, damaged or defective: never on hand
        self.reorder_point = reorder_point
        self.reorder_quantity = reorder_quantity
        self.active = True
        self.reorders = 0
        self.reorder_pending = False  # a reorder is out; no other until a receipt
        self.receipts: dict[str, int] = {}

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def levels(self) -> StockLevels:
        return StockLevels(
            sku=self.sku,
            on_hand=self.on_hand,
            reserved=self.reserved,
            available=self.available,
            committed=self.committed,
            received=self.received,
            restocked=self.restocked,
            written_off=self.written_off,
            reorder_point=self.reorder_point,
            reorder_quantity=self.reorder_quantity,
            active=self.active,
        )

    def receive(self, receipt_id: str, quantity: int) -> bool:
        """Goods received; False when this receipt was booked already."""
        _require_positive(quantity)
        if receipt_id in self.receipts:
            if self.receipts[receipt_id] != quantity:
                raise ReceiptConflictError(
                    f"receipt {receipt_id} was booked with {self.receipts[receipt_id]} units"
                )
            return False
        self._received(sku=self.sku, receipt_id=receipt_id, quantity=quantity)
        return True

    def can_reserve(self, quantity: int) -> bool:
        return self.active and self.available >= quantity

    def reserve(self, order_id: uuid.UUID, quantity: int) -> None:
        _require_positive(quantity)
        if not self.can_reserve(quantity):
            raise StockInvariantError(f"{self.sku}: cannot reserve {quantity} of {self.available}")
        self._reserved(order_id=order_id, quantity=quantity)
        if not self.reorder_pending and self.available < self.reorder_point:
            self._fell_low(
                sku=self.sku,
                on_hand=self.on_hand,
                available=self.available,
                reorder_point=self.reorder_point,
            )
            self._reorder_requested(
                sku=self.sku,
                reorder_id=reorder_id(self.sku, self.reorders + 1),
                quantity=self.reorder_quantity,
                available=self.available,
                reorder_point=self.reorder_point,
            )

    def release(self, order_id: uuid.UUID, quantity: int) -> None:
        _require_positive(quantity)
        if quantity > self.reserved:
            raise StockInvariantError(f"{self.sku}: cannot release {quantity} of {self.reserved}")
        self._released(order_id=order_id, quantity=quantity)

    def commit(self, order_id: uuid.UUID, quantity: int) -> None:
        """Reserved units left the warehouse."""
        _require_positive(quantity)
        if quantity > self.reserved:
            raise StockInvariantError(f"{self.sku}: cannot commit {quantity} of {self.reserved}")
        self._committed(order_id=order_id, quantity=quantity)

    def restock(self, order_id: uuid.UUID, return_id: uuid.UUID, quantity: int) -> None:
        """Returned units that can be sold again are back on hand."""
        _require_positive(quantity)
        self._restocked(order_id=order_id, return_id=return_id, quantity=quantity)

    def write_off(
        self, order_id: uuid.UUID, return_id: uuid.UUID, quantity: int, condition: str
    ) -> None:
        """Returned units that cannot be sold again: counted, never on hand."""
        _require_positive(quantity)
        self._written_off(
            order_id=order_id, return_id=return_id, quantity=quantity, condition=condition
        )

    def set_thresholds(self, thresholds: Thresholds) -> bool:
        if thresholds == Thresholds(self.reorder_point, self.reorder_quantity):
            return False
        self._thresholds_set(
            reorder_point=thresholds.reorder_point, reorder_quantity=thresholds.reorder_quantity
        )
        return True

    def deactivate(self) -> bool:
        """No new reservations (the product was delisted); False when inactive already."""
        if not self.active:
            return False
        self._deactivated()
        return True

    @event("Received")
    def _received(self, sku: str, receipt_id: str, quantity: int) -> None:
        self.on_hand += quantity
        self.received += quantity
        self.receipts[receipt_id] = quantity
        self._lifted()

    @event("Restocked")
    def _restocked(self, order_id: uuid.UUID, return_id: uuid.UUID, quantity: int) -> None:
        self.on_hand += quantity
        self.restocked += quantity
        self._lifted()

    @event("WrittenOff")
    def _written_off(
        self, order_id: uuid.UUID, return_id: uuid.UUID, quantity: int, condition: str
    ) -> None:
        self.written_off += quantity

    def _lifted(self) -> None:
        if self.available >= self.reorder_point:
            self.reorder_pending = False  # back at the point: the next fall reorders again

    @event("Reserved")
    def _reserved(self, order_id: uuid.UUID, quantity: int) -> None:
        self.reserved += quantity

    @event("LevelLow")
    def _fell_low(self, sku: str, on_hand: int, available: int, reorder_point: int) -> None:
        pass

    @event("ReorderRequested")
    def _reorder_requested(
        self, sku: str, reorder_id: uuid.UUID, quantity: int, available: int, reorder_point: int
    ) -> None:
        self.reorders += 1
        self.reorder_pending = True

    @event("Released")
    def _released(self, order_id: uuid.UUID, quantity: int) -> None:
        self.reserved -= quantity

    @event("Committed")
    def _committed(self, order_id: uuid.UUID, quantity: int) -> None:
        self.on_hand -= quantity
        self.reserved -= quantity
        self.committed += quantity

    @event("ThresholdsSet")
    def _thresholds_set(self, reorder_point: int, reorder_quantity: int) -> None:
        self.reorder_point = reorder_point
        self.reorder_quantity = reorder_quantity

    @event("Deactivated")
    def _deactivated(self) -> None:
        self.active = False


def _require_positive(quantity: int) -> None:
    if quantity <= 0:
        raise StockInvariantError(f"a quantity must be positive, not {quantity}")


def merge_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Quantities per sku, in first-seen order (an order may name a sku twice)."""
    merged: dict[str, int] = {}
    for sku, quantity in lines:
        merged[sku] = merged.get(sku, 0) + quantity
    return merged


# Typed handles on the event classes that @event generates (mypy cannot see them).
StockCreatedEvent: type[Any] = StockItem.Created
StockReceivedEvent: type[Any] = StockItem.Received  # type: ignore[attr-defined]
StockRestockedEvent: type[Any] = StockItem.Restocked  # type: ignore[attr-defined]
StockWrittenOffEvent: type[Any] = StockItem.WrittenOff  # type: ignore[attr-defined]
StockReservedEvent: type[Any] = StockItem.Reserved  # type: ignore[attr-defined]
StockReleasedEvent: type[Any] = StockItem.Released  # type: ignore[attr-defined]
StockCommittedEvent: type[Any] = StockItem.Committed  # type: ignore[attr-defined]
StockLevelLowEvent: type[Any] = StockItem.LevelLow  # type: ignore[attr-defined]
ReorderRequestedEvent: type[Any] = StockItem.ReorderRequested  # type: ignore[attr-defined]
StockThresholdsSetEvent: type[Any] = StockItem.ThresholdsSet  # type: ignore[attr-defined]
StockDeactivatedEvent: type[Any] = StockItem.Deactivated  # type: ignore[attr-defined]
StockItemEvent: type[Any] = StockItem.Event
