"""The fulfillment read models: shipments (tracking number -> order, for the carrier
webhook; the shipments still awaiting delivery, for the sandbox carriers, also after a
restart) and returns (RMA -> order, for the warehouse's return receipts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from sqlalchemy import (
    Column,
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

shipments_metadata = MetaData()
shipments = Table(
    "fulfillment_shipments",
    shipments_metadata,
    Column("order_id", String(36), primary_key=True),
    Column("shipment_id", String(36), nullable=False),
    # in_transit() looks for the shipped ones every poll: without an index, a scan of
    # every shipment ever made
    Column("status", String(16), nullable=False, index=True),
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("shipped_at", DateTime(timezone=True)),
    UniqueConstraint("carrier", "tracking_number"),
)
returns_metadata = MetaData()
returns = Table(
    "fulfillment_returns",
    returns_metadata,
    Column("rma", String(64), primary_key=True),
    Column("return_id", String(36), nullable=False, unique=True),
    Column("order_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
)
_SHIPMENT_STATUS: dict[type[Any], ShipmentStatus] = {
    Shipment.DeliveryConfirmed: ShipmentStatus.DELIVERED,
    Shipment.Cancelled: ShipmentStatus.CANCELLED,
    Shipment.Stopped: ShipmentStatus.CANCELLED,
    Shipment.Stuck: ShipmentStatus.STUCK,
}


@dataclass(frozen=True)
class InTransit:
    order_id: UUID
    carrier: str
    tracking_number: str
    shipped_at: datetime


class ShipmentsReadModel(KeyedRowsModel):
    """A row per order's shipment: its status, and carrier and tracking number once
    dispatched."""

    name: ClassVar[str] = "fulfillment-shipments"
    metadata: ClassVar[MetaData] = shipments_metadata
    table: ClassVar[Table] = shipments
    per_aggregate: ClassVar[bool] = True  # one shipment per order, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = (
        Shipment.Opened,
        Shipment.Dispatched,
        *_SHIPMENT_STATUS,
    )

    def key_of(self, domain_event: Any) -> str | None:
        known = type(domain_event) in (self.event_types or ())
        return str(domain_event.order_id) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        if isinstance(domain_event, Shipment.Opened):
            if row is not None:
                return None
            return {
                **self.empty_row(),
                "order_id": key,
                "shipment_id": str(domain_event.originator_id),
                "status": ShipmentStatus.WAITING.value,
            }
        if row is None:
            return None  # a shipment this model never saw opened
        if isinstance(domain_event, Shipment.Dispatched):
            row.update(
                status=ShipmentStatus.SHIPPED.value,
                carrier=domain_event.carrier,
                tracking_number=domain_event.tracking_number,
                shipped_at=domain_event.shipped_at,
            )
        else:
            row["status"] = _SHIPMENT_STATUS[type(domain_event)].value
        return row


class ReturnsReadModel(KeyedRowsModel):
    """A row per authorised return, by RMA: the order it belongs to, and whether the
    warehouse has received it."""

    name: ClassVar[str] = "fulfillment-returns"
    metadata: ClassVar[MetaData] = returns_metadata
    table: ClassVar[Table] = returns
    per_aggregate: ClassVar[bool] = True  # a return's events come from its order's shipment
    event_types: ClassVar[tuple[type, ...] | None] = (
        Shipment.ReturnAuthorized,
        Shipment.ReturnReceived,
    )

    def key_of(self, domain_event: Any) -> str | None:
        known = type(domain_event) in (self.event_types or ())
        return str(domain_event.rma) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        if isinstance(domain_event, Shipment.ReturnAuthorized):
            if row is not None:
                return None
            return {
                "rma": key,
                "return_id": str(domain_event.return_id),
                "order_id": str(domain_event.order_id),
                "status": ReturnStatus.AUTHORIZED.value,
            }
        if row is None:
            return None  # a return this model never saw authorised
        row["status"] = ReturnStatus.RECEIVED.value
        return row


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
