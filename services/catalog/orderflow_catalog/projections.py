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


class ProductsReadModel(ReadModel):
    name: ClassVar[str] = "catalog.products"
    metadata: ClassVar[MetaData] = metadata

    def project(self, domain_event: Any, conn: Connection) -> None:
        version = domain_event.originator_version
        if isinstance(domain_event, ProductListedEvent):
            exists = select(products.c.sku).where(products.c.sku == domain_event.sku)
            if conn.execute(exists).first():
                return  # applied before
            conn.execute(
                products.insert().values(
                    sku=domain_event.sku,
                    **_details(domain_event),
                    price_amount=format(domain_event.price_amount, "f"),
                    currency=domain_event.currency,
                    active=True,
                    listed_at=domain_event.timestamp,
                    updated_at=domain_event.timestamp,
                    version=version,
                )
            )
            return
        if isinstance(domain_event, ProductUpdatedEvent):
            values = _details(domain_event)
        elif isinstance(domain_event, PriceChangedEvent):
            values = {"price_amount": format(domain_event.price_amount, "f")}
        elif isinstance(domain_event, ProductDelistedEvent):
            values = {"active": False}
        else:
            return
        conn.execute(
            products.update()
            .where(products.c.sku == domain_event.sku)
            .where(products.c.version < version)
            .values(**values, updated_at=domain_event.timestamp, version=version)
        )


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
