"""The order: what was bought, and the facts of its saga as other services report them.

Events of one order arrive in any order across topics (stock may be reserved
before the authorisation arrives, in theory delivered before shipped). The order
keeps each fact once, an append-only history in arrival order, and a status that
is the furthest stage of the happy path reached, never going back. Refusals
(declined payment, no stock) are facts too: they are kept and listed as problems;
they do not change the status. Cancellation and returns will be events of their
own that set the terminal statuses (`cancelled`, `returned`...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import event
from orderflow_events import OrderPlaced
from orderflow_runtime.context import TracedAggregate


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


class Fact(StrEnum):
    """Something another service reported about the order."""

    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_CAPTURED = "payment_captured"
    PAYMENT_DECLINED = "payment_declined"
    STOCK_RESERVED = "stock_reserved"
    STOCK_RESERVATION_FAILED = "stock_reservation_failed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


STAGE_OF_FACT: Final[Mapping[str, OrderStatus]] = {
    Fact.PAYMENT_AUTHORIZED: OrderStatus.PAYMENT_AUTHORIZED,
    Fact.STOCK_RESERVED: OrderStatus.STOCK_RESERVED,
    Fact.SHIPPED: OrderStatus.SHIPPED,
    Fact.DELIVERED: OrderStatus.DELIVERED,
}
"""The happy-path stage each fact reaches; facts not listed leave the status alone."""

PROBLEM_FACTS: Final = frozenset({Fact.PAYMENT_DECLINED, Fact.STOCK_RESERVATION_FAILED})


def stage_rank(status: str) -> int:
    """Position on the happy path (placed = 0 ... delivered = 4)."""
    return HAPPY_PATH.index(OrderStatus(status))


class Order(TracedAggregate):
    """An order, made by checkout (id = the order id) and followed through its saga."""

    class Placed(TracedAggregate.Created):
        order_id: UUID
        cart_id: UUID
        customer_email: str
        lines: list[dict[str, Any]]
        currency: str
        subtotal: Decimal
        shipping_fee: Decimal
        tax: Decimal
        total: Decimal
        shipping_address: dict[str, str | None]
        shipping_method: str
        payment: dict[str, str]
        placed_at: datetime

    class FactRecorded(TracedAggregate.Event):
        fact: str
        at: datetime
        ce_type: str
        details: dict[str, Any]

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return order_id

    @event(Placed)
    def __init__(
        self,
        order_id: UUID,
        cart_id: UUID,
        customer_email: str,
        lines: list[dict[str, Any]],
        currency: str,
        subtotal: Decimal,
        shipping_fee: Decimal,
        tax: Decimal,
        total: Decimal,
        shipping_address: dict[str, str | None],
        shipping_method: str,
        payment: dict[str, str],
        placed_at: datetime,
    ) -> None:
        """`lines`: sku, name, quantity, unit_price (Decimal), attributes, weight_grams."""
        self.cart_id = cart_id
        self.customer_email = customer_email
        self.lines = lines
        self.currency = currency
        self.subtotal = subtotal
        self.shipping_fee = shipping_fee
        self.tax = tax
        self.total = total
        self.shipping_address = shipping_address
        self.shipping_method = shipping_method
        self.payment = payment  # token, brand, last4: never a card number
        self.placed_at = placed_at
        self.status = OrderStatus.PLACED
        self.facts: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self._append_history("placed", placed_at, OrderPlaced.ce_type)

    def record(
        self, fact: Fact, *, at: datetime, ce_type: str, details: dict[str, Any] | None = None
    ) -> bool:
        """Record a fact once; a repeat (a second authorisation...) is a no-op: False."""
        if fact in self.facts:
            return False
        self._fact_recorded(fact=fact.value, at=at, ce_type=ce_type, details=details or {})
        return True

    @event(FactRecorded)
    def _fact_recorded(
        self, fact: str, at: datetime, ce_type: str, details: dict[str, Any]
    ) -> None:
        self.facts[fact] = {"at": at, "ce_type": ce_type, "details": details}
        stage = STAGE_OF_FACT.get(fact)
        if stage is not None and self._moves_forward(stage):
            self.status = stage
        self._append_history(fact, at, ce_type)

    def _moves_forward(self, stage: OrderStatus) -> bool:
        # only along the happy path: a terminal status set by its own event stays
        return self.status in HAPPY_PATH and stage_rank(stage) > stage_rank(self.status)

    def _append_history(self, fact: str, at: datetime, ce_type: str) -> None:
        self.history.append({"fact": fact, "status": self.status, "at": at, "ce_type": ce_type})

    def has(self, fact: Fact) -> bool:
        return fact in self.facts

    def details(self, fact: Fact) -> dict[str, Any] | None:
        recorded = self.facts.get(fact)
        return None if recorded is None else dict(recorded["details"])

    @property
    def problems(self) -> list[dict[str, Any]]:
        """The refusals reported (declined payment, stock short), in arrival order."""
        return [
            {"fact": entry["fact"], "at": entry["at"], **self.facts[entry["fact"]]["details"]}
            for entry in self.history
            if entry["fact"] in PROBLEM_FACTS
        ]
