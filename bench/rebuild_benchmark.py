"""Read-model rebuild rate: `orderflow rebuild` over service stores of ~200,000 events.

Two stores, each filled through the service's own aggregates and application, on SQLite
and on PostgreSQL:

- `catalog` (the worst case: the read model needs every event): N/4 products, each
  listed, repriced, edited and repriced again;
- `payment` (the usual case: the read model needs a few kinds of event): N/4 orders'
  payments, each opened, priced, authorised and captured; the payments index needs
  only the openings, and the chassis reads no other event.

The rebuild runs exactly as `orderflow rebuild` runs it (`store_tools.rebuild_in_place`:
the chassis' `Projections.rebuild` in batches of 5,000 events, in one worker process per
core when the read models are per aggregate (the catalog's are; the payments index, with
its running number, is not), the garbage collector tuned as in a service process).
Prints events/s (stored events / wall seconds) and the CPU seconds of this process and
its workers; `--baseline` also times the one-event-at-a-time path (no filter, no batch
SQL, one process: how the chassis projected at first) and checks both give the same rows.

    .venv/bin/python bench/rebuild_benchmark.py [--events 200000] [--backends sqlite,postgres]
        [--stores catalog,payment] [--baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderflow_catalog.domain import Product, ProductDetails
from orderflow_catalog.main import build as build_catalog
from orderflow_catalog.settings import CatalogSettings
from orderflow_cli.store_tools import rebuild_in_place
from orderflow_devinfra import Infrastructure
from orderflow_events import Money
from orderflow_payment.domain import Card, Payment
from orderflow_payment.main import build as build_payment
from orderflow_payment.settings import PaymentSettings
from orderflow_runtime.projections import Projections, ReadModel
from orderflow_runtime.service import ServiceSpec, tune_garbage_collector
from pydantic import SecretStr
from sqlalchemy import Connection, select

SAVE_BATCH = 500


def fill_payment(spec: ServiceSpec, events: int) -> float:
    """Store `events` events (4 per order's payment); returns seconds."""
    started = time.perf_counter()
    card = Card("tok_approve", "visa", "4242")
    batch: list[Payment] = []
    for _ in range(events // 4):
        payment = Payment(uuid.uuid4())
        payment.record_prices(
            currency="EUR",
            unit_prices={"MUG-1": Decimal("12.00")},
            quantities={"MUG-1": 2},
            subtotal=Decimal("24.00"),
            shipping_fee=Decimal("4.90"),
            tax=Decimal("4.56"),
        )
        payment.authorize(
            amount=Decimal("33.46"), currency="EUR", card=card, auth_code="SBX1", attempts=1
        )
        payment.capture(shipment_id=uuid.uuid4(), reference="CAP1")
        batch.append(payment)
        if len(batch) == SAVE_BATCH:
            spec.app.save(*batch)
            batch = []
    if batch:
        spec.app.save(*batch)
    return time.perf_counter() - started


def fill_catalog(spec: ServiceSpec, events: int) -> float:
    """Store `events` events (4 per product) through the application; returns seconds."""
    started = time.perf_counter()
    batch: list[Product] = []
    for number in range(events // 4):
        details = ProductDetails(
            name=f"Product {number}",
            category=("apparel", "shoes", "books")[number % 3],
            weight_grams=200 + number % 800,
            description=f"A fine product number {number}",
            attributes={"size": "M", "colour": "blue"},
            image_urls=[f"https://img.example.com/{number}.jpg"],
        )
        product = Product.new(f"SKU-{number:07d}", details, Money.of(Decimal("9.90"), "EUR"), 5)
        product.change_price(Money.of(Decimal("10.90"), "EUR"))
        product.update(ProductDetails(**{**details.__dict__, "name": f"Product {number} (new)"}))
        product.change_price(Money.of(Decimal("11.90"), "EUR"))
        batch.append(product)
        if len(batch) == SAVE_BATCH:
            spec.app.save(*batch)
            batch = []
    if batch:
        spec.app.save(*batch)
    return time.perf_counter() - started


class OneAtATime(ReadModel):
    """The reference path: the same read model, one event at a time, no topic filter."""

    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self.name = f"{model.name}.reference"  # type: ignore[misc]
        self.metadata = model.metadata  # type: ignore[misc]

    def project(self, domain_event: Any, conn: Connection) -> None:
        self.model.project(domain_event, conn)


def rows(projections: Projections) -> list[tuple[Any, ...]]:
    table = projections.models[0].metadata.sorted_tables[0]
    with projections.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]


def run(
    store: str, backend: str, events: int, url: str | None, tmp: Path, baseline: bool
) -> dict[str, Any]:
    common: dict[str, Any] = {
        "data_dir": tmp / f"{store}-{backend}",
        "database_url": SecretStr(url) if url else None,
        "aggregate_cache_size": 0,
        "http_port": 0,
    }
    if store == "catalog":
        spec = build_catalog(CatalogSettings(**common))
        stored_s = fill_catalog(spec, events)
    else:
        spec = build_payment(PaymentSettings(**common))
        stored_s = fill_payment(spec, events)
    assert spec.projections is not None
    report = rebuild_in_place(spec.projections)
    result: dict[str, Any] = {
        "store": store,
        "backend": backend,
        "events": report["events"],
        "projected": report["projected"],
        "store_seconds": round(stored_s, 1),
        "rebuild_seconds": report["seconds"],
        "rebuild_cpu_seconds": report["cpu_seconds"],
        "events_per_s": report["events_per_s"],
        "rows": report["rows"],
    }
    if baseline:
        model = spec.projections.models[0]
        reference = Projections(spec.app, [OneAtATime(model)], spec.projections.engine)
        fast_rows = rows(spec.projections)
        started = time.perf_counter()
        reference.rebuild()
        seconds = time.perf_counter() - started
        result["one_at_a_time_events_per_s"] = round(report["events"] / seconds)
        result["same_rows_as_one_at_a_time"] = fast_rows == rows(reference)
    spec.projections.engine.dispose()
    spec.app.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--stores", default="catalog,payment")
    parser.add_argument("--baseline", action="store_true", help="also time one event at a time")
    args = parser.parse_args()
    backends, stores = args.backends.split(","), args.stores.split(",")
    tune_garbage_collector()
    results = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        infra = stack.enter_context(Infrastructure(kafka=False)) if "postgres" in backends else None
        for store in stores:
            for backend in backends:
                url = None
                if backend == "postgres":
                    assert infra is not None
                    url = infra.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
                result = run(store, backend, args.events, url, Path(tmp), args.baseline)
                results.append(result)
                print(json.dumps(result), flush=True)
    print()
    print(
        f"{'store':<8} {'backend':<9} {'events':>9} {'projected':>9} {'seconds':>8} "
        f"{'cpu s':>6} {'events/s':>9} {'1-by-1/s':>9}"
    )
    for r in results:
        print(
            f"{r['store']:<8} {r['backend']:<9} {r['events']:>9,} {r['projected']:>9,} "
            f"{r['rebuild_seconds']:>8.2f} {r['rebuild_cpu_seconds']:>6.2f} "
            f"{r['events_per_s']:>9,} {r.get('one_at_a_time_events_per_s', 0):>9,}"
        )


if __name__ == "__main__":
    main()
