"""The shipments read model: tracking number -> order (for the carrier webhook), the
shipments still awaiting delivery (for the sandbox carriers, also after a restart), and
RMA -> order (for the warehouse's return receipts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from orderflow_runtime.projections import ReadModel
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
)

from orderflow_fulfillment.domain import Shipment, ShipmentStatus
from orderflow_fulfillment.returns import ReturnStatus

metadata = MetaData()
shipments = Table(
    "fulfillment_shipments",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("shipment_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("shipped_at", DateTime(timezone=True)),
    UniqueConstraint("carrier", "tracking_number"),
)
returns = Table(
    "fulfillment_returns",
    metadata,
    Column("rma", String(64), primary_key=True),
    Column("return_id", String(36), nullable=False, unique=True),
    Column("order_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
)


@dataclass(frozen=True)
class InTransit:
    order_id: UUID
    carrier: str
    tracking_number: str
    shipped_at: datetime


class ShipmentsReadModel(ReadModel):
    name = "fulfillment-shipments"
    metadata = metadata

    def project(self, domain_event: Any, conn: Connection) -> None:
        order_id = str(getattr(domain_event, "order_id", ""))
        row = shipments.c.order_id == order_id
        match domain_event:
            case Shipment.Opened():
                conn.execute(
                    shipments.insert().values(
                        order_id=order_id,
                        shipment_id=str(domain_event.originator_id),
                        status=ShipmentStatus.WAITING,
                    )
                )
            case Shipment.Dispatched():
                conn.execute(
                    shipments.update()
                    .where(row)
                    .values(
                        status=ShipmentStatus.SHIPPED,
                        carrier=domain_event.carrier,
                        tracking_number=domain_event.tracking_number,
                        shipped_at=domain_event.shipped_at,
                    )
                )
            case Shipment.DeliveryConfirmed():
                conn.execute(shipments.update().where(row).values(status=ShipmentStatus.DELIVERED))
            case Shipment.Cancelled() | Shipment.Stopped():
                conn.execute(shipments.update().where(row).values(status=ShipmentStatus.CANCELLED))
            case Shipment.Stuck():
                conn.execute(shipments.update().where(row).values(status=ShipmentStatus.STUCK))
            case Shipment.ReturnAuthorized():
                conn.execute(
                    returns.insert().values(
                        rma=domain_event.rma,
                        return_id=str(domain_event.return_id),
                        order_id=order_id,
                        status=ReturnStatus.AUTHORIZED,
                    )
                )
            case Shipment.ReturnReceived():
                rma = returns.c.rma == domain_event.rma
                conn.execute(returns.update().where(rma).values(status=ReturnStatus.RECEIVED))


def order_of_tracking(engine: Engine, carrier: str, tracking_number: str) -> UUID | None:
    query = select(shipments.c.order_id).where(
        shipments.c.carrier == carrier, shipments.c.tracking_number == tracking_number
    )
    with engine.connect() as conn:
        found = conn.execute(query).scalar_one_or_none()
    return None if found is None else UUID(found)


def order_of_rma(engine: Engine, rma: str) -> UUID | None:
    query = select(returns.c.order_id).where(returns.c.rma == rma)
    with engine.connect() as conn:
        found = conn.execute(query).scalar_one_or_none()
    return None if found is None else UUID(found)


def in_transit(engine: Engine) -> list[InTransit]:
    """Shipped and not yet delivered, oldest first."""
    query = (
        select(
            shipments.c.order_id,
            shipments.c.carrier,
            shipments.c.tracking_number,
            shipments.c.shipped_at,
        )
        .where(shipments.c.status == ShipmentStatus.SHIPPED)
        .order_by(shipments.c.shipped_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [InTransit(UUID(o), c, t, _utc(s)) for o, c, t, s in rows]


def _utc(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
