"""An order's statuses, the facts other services report, and how status follows from them.

The status is derived from everything recorded, never set by arrival order:
cancelled overrides the pre-shipment stages; before shipment the status is the
furthest stage of the happy path reached; after it, an open return makes it
`return_requested`, received returns `partially_returned` or `returned`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAYMENT_AUTHORIZED = "payment_authorized"
    STOCK_RESERVED = "stock_reserved"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return_requested"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"


HAPPY_PATH: Final = (
    OrderStatus.PLACED,
    OrderStatus.PAYMENT_AUTHORIZED,
    OrderStatus.STOCK_RESERVED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)
TERMINAL: Final = frozenset(
    {
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_RETURNED,
        OrderStatus.RETURNED,
        OrderStatus.CANCELLED,
    }
)
BEFORE_SHIPMENT: Final = frozenset(
    {OrderStatus.PLACED, OrderStatus.PAYMENT_AUTHORIZED, OrderStatus.STOCK_RESERVED}
)
"""The statuses in which an order can still be cancelled."""
AFTER_SHIPMENT: Final = frozenset(set(OrderStatus) - BEFORE_SHIPMENT - {OrderStatus.CANCELLED})


class Fact(StrEnum):
    """Something another service reported about the order (recorded once each)."""

    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_CAPTURED = "payment_captured"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_VOIDED = "payment_voided"
    STOCK_RESERVED = "stock_reserved"
    STOCK_RESERVATION_FAILED = "stock_reservation_failed"
    STOCK_RELEASED = "stock_released"
    SHIPPED = "shipped"
    SHIPMENT_STOPPED = "shipment_stopped"
    DELIVERED = "delivered"


STAGE_OF_FACT: Final[Mapping[str, OrderStatus]] = {
    Fact.PAYMENT_AUTHORIZED: OrderStatus.PAYMENT_AUTHORIZED,
    Fact.STOCK_RESERVED: OrderStatus.STOCK_RESERVED,
    Fact.SHIPPED: OrderStatus.SHIPPED,
    Fact.DELIVERED: OrderStatus.DELIVERED,
}
"""The happy-path stage each fact reaches; facts not listed leave the status alone."""

PROBLEM_FACTS: Final = frozenset({Fact.PAYMENT_DECLINED, Fact.STOCK_RESERVATION_FAILED})


class CancelOutcome(StrEnum):
    """What asking to cancel an order did."""

    REQUESTED = "requested"
    ALREADY_REQUESTED = "already_requested"
    ALREADY_CANCELLED = "already_cancelled"


class DeadlineAction(StrEnum):
    """What the deadline watcher did to one order."""

    NONE = "none"
    CANCELLATION_REQUESTED = "cancellation_requested"
    FLAGGED_OVERDUE = "flagged_overdue"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    RECEIVED = "received"


OPEN_RETURNS: Final = frozenset({ReturnStatus.REQUESTED, ReturnStatus.AUTHORIZED})


def quantities(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Units per sku of `lines` ({sku, quantity, ...}); a sku named twice adds up."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["sku"]] = totals.get(line["sku"], 0) + int(line["quantity"])
    return totals


def stage_rank(status: str) -> int:
    """Position on the happy path (placed = 0 ... delivered = 4)."""
    return HAPPY_PATH.index(OrderStatus(status))


def furthest_stage(facts: Iterable[str]) -> OrderStatus:
    """The furthest happy-path stage the recorded facts (by name) reach."""
    stages = [STAGE_OF_FACT[f] for f in facts if f in STAGE_OF_FACT]
    return max(stages, key=stage_rank, default=OrderStatus.PLACED)


def derive_status(
    stage: OrderStatus,
    *,
    cancelled: bool,
    open_returns: bool,
    shipped: Mapping[str, int],
    returned: Mapping[str, int],
) -> OrderStatus:
    """The status an order with these facts has, whatever order they arrived in."""
    if cancelled:
        return OrderStatus.CANCELLED
    if stage in BEFORE_SHIPMENT:
        return stage
    if open_returns:
        return OrderStatus.RETURN_REQUESTED
    if not any(returned.values()):
        return stage
    if all(returned.get(sku, 0) >= quantity for sku, quantity in shipped.items()):
        return OrderStatus.RETURNED
    return OrderStatus.PARTIALLY_RETURNED
