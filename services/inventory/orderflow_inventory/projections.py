"""The `inventory_stock_v2` read model: the levels of every sku, for `GET /stock`.

Rows change by the deltas of each StockItem event, applied only onto the row's
previous version: applying an event twice (two processes on one database, a
rebuild racing a catch-up) changes nothing the second time.

The table and the model's name carry a version: a new column means a new table,
filled from the store from the start (the old one is left for a later cleanup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from orderflow_runtime.projections import events_of
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)

from orderflow_inventory.domain import (
    StockCommittedEvent,
    StockCreatedEvent,
    StockDeactivatedEvent,
    StockItem,
    StockItemEvent,
    StockLevels,
    StockReceivedEvent,
    StockReleasedEvent,
    StockReservedEvent,
    StockRestockedEvent,
    StockThresholdsSetEvent,
    StockWrittenOffEvent,
)

metadata = MetaData()
stock = Table(
    "inventory_stock_v2",
    metadata,
    Column("stock_id", String(36), primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("committed", Integer, nullable=False),
    Column("received", Integer, nullable=False),
    Column("restocked", Integer, nullable=False),
    Column("written_off", Integer, nullable=False),
    Column("reorder_point", Integer, nullable=False),
    Column("reorder_quantity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)
c = stock.c
Changes = Callable[[Any, Row], dict[str, Any]]
_CHANGES: list[tuple[type[Any], Changes]] = [
    (
        StockReceivedEvent,
        lambda e, r: {"on_hand": r["on_hand"] + e.quantity, "received": r["received"] + e.quantity},
    ),
    (
        StockRestockedEvent,
        lambda e, r: {
            "on_hand": r["on_hand"] + e.quantity,
            "restocked": r["restocked"] + e.quantity,
        },
    ),
    (StockWrittenOffEvent, lambda e, r: {"written_off": r["written_off"] + e.quantity}),
    (StockReservedEvent, lambda e, r: {"reserved": r["reserved"] + e.quantity}),
    (StockReleasedEvent, lambda e, r: {"reserved": r["reserved"] - e.quantity}),
    (
        StockCommittedEvent,
        lambda e, r: {
            "on_hand": r["on_hand"] - e.quantity,
            "reserved": r["reserved"] - e.quantity,
            "committed": r["committed"] + e.quantity,
        },
    ),
    (
        StockThresholdsSetEvent,
        lambda e, r: {"reorder_point": e.reorder_point, "reorder_quantity": e.reorder_quantity},
    ),
    (StockDeactivatedEvent, lambda e, r: {"active": False}),
]


class StockReadModel(KeyedRowsModel):
    name: ClassVar[str] = "inventory.stock.v2"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = stock
    per_aggregate: ClassVar[bool] = True  # a row per stock item, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = events_of(StockItem)  # each moves version

    def key_of(self, domain_event: Any) -> str | None:
        known = isinstance(domain_event, StockItemEvent)
        return str(domain_event.originator_id) if known else None

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        version = domain_event.originator_version
        if isinstance(domain_event, StockCreatedEvent):
            return None if row is not None else _created(domain_event, key, version)
        if row is None or row["version"] != version - 1:
            return None  # applied already (or its item never created)
        for kind, changes in _CHANGES:
            if isinstance(domain_event, kind):
                row.update(changes(domain_event, row))
                break
        # Every event moves the version on, even one that changes no level (a reorder).
        row["version"] = version
        return row


def _created(e: Any, key: str, version: int) -> dict[str, Any]:
    return {
        "stock_id": key,
        "sku": e.sku,
        "on_hand": 0,
        "reserved": 0,
        "committed": 0,
        "received": 0,
        "restocked": 0,
        "written_off": 0,
        "reorder_point": e.reorder_point,
        "reorder_quantity": e.reorder_quantity,
        "active": True,
        "version": version,
    }


def list_stock(
    conn: Connection, *, page: int, size: int, low_only: bool
) -> tuple[list[StockLevels], int]:
    """One page of stock levels by sku, and how many there are in all."""
    conditions: list[ColumnElement[bool]] = []
    if low_only:
        conditions.append(c.on_hand - c.reserved < c.reorder_point)
    total = conn.execute(select(func.count()).select_from(stock).where(*conditions)).scalar()
    query = select(stock).where(*conditions).order_by(c.sku).limit(size).offset((page - 1) * size)
    levels = [
        StockLevels(
            sku=row.sku,
            on_hand=row.on_hand,
            reserved=row.reserved,
            available=row.on_hand - row.reserved,
            committed=row.committed,
            received=row.received,
            restocked=row.restocked,
            written_off=row.written_off,
            reorder_point=row.reorder_point,
            reorder_quantity=row.reorder_quantity,
            active=row.active,
        )
        for row in conn.execute(query)
    ]
    return levels, int(total or 0)
