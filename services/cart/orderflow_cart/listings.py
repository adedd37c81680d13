"""What operators read from the orders read model: every order, stuck ones, counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from orderflow_events import CancelReason, Money
from pydantic import Field
from sqlalchemy import Engine, RowMapping, func, or_, select

from orderflow_cart.projections import orders_table, row, utc
from orderflow_cart.status import AFTER_SHIPMENT, OrderStatus
from orderflow_cart.views import View


class LineQuantities(View):
    sku: str
    quantity: int = Field(description="Units ordered.")
    returned: int = Field(description="Units received back in returns.")


class OrderRow(View):
    order_id: UUID
    status: OrderStatus
    status_since: datetime = Field(description="When the order entered its status.")
    deadline_at: datetime | None = Field(description="When its status runs out; None: final.")
    past_deadline: bool
    total: Money
    refunded: Money
    cancel_reason: CancelReason | None
    lines: list[LineQuantities]
    customer_email: str
    placed_at: datetime


class OrderPage(View):
    page: int
    size: int
    total: int = Field(description="Orders matching, over all pages.")
    items: list[OrderRow]


class StuckOrder(View):
    order_id: UUID
    status: OrderStatus
    since: datetime = Field(description="When the order entered its status.")
    deadline_at: datetime | None
    past_deadline: bool = Field(description="Past its deadline now (not yet final).")
    expired: bool = Field(description="Cancelled because it missed a deadline.")
    cancellation_requested: CancelReason | None = Field(description="A cancel asked for.")
    overdue: bool = Field(description="Flagged to operators (after shipment).")


class StuckOrders(View):
    items: list[StuckOrder] = Field(description="Past their deadline first, then expired ones.")


def due_orders(engine: Engine, now: datetime) -> list[UUID]:
    """Orders past their deadline that the watcher has not acted on yet."""
    query = select(row.order_id).where(
        row.deadline_at <= now,
        row.overdue.is_(False),
        or_(row.cancel_requested.is_(None), row.status.in_(sorted(AFTER_SHIPMENT))),
    )
    with engine.connect() as conn:
        return [UUID(order_id) for order_id in conn.execute(query).scalars()]


def stuck_orders(engine: Engine, now: datetime, limit: int) -> StuckOrders:
    query = (
        select(orders_table)
        .where(or_(row.deadline_at <= now, row.cancel_reason == CancelReason.EXPIRED.value))
        .order_by(row.deadline_at.is_(None), row.deadline_at, row.status_since.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return StuckOrders(
        items=[
            StuckOrder(
                order_id=UUID(r["order_id"]),
                status=OrderStatus(r["status"]),
                since=utc(r["status_since"]),
                deadline_at=_maybe_utc(r["deadline_at"]),
                past_deadline=_past(r, now),
                expired=r["cancel_reason"] == CancelReason.EXPIRED.value,
                cancellation_requested=r["cancel_requested"],
                overdue=r["overdue"],
            )
            for r in rows
        ]
    )


def order_page(
    engine: Engine, now: datetime, *, page: int, size: int, status: OrderStatus | None
) -> OrderPage:
    """Every order (or those in one status), oldest first, one page."""
    query = select(orders_table).order_by(row.placed_at, row.order_id)
    count = select(func.count()).select_from(orders_table)
    if status is not None:
        query, count = (
            query.where(row.status == status.value),
            count.where(row.status == status.value),
        )
    query = query.offset((page - 1) * size).limit(size)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        total = conn.execute(count).scalar_one()
    return OrderPage(page=page, size=size, total=total, items=[_order_row(r, now) for r in rows])


def _order_row(r: RowMapping, now: datetime) -> OrderRow:
    currency = r["currency"]
    return OrderRow(
        order_id=UUID(r["order_id"]),
        status=OrderStatus(r["status"]),
        status_since=utc(r["status_since"]),
        deadline_at=_maybe_utc(r["deadline_at"]),
        past_deadline=_past(r, now),
        total=Money(amount=Decimal(r["total"]), currency=currency),
        refunded=Money(amount=Decimal(r["refunded"]), currency=currency),
        cancel_reason=r["cancel_reason"],
        lines=[LineQuantities.model_validate(line) for line in r["lines"]],
        customer_email=r["customer_email"],
        placed_at=utc(r["placed_at"]),
    )


def counts(engine: Engine, now: datetime) -> tuple[int, dict[str, int]]:
    """Orders past their deadline now, and orders by status."""
    past = select(func.count()).select_from(orders_table).where(row.deadline_at <= now)
    by_state = select(row.status, func.count()).group_by(row.status)
    with engine.connect() as conn:
        past_deadline = conn.execute(past).scalar_one()
        states = {status: n for status, n in conn.execute(by_state).all()}
    return past_deadline, states


def _past(r: RowMapping, now: datetime) -> bool:
    deadline = _maybe_utc(r["deadline_at"])
    return deadline is not None and deadline <= now


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
