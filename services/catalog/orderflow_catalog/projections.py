"""The `catalog_products` read model: listing, category filter and text search.

Each row remembers the version of the last event applied to it, and an update
applies only to an older row: applying an event twice (a rebuild racing a
catch-up, two processes on one database) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from orderflow_events import Money
from orderflow_runtime.bulk import insert_rows
from orderflow_runtime.projections import ReadModel
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    case,
    func,
    select,
)

from orderflow_catalog.domain import (
    PriceChangedEvent,
    ProductDelistedEvent,
    ProductListedEvent,
    ProductUpdatedEvent,
)

metadata = MetaData()
products = Table(
    "catalog_products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(100), nullable=False, index=True),
    Column("attributes", JSON, nullable=False),
    Column("image_urls", JSON, nullable=False),
    # Text, not a float or a driver-specific decimal: the amount stays exact everywhere.
    Column("price_amount", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("weight_grams", Integer, nullable=False),
    Column("active", Boolean, nullable=False, index=True),
    Column("listed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    description: str
    category: str
    attributes: dict[str, str]
    image_urls: list[str]
    price: Money
    weight_grams: int
    active: bool


_COLUMNS = [c.name for c in products.columns if c.name != "sku"]
_update_row = (
    products.update()
    .where(products.c.sku == bindparam("b_sku"))
    .where(products.c.version < bindparam("b_version"))
    .values({name: bindparam(f"v_{name}") for name in _COLUMNS})
)
_IN_CHUNK = 500  # skus per `IN (...)`: well under every backend's parameter limit


class ProductsReadModel(ReadModel):
    name: ClassVar[str] = "catalog.products"
    metadata: ClassVar[MetaData] = metadata
    per_aggregate: ClassVar[bool] = True  # a row per product, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = (
        ProductListedEvent,
        ProductUpdatedEvent,
        PriceChangedEvent,
        ProductDelistedEvent,
    )

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        """Same as `project` per event, with one read and two statements per batch:
        the batch's rows are loaded, changed in memory in event order, written back."""
        skus = list(dict.fromkeys(e.sku for e in domain_events))
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(skus), _IN_CHUNK):
            chunk = skus[start : start + _IN_CHUNK]
            query = select(products).where(products.c.sku.in_(chunk))
            rows.update((r.sku, dict(r._mapping)) for r in conn.execute(query))
        existing = set(rows)
        changed: dict[str, None] = {}
        for domain_event in domain_events:
            sku, version = domain_event.sku, domain_event.originator_version
            row = rows.get(sku)
            if isinstance(domain_event, ProductListedEvent):
                if row is None:
                    rows[sku] = {"sku": sku, **_listed(domain_event)}
                    changed[sku] = None
                continue
            values = _changes(domain_event)
            if values is None or row is None or row["version"] >= version:
                continue
            row.update(values, updated_at=domain_event.timestamp, version=version)
            changed[sku] = None
        inserts = [rows[sku] for sku in changed if sku not in existing]
        updates = [
            {"b_sku": sku, "b_version": rows[sku]["version"], **_without_sku(rows[sku])}
            for sku in changed
            if sku in existing
        ]
        if inserts:
            insert_rows(conn, products, inserts)
        if updates:
            conn.execute(_update_row, updates)

    def project(self, domain_event: Any, conn: Connection) -> None:
        version = domain_event.originator_version
        if isinstance(domain_event, ProductListedEvent):
            exists = select(products.c.sku).where(products.c.sku == domain_event.sku)
            if conn.execute(exists).first():
                return  # applied before
            conn.execute(products.insert().values(sku=domain_event.sku, **_listed(domain_event)))
            return
        values = _changes(domain_event)
        if values is None:
            return
        conn.execute(
            products.update()
            .where(products.c.sku == domain_event.sku)
            .where(products.c.version < version)
            .values(**values, updated_at=domain_event.timestamp, version=version)
        )


def _listed(domain_event: Any) -> dict[str, Any]:
    return {
        **_details(domain_event),
        "price_amount": format(domain_event.price_amount, "f"),
        "currency": domain_event.currency,
        "active": True,
        "listed_at": domain_event.timestamp,
        "updated_at": domain_event.timestamp,
        "version": domain_event.originator_version,
    }


def _changes(domain_event: Any) -> dict[str, Any] | None:
    """The columns a change event sets (None: not a change this model follows)."""
    if isinstance(domain_event, ProductUpdatedEvent):
        return _details(domain_event)
    if isinstance(domain_event, PriceChangedEvent):
        return {"price_amount": format(domain_event.price_amount, "f")}
    if isinstance(domain_event, ProductDelistedEvent):
        return {"active": False}
    return None


def _without_sku(row: dict[str, Any]) -> dict[str, Any]:
    return {f"v_{name}": row[name] for name in _COLUMNS}


def _details(domain_event: Any) -> dict[str, Any]:
    return {
        "name": domain_event.name,
        "description": domain_event.description,
        "category": domain_event.category,
        "attributes": domain_event.attributes,
        "image_urls": domain_event.image_urls,
        "weight_grams": domain_event.weight_grams,
    }


def _row(row: Row[Any]) -> ProductRow:
    return ProductRow(
        sku=row.sku,
        name=row.name,
        description=row.description,
        category=row.category,
        attributes=dict(row.attributes),
        image_urls=list(row.image_urls),
        price=Money(amount=Decimal(row.price_amount), currency=row.currency),
        weight_grams=row.weight_grams,
        active=row.active,
    )


def find_product(conn: Connection, sku: str) -> ProductRow | None:
    """One product, listed or delisted."""
    row = conn.execute(select(products).where(products.c.sku == sku)).first()
    return None if row is None else _row(row)


def search_products(
    conn: Connection, *, category: str | None, text: str | None, page: int, size: int
) -> tuple[list[ProductRow], int]:
    """Active products, one page of them, and how many match in all.

    `text` matches name or description, case-insensitively, as a plain substring
    (`%` and `_` match themselves). Name matches come first, then by lower-cased
    name and sku: the same order on SQLite and PostgreSQL, whatever the collation.
    """
    conditions: list[ColumnElement[bool]] = [products.c.active.is_(True)]
    if category is not None:
        conditions.append(products.c.category == category)
    order: list[Any] = []
    if text:
        pattern = "%" + _escape_like(text) + "%"
        in_name = products.c.name.ilike(pattern, escape="\\")
        conditions.append(in_name | products.c.description.ilike(pattern, escape="\\"))
        order.append(case((in_name, 0), else_=1))
    total = conn.execute(select(func.count()).select_from(products).where(*conditions)).scalar()
    query = (
        select(products)
        .where(*conditions)
        .order_by(*order, func.lower(products.c.name), products.c.sku)
        .limit(size)
        .offset((page - 1) * size)
    )
    return [_row(row) for row in conn.execute(query)], int(total or 0)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
