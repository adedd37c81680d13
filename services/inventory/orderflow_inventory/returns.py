"""Returned goods back into stock: the domain service `receive_return`. No I/O here.

A return restocks only what the order shipped and has not returned yet: units
beyond that (or of a sku inventory does not know) would be stock that never
left, so they are recorded as unmatched for operators and never put on hand.
Resellable units go back on hand; damaged and defective ones are written off.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orderflow_inventory.domain import StockInvariantError, StockItem, merge_lines
from orderflow_inventory.reservations import Items, OrderStock

RESELLABLE = "resellable"
UNKNOWN_SKU = "unknown sku"
NOT_SHIPPED = "more than the order shipped and kept"


@dataclass(frozen=True)
class ReturnedLine:
    sku: str
    quantity: int
    condition: str  # resellable, damaged or defective


@dataclass
class _Split:
    restock: list[tuple[str, int]] = field(default_factory=list)
    write_off: list[tuple[str, int, str]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)


def receive_return(
    order: OrderStock, items: Items, return_id: uuid.UUID, lines: Iterable[ReturnedLine]
) -> bool:
    """Restock and write off a returned parcel once; False when it was received already."""
    if order.has_return(return_id):
        return False
    split = _split(order.returnable(), items, lines)
    restock = merge_lines(split.restock)
    write_off = _merged_write_offs(split.write_off)
    order.record_return(
        return_id,
        restocked=[{"sku": sku, "quantity": quantity} for sku, quantity in restock.items()],
        written_off=[{"sku": s, "quantity": q, "condition": c} for (s, c), q in write_off.items()],
        unmatched=split.unmatched,
    )
    for sku, quantity in restock.items():
        _known(items, sku).restock(order.order_id, return_id, quantity)
    for (sku, condition), quantity in write_off.items():
        _known(items, sku).write_off(order.order_id, return_id, quantity, condition)
    return True


def _split(left: dict[str, int], items: Items, lines: Iterable[ReturnedLine]) -> _Split:
    """Match each line against what is left to return; resellable units match first."""
    split = _Split()
    for line in sorted(lines, key=lambda ln: ln.condition != RESELLABLE):
        known = items.get(line.sku) is not None
        matched = min(line.quantity, left.get(line.sku, 0)) if known else 0
        if matched:
            left[line.sku] -= matched
            if line.condition == RESELLABLE:
                split.restock.append((line.sku, matched))
            else:
                split.write_off.append((line.sku, matched, line.condition))
        if line.quantity > matched:
            split.unmatched.append(
                {
                    "sku": line.sku,
                    "quantity": line.quantity - matched,
                    "condition": line.condition,
                    "why": NOT_SHIPPED if known else UNKNOWN_SKU,
                }
            )
    return split


def _merged_write_offs(lines: list[tuple[str, int, str]]) -> dict[tuple[str, str], int]:
    merged: dict[tuple[str, str], int] = {}
    for sku, quantity, condition in lines:
        merged[(sku, condition)] = merged.get((sku, condition), 0) + quantity
    return merged


def _known(items: Items, sku: str) -> StockItem:
    item = items.get(sku)
    if item is None:  # _split matches only known skus
        raise StockInvariantError(f"no stock item for {sku}")
    return item
