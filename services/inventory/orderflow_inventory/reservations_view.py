"""The `inventory_reservations` read model: every order's stock record, for
`GET /reservations` (the invariant checker pages through it).

Like the stock levels, a row changes only from its previous version, so an event
applied twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from orderflow_runtime.projections import events_of
from sqlalchemy import JSON, Column, Connection, Integer, MetaData, String, Table, func, select

from orderflow_inventory.reservations import (
    OrderCancelledEvent,
    OrderCommittedEvent,
    OrderLinesRecordedEvent,
    OrderOpenedEvent,
    OrderReleasedEvent,
    OrderReservationFailedEvent,
    OrderReservedEvent,
    OrderReturnReceivedEvent,
    OrderStock,
    OrderStockEvent,
    Status,
)

metadata = MetaData()
records = Table(
    "inventory_reservations",
    metadata,
    Column("record_id", String(36), primary_key=True),  # the OrderStock aggregate's id
    Column("order_id", String(36), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("lines", JSON, nullable=False),  # {sku: units}
    Column("reservation_id", String(36)),
    Column("restocked", JSON, nullable=False),  # {sku: units back on hand from returns}
    Column("written_off", JSON, nullable=False),  # {sku: units returned unsellable}
    Column("version", Integer, nullable=False),
)
c = records.c
_STATUS: list[tuple[type[Any], Status]] = [
    (OrderReservedEvent, Status.RESERVED),
    (OrderReservationFailedEvent, Status.FAILED),
    (OrderReleasedEvent, Status.RELEASED),
    (OrderCommittedEvent, Status.COMMITTED),
    (OrderCancelledEvent, Status.CANCELLED),
]


@dataclass(frozen=True)
class ReservationRecord:
    order_id: str
    status: str
    lines: dict[str, int]
    reservation_id: str | None
    restocked: dict[str, int]
    written_off: dict[str, int]


class ReservationsReadModel(KeyedRowsModel):
    name: ClassVar[str] = "inventory.reservations"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = records
    per_aggregate: ClassVar[bool] = True  # a row per order's stock record, from its events
    event_types: ClassVar[tuple[type, ...] | None] = events_of(OrderStock)  # each moves version

    def key_of(self, domain_event: Any) -> str | None:
        known = isinstance(domain_event, OrderStockEvent)
        return str(domain_event.originator_id) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        version = domain_event.originator_version
        if isinstance(domain_event, OrderOpenedEvent):
            return None if row is not None else _opened(domain_event, key, version)
        if row is None or row["version"] != version - 1:
            return None  # applied already (or its record never opened)
        row.update(_changes(domain_event, row), version=version)
        return row


def _opened(e: Any, key: str, version: int) -> dict[str, Any]:
    return {
        "record_id": key,
        "order_id": str(e.order_id),
        "status": Status.PENDING.value,
        "lines": {},
        "reservation_id": None,
        "restocked": {},
        "written_off": {},
        "version": version,
    }


def _changes(e: Any, row: Row) -> dict[str, Any]:
    for kind, status in _STATUS:
        if isinstance(e, kind):
            rid = getattr(e, "reservation_id", None)
            return {"status": status.value, "reservation_id": str(rid) if rid else None}
    if isinstance(e, OrderLinesRecordedEvent):
        return {"lines": {line["sku"]: line["quantity"] for line in e.lines}}
    if isinstance(e, OrderReturnReceivedEvent):
        return {
            "restocked": _added(row["restocked"], e.restocked),
            "written_off": _added(row["written_off"], e.written_off),
        }
    return {}


def _added(counts: dict[str, int], lines: list[dict[str, Any]]) -> dict[str, int]:
    total = dict(counts)
    for line in lines:
        total[line["sku"]] = total.get(line["sku"], 0) + line["quantity"]
    return total


def list_reservations(
    conn: Connection, *, page: int, size: int
) -> tuple[list[ReservationRecord], int]:
    """One page of order stock records by order id, and how many there are in all."""
    total = conn.execute(select(func.count()).select_from(records)).scalar()
    query = select(records).order_by(c.order_id).limit(size).offset((page - 1) * size)
    found = [
        ReservationRecord(
            order_id=row.order_id,
            status=row.status,
            lines=dict(row.lines),
            reservation_id=row.reservation_id,
            restocked=dict(row.restocked),
            written_off=dict(row.written_off),
        )
        for row in conn.execute(query)
    ]
    return found, int(total or 0)
