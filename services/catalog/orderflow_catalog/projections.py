"""The `catalog_products` read model: listing, category filter and text search.

Each row remembers the version of the last event applied to it, and an update
applies only to an older row: applying an event twice (a rebuild racing a
catch-up, two processes on one database) changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from orderflow_events import Money
from orderflow_runtime.keyed_rows import KeyedRowsModel
from orderflow_runtime.keyed_rows import Row as Record
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


class ProductsReadModel(KeyedRowsModel):
    name: ClassVar[str] = "catalog.products"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = products
    per_aggregate: ClassVar[bool] = True  # a row per product, from its own events
    event_types: ClassVar[tuple[type, ...] | None] = (
        ProductListedEvent,
        ProductUpdatedEvent,
        PriceChangedEvent,
        ProductDelistedEvent,
    )

    def key_of(self, domain_event: Any) -> str | None:
        return str(domain_event.sku) if type(domain_event) in (self.event_types or ()) else None

    def apply(self, key: str, row: Record | None, domain_event: Any) -> Record | None:
        if isinstance(domain_event, ProductListedEvent):
            return None if row is not None else {"sku": key, **_listed(domain_event)}
        version = domain_event.originator_version
        values = _changes(domain_event)
        if values is None or row is None or row["version"] >= version:
            return None  # applied before (or a product never listed)
        row.update(values, updated_at=domain_event.timestamp, version=version)
        return row


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
