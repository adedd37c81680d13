"""The payments index: every order payment has heard of, in the order it first heard of it.

It only lists order ids; `GET /payments` loads each payment of a page from the store,
so what it reports is the payments' live state, never a copy that may trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from orderflow_runtime.projections import ReadModel
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, func, select

from orderflow_payment.domain import Payment

metadata = MetaData()
payments = Table(
    "payment_index",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(36), nullable=False, unique=True),
)


class PaymentsIndex(ReadModel):
    name = "payment-index"
    metadata = metadata
    event_types = (Payment.Opened,)

    def project(self, domain_event: Any, conn: Connection) -> None:
        if isinstance(domain_event, Payment.Opened):
            conn.execute(payments.insert().values(order_id=str(domain_event.order_id)))

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        """One multi-row insert, in event order (so `seq` follows the events as before)."""
        opened = [
            {"order_id": str(e.order_id)} for e in domain_events if isinstance(e, Payment.Opened)
        ]
        if opened:
            conn.execute(payments.insert(), opened)


def page_of_orders(engine: Engine, *, page: int, size: int) -> tuple[list[UUID], int]:
    """One page of order ids, oldest payment first, and how many there are in all."""
    query = select(payments.c.order_id).order_by(payments.c.seq)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(payments)).scalar()
        rows = conn.execute(query.limit(size).offset((page - 1) * size)).scalars().all()
    return [UUID(order_id) for order_id in rows], int(total or 0)
