"""The read model of each customer's orders: `GET /customers/{email}/orders`.

One row per order, keyed by the order id, found by the customer's email (lower
case: mail providers ignore case in practice, and customers type it both ways).
The status follows the order's facts the same way the aggregate does: a row only
moves forward along the happy path (`status_rank`).
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from orderflow_events import Money
from orderflow_runtime.projections import ReadModel
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
)

from orderflow_cart.order import STAGE_OF_FACT, Order, OrderStatus, stage_rank
from orderflow_cart.views import OrderSummary

metadata = MetaData()
customer_orders = Table(
    "cart_customer_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("customer_email", String(254), nullable=False, index=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_rank", Integer, nullable=False),
    Column("total", String(40), nullable=False),  # decimal text: exact on every backend
    Column("currency", String(3), nullable=False),
    Column("item_count", Integer, nullable=False),
)


class CustomerOrders(ReadModel):
    name: ClassVar[str] = "cart.customer_orders"
    metadata: ClassVar[MetaData] = metadata

    def project(self, domain_event: Any, conn: Connection) -> None:
        if isinstance(domain_event, Order.Placed):
            conn.execute(
                customer_orders.insert().values(
                    order_id=str(domain_event.originator_id),
                    customer_email=domain_event.customer_email.lower(),
                    placed_at=domain_event.placed_at,
                    status=OrderStatus.PLACED.value,
                    status_rank=0,
                    total=format(domain_event.total, "f"),
                    currency=domain_event.currency,
                    item_count=sum(int(line["quantity"]) for line in domain_event.lines),
                )
            )
        elif isinstance(domain_event, Order.FactRecorded):
            stage = STAGE_OF_FACT.get(domain_event.fact)
            if stage is None:
                return
            rank = stage_rank(stage)
            row = customer_orders.c
            conn.execute(
                customer_orders.update()
                .where(row.order_id == str(domain_event.originator_id), row.status_rank < rank)
                .values(status=stage.value, status_rank=rank)
            )


def orders_of(engine: Engine, email: str, limit: int) -> list[OrderSummary]:
    """The customer's orders, newest first."""
    row = customer_orders.c
    query = (
        select(customer_orders)
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
            # SQLite gives naive datetimes back: every time stored here is UTC
            placed_at=r["placed_at"].replace(tzinfo=r["placed_at"].tzinfo or UTC),
            total=Money(amount=Decimal(r["total"]), currency=r["currency"]),
            item_count=r["item_count"],
        )
        for r in rows
    ]
