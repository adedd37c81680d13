"""The products read model's batch path gives the same rows as one event at a time."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderflow_catalog.domain import Product, ProductDetails
from orderflow_catalog.projections import ProductsReadModel, products
from orderflow_events import Money
from orderflow_runtime.projections import Projections, ReadModel, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from sqlalchemy import Connection, create_engine, select


class OneByOne(ReadModel):
    """The same projection without its batch path or its event filter."""

    name = "catalog.products"
    metadata = ProductsReadModel.metadata

    def project(self, domain_event: Any, conn: Connection) -> None:
        ProductsReadModel().project(domain_event, conn)


def rows(projections: Projections) -> list[tuple[Any, ...]]:
    with projections.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(products).order_by(products.c.sku))]


def test_batches_equal_one_event_at_a_time(tmp_path: Path) -> None:
    chance = random.Random(7)
    settings = ServiceSettings(service_name="catalog", data_dir=tmp_path)
    app = EventStoreApplication(settings)
    skus = [f"SKU-{n}" for n in range(40)]
    catalog: dict[str, Product] = {}
    for _ in range(600):  # listings, edits, reprices and delistings, interleaved
        sku = chance.choice(skus)
        product = catalog.get(sku)
        if product is None:
            details = ProductDetails(name=sku, category="c", weight_grams=100)
            product = catalog[sku] = Product.new(sku, details, Money.of(Decimal(1), "EUR"), None)
        elif not product.active:
            continue
        elif chance.random() < 0.4:
            product.change_price(Money.of(Decimal(chance.randint(1, 99)), "EUR"))
        elif chance.random() < 0.9:
            name = f"{sku} {chance.randint(1, 9)}"
            product.update(ProductDetails(name=name, category="c", weight_grams=100))
        else:
            product.delist()
        app.save(product)

    batched = Projections(app, [ProductsReadModel()], read_model_engine(settings), batch_size=37)
    reference_engine = create_engine(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    reference = Projections(app, [OneByOne()], reference_engine, batch_size=1)
    assert batched.catch_up() == reference.catch_up() == app.max_notification_id()
    assert rows(batched) == rows(reference)
    assert len(rows(batched)) == len(catalog)

    # applying a batch twice (a rebuild racing a catch-up) changes nothing
    with batched.engine.begin() as conn:
        every = [
            app.mapper.to_domain_event(n)
            for n in app.process_recorder.select_notifications(1, 10_000)
        ]
        ProductsReadModel().project_batch(every, conn)
    assert rows(batched) == rows(reference)
