"""The orders read model: a customer's orders, the operators' list, the deadline watcher.

One row per order, keyed by the order id, found by the customer's email (lower
case: mail providers ignore case in practice, and customers type it both ways).
The status follows the order's `StatusChanged` events, so it is the aggregate's
own (cancellations and returns included); `status_since` and `deadline_at` say
since when and until when (the settings' deadline for that status; none for a
terminal one). Returned units per line and refunded money follow their events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from orderflow_events import Money
from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
)

from orderflow_cart.order import Order, OrderStatus
from orderflow_cart.status import TERMINAL
from orderflow_cart.views import OrderSummary

metadata = MetaData()
orders_table = Table(
    "cart_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("customer_email", String(254), nullable=False, index=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("status", String(32), nullable=False, index=True),
    Column("status_since", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True), nullable=True, index=True),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("cancel_requested", String(32), nullable=True),  # the reason asked for
    Column("cancel_reason", String(32), nullable=True),
    Column("total", String(40), nullable=False),  # decimal text: exact on every backend
    Column("refunded", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("lines", JSON, nullable=False),  # [{sku, quantity, returned}]
)
row = orders_table.c


class OrderList(KeyedRowsModel):
    name: ClassVar[str] = "cart.orders"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = orders_table
    per_aggregate: ClassVar[bool] = True  # a row per order, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = (
        # exactly the classes `apply` reacts to: carts' and products' events are not read
        Order.Placed,
        Order.StatusChanged,
        Order.FlaggedOverdue,
        Order.CancellationRequested,
        Order.Cancelled,
        Order.ReturnReceived,
        Order.RefundRecorded,
    )

    def __init__(self, deadlines: Mapping[OrderStatus, timedelta]) -> None:
        self.deadlines = dict(deadlines)

    def key_of(self, domain_event: Any) -> str | None:
        known = isinstance(domain_event, self.event_types or ())
        return str(domain_event.originator_id) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        if isinstance(domain_event, Order.Placed):
            return self._placed(key, domain_event) if row is None else None
        if row is None:
            return None  # an order this model never saw placed: nothing to change
        row.update(self._changes(domain_event, row))
        return row

    def _placed(self, key: str, placed: Order.Placed) -> Row:
        return {
            **self.empty_row(),
            "order_id": key,
            "customer_email": placed.customer_email.lower(),
            "placed_at": placed.placed_at,
            "status": OrderStatus.PLACED.value,
            "status_since": placed.placed_at,
            "deadline_at": self._deadline(OrderStatus.PLACED, placed.placed_at),
            "overdue": False,
            "total": format(placed.total, "f"),
            "refunded": "0",
            "currency": placed.currency,
            "item_count": sum(int(line["quantity"]) for line in placed.lines),
            "lines": [
                {"sku": line["sku"], "quantity": int(line["quantity"]), "returned": 0}
                for line in placed.lines
            ],
        }

    def _changes(self, domain_event: Any, row: Row) -> Row:
        if isinstance(domain_event, Order.StatusChanged):
            status = OrderStatus(domain_event.status)
            return {
                "status": status.value,
                "status_since": domain_event.since,
                "deadline_at": self._deadline(status, domain_event.since),
                "overdue": False,
            }
        if isinstance(domain_event, Order.FlaggedOverdue):
            return {"overdue": True}
        if isinstance(domain_event, Order.CancellationRequested):
            return {"cancel_requested": domain_event.reason}
        if isinstance(domain_event, Order.Cancelled):
            return {"cancel_reason": domain_event.reason}
        if isinstance(domain_event, Order.ReturnReceived):
            return {"lines": _returned(row["lines"], domain_event.lines)}
        if isinstance(domain_event, Order.RefundRecorded):
            return {"refunded": format(Decimal(row["refunded"]) + domain_event.amount, "f")}
        return {}

    def _deadline(self, status: OrderStatus, since: datetime) -> datetime | None:
        deadline = self.deadlines.get(status)
        return None if status in TERMINAL or deadline is None else since + deadline


def _returned(lines: list[dict[str, Any]], received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's lines with the units `received` counted as returned, up to each
    line's quantity."""
    back: dict[str, int] = {}
    for line in received:
        back[line["sku"]] = back.get(line["sku"], 0) + int(line["quantity"])
    updated = []
    for line in lines:
        taken = min(back.get(line["sku"], 0), line["quantity"] - line["returned"])
        back[line["sku"]] = back.get(line["sku"], 0) - taken
        updated.append({**line, "returned": line["returned"] + taken})
    return updated


def utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: every time stored here is UTC."""
    return value.replace(tzinfo=value.tzinfo or UTC)


def orders_of(engine: Engine, email: str, limit: int) -> list[OrderSummary]:
    """The customer's orders, newest first."""
    query = (
        select(orders_table)
        .where(row.customer_email == email.lower())
        .order_by(row.placed_at.desc(), row.order_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        OrderSummary(
            order_id=UUID(r["order_id"]),
            status=OrderStatus(r["status"]),
            placed_at=utc(r["placed_at"]),
            total=Money(amount=Decimal(r["total"]), currency=r["currency"]),
            item_count=r["item_count"],
        )
        for r in rows
    ]
