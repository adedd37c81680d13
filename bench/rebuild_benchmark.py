"""Read-model rebuild rate: `orderflow rebuild` over service stores of ~100,000 events.

Six stores, each filled through the service's own aggregates and application (built as
the service builds itself, side effects off), on SQLite and on PostgreSQL:

- `catalog` (the read model needs every event; the store `make bench` rebuilds): N/4
  products, each listed, repriced, edited and repriced again;
- `payment` (the usual case: the read model needs a few kinds of event): N/4 orders'
  payments, each opened, priced, authorised and captured; the payments index needs
  only the openings, and the chassis reads no other event;
- `notification`: N/3 notices, each requested, claimed and sent (every event needed, and
  the slowest store to rebuild);
- `cart`: orders as the saga drives them (placed, each fact the other services report
  and the status changes it makes, up to delivered; 1 in 20 declined, 1 in 10 cancelled
  on the customer's request, 1 in 50 with a parcel no carrier takes; 1 in 10 delivered
  returned and refunded), with the carts they came from, abandoned carts and the cart's
  view of ~300 products: the orders read model reads only the orders' events;
- `inventory`: ~300 stock items (created, goods received, then reserved, committed,
  released, restocked... by every order, reordered when low) and one stock record per
  order (opened, lines and payment recorded, reserved and committed; some cancelled,
  failed for want of stock, released, returned), as the inventory's handlers make them;
- `fulfillment`: a shipment per order (opened, order and reservation recorded,
  dispatched through the sandbox carriers, delivery confirmed; some cancelled, stopped,
  stuck; 1 in 10 delivered returned: authorised and received) and ~300 product weights.

Each store holds about N events (`--events`). The rebuild runs exactly as `orderflow
rebuild` runs it (`store_tools.rebuild_in_place`: the chassis' `Projections.rebuild` in
batches of 5,000 events, in one worker process per core when every read model is per
aggregate (all but the payments index, with its running number), the garbage collector
tuned as in a service process).
Prints events/s (stored events / wall seconds) and the CPU seconds of this process and
its workers, of the median of `--runs` rebuilds of each store (default 3); `--baseline`
also times the one-event-at-a-time path (no filter, no batch SQL, one process: how the
chassis projected at first) and checks both give the same rows in every table of every
read model.

    .venv/bin/python bench/rebuild_benchmark.py [--events 100000] [--backends sqlite,postgres]
        [--stores catalog,payment,notification,cart,inventory,fulfillment] [--baseline] [--runs 3]

With `REBUILD_BENCH_DATABASE_URL` set (an empty PostgreSQL database), the one store asked
for is filled and rebuilt there instead of on a server of its own: `make bench` measures
the rebuild that way, in a process of its own as `orderflow rebuild` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderflow_cart.application import CartApplication, line_record
from orderflow_cart.domain import Cart
from orderflow_cart.main import build as build_cart
from orderflow_cart.order import Fact, Order
from orderflow_cart.pricing import PricedLine
from orderflow_cart.product import Product as CartProduct
from orderflow_cart.settings import CartSettings
from orderflow_catalog.domain import Product, ProductDetails
from orderflow_catalog.main import build as build_catalog
from orderflow_catalog.settings import CatalogSettings
from orderflow_cli.store_tools import rebuild_in_place
from orderflow_devinfra import Infrastructure
from orderflow_events import (
    Address,
    CancelReason,
    Delivered,
    Money,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentMethod,
    PaymentVoided,
    ShipmentStopped,
    Shipped,
    ShippingMethod,
    StockReleased,
    StockReserved,
)
from orderflow_fulfillment.dispatch import Dispatcher
from orderflow_fulfillment.domain import Product as FulfillmentProduct
from orderflow_fulfillment.domain import Shipment, ShipmentStatus
from orderflow_fulfillment.main import build as build_fulfillment
from orderflow_fulfillment.settings import FulfillmentSettings
from orderflow_inventory.domain import StockItem, Thresholds, merge_lines, reorder_id
from orderflow_inventory.main import build as build_inventory
from orderflow_inventory.reservations import (
    OrderStock,
    commit_order,
    release_order,
    reserve_order,
)
from orderflow_inventory.returns import ReturnedLine, receive_return
from orderflow_inventory.settings import InventorySettings
from orderflow_notification.domain import Notice
from orderflow_notification.main import build as build_notification
from orderflow_notification.settings import NotificationSettings
from orderflow_payment.domain import Card, Payment
from orderflow_payment.main import build as build_payment
from orderflow_payment.settings import PaymentSettings
from orderflow_runtime.logs import configure_logging
from orderflow_runtime.projections import Projections, ReadModel
from orderflow_runtime.service import ServiceSpec, tune_garbage_collector
from pydantic import SecretStr
from sqlalchemy import Connection, select

DATABASE_URL_ENV = "REBUILD_BENCH_DATABASE_URL"
"""An empty PostgreSQL database to use instead of a server of our own (one store)."""
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


def fill_notification(spec: ServiceSpec, events: int) -> float:
    """Store `events` events (3 per notice: requested, claimed, sent); returns seconds."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    batch: list[Notice] = []
    for _ in range(events // 3):
        order_id = uuid.uuid4()
        notice = Notice(
            order_id=order_id,
            template="order_confirmation",
            channel="email",
            key=None,
            recipient="ada@example.com",
            context={"order_id": str(order_id), "total": "33.46", "currency": "EUR"},
            cause_id=uuid.uuid4(),
            traceparent=None,
        )
        notice.claim(now)
        notice.mark_sent(1, now)
        batch.append(notice)
        if len(batch) == SAVE_BATCH:
            spec.app.save(*batch)
            batch = []
    if batch:
        spec.app.save(*batch)
    return time.perf_counter() - started


# -- the saga stores (cart, inventory, fulfillment): one shop's orders, as each service sees them

STORES = ("catalog", "payment", "notification", "cart", "inventory", "fulfillment")
SEED = 20_240_601
SKUS = 300
HEAVY_SKU = "SKU-PALLET"
"""35 kg: no carrier service takes a parcel with it (the shipment gets stuck)."""
OPENING_STOCK = 120
"""Units of each sku received before the first order; reorders bring the rest."""
LEAD_TIME = (20, 300)
"""A reorder's goods arrive this many orders later (a late one: a popular sku runs out)."""
ADDRESSES = [
    Address(
        name="Ada Lovelace",
        line1="Unter den Linden 1",
        city="Berlin",
        postal_code="10117",
        country="DE",
    ),
    Address(
        name="Emmy Noether",
        line1="Bunsenstr. 3",
        city="Göttingen",
        postal_code="37073",
        country="DE",
    ),
    Address(
        name="Marie Curie",
        line1="11 rue Pierre et Marie Curie",
        city="Paris",
        postal_code="75005",
        country="FR",
    ),
    Address(
        name="Lise Meitner",
        line1="Kaiser-Wilhelm-Str. 7",
        city="München",
        postal_code="80331",
        country="DE",
    ),
    Address(
        name="Grace Hopper",
        line1="1 Navy Way",
        city="Arlington",
        region="CA",
        postal_code="94016",
        country="US",
    ),
]
CARD = PaymentMethod(token="tok_approve", brand="visa", last4="4242")


def catalog() -> list[tuple[str, int]]:
    """The shop's skus and the weight of a unit, in grams."""
    return [(f"SKU-{i:05d}", 200 + i * 97 % 1800) for i in range(SKUS)] + [(HEAVY_SKU, 35_000)]


def order_lines(rng: random.Random, number: int) -> list[tuple[str, int]]:
    """1 to 3 lines, popular skus far more often (a few hundred sell most); every 50th
    order has a pallet in it."""
    count = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
    skus = dict.fromkeys(f"SKU-{int(SKUS * rng.random() ** 2):05d}" for _ in range(count))
    lines = [(sku, 1 if rng.random() < 0.8 else 2) for sku in skus]
    if number % 50 == 11:
        lines.append((HEAVY_SKU, 1))
    return lines


def kind_of(number: int) -> str:
    """How the saga of order `number` ends, the same in every store: 1 in 20 declined,
    1 in 10 cancelled by the customer (fulfillment stops it: the request beat the
    reservation there), 1 in 50 stuck (a pallet no carrier takes: half of them expired,
    cancelled by the cart's deadline), the others shipped and delivered."""
    if number % 20 == 7:
        return "declined"
    if number % 10 == 3:
        return "cancelled"
    if number % 100 == 11:
        return "expired"
    if number % 100 == 61:
        return "stuck"
    return "delivered"


def _save(spec: ServiceSpec, aggregates: Iterable[Any]) -> None:
    batch = list(aggregates)
    if batch:
        spec.app.save(*batch)


def fill_cart(spec: ServiceSpec, events: int) -> float:
    """Store about `events` events: the cart's view of the products, then per order its
    cart (created, items added, checked out; an abandoned cart per 4 orders) and the
    order as the cart's handlers drive it; returns seconds."""
    started = time.perf_counter()
    app = spec.app
    assert isinstance(app, CartApplication)
    rng = random.Random(SEED)
    products = {
        sku: CartProduct(
            sku=sku,
            name=f"Product {sku}",
            price=Decimal(9 + i % 40) + Decimal("0.90"),
            currency=app.rules.currency,
            weight_grams=grams,
            attributes={"colour": ("blue", "red", "black")[i % 3]},
        )
        for i, (sku, grams) in enumerate(catalog())
    }
    _save(spec, products.values())
    stored, number, delivered = len(products), 0, 0
    batch: list[Any] = []
    start = datetime.now(UTC) - timedelta(days=30)
    while stored < events:
        lines = order_lines(rng, number)
        if number % 4 == 1:  # browsed, never checked out
            abandoned = Cart()
            sku, quantity = order_lines(rng, number)[0]
            abandoned.add(sku, quantity, {}, product=products[sku], currency=app.rules.currency)
            batch.append(abandoned)
            stored += abandoned.version
        placed_at = start + timedelta(seconds=10 * number)
        cart, order = _checkout(app, products, lines, number, placed_at)
        if _cart_saga(app, order, kind_of(number)):
            delivered += 1
            if delivered % 10 == 0:
                _cart_return(order)
        batch += [cart, order]
        stored += cart.version + order.version
        if len(batch) >= SAVE_BATCH:
            _save(spec, batch)
            batch = []
        number += 1
    _save(spec, batch)
    return time.perf_counter() - started


def _checkout(
    app: CartApplication,
    products: dict[str, CartProduct],
    lines: list[tuple[str, int]],
    number: int,
    placed_at: datetime,
) -> tuple[Cart, Order]:
    """As `CartApplication.checkout`: the cart filled, closed, and the order it makes."""
    currency = app.rules.currency
    cart = Cart()
    for sku, quantity in lines:
        cart.add(sku, quantity, {}, product=products[sku], currency=currency)
    if number % 5 == 0:  # second thoughts: one more unit, then back to what it was
        sku, quantity = lines[0]
        cart.set_quantity(sku, quantity + 1)
        cart.set_quantity(sku, quantity)
    order_id = uuid.uuid4()
    cart.check_out(order_id)
    priced = []
    for sku, line in cart.lines.items():
        product = products[sku]
        priced.append(
            PricedLine(
                sku=sku,
                name=product.name,
                quantity=line.quantity,
                unit_price=product.unit_price,
                weight_grams=product.weight_grams,
                attributes={**line.attributes, **product.attributes},
            )
        )
    address = ADDRESSES[number % len(ADDRESSES)]
    method = ShippingMethod.EXPRESS if number % 4 == 0 else ShippingMethod.STANDARD
    quote = app.rules.quote(priced, method, address.country, address.region)
    order = Order(
        order_id=order_id,
        cart_id=cart.id,
        customer_email=f"customer{number % 5000}@example.com",
        lines=[line_record(line) for line in quote.lines],
        currency=currency,
        subtotal=quote.subtotal.amount,
        shipping_fee=quote.shipping_fee.amount,
        tax=quote.tax.amount,
        total=quote.total.amount,
        shipping_address=address.model_dump(mode="python"),
        shipping_method=method.value,
        payment=CARD.model_dump(mode="python"),
        placed_at=placed_at,
    )
    return cart, order


def _cart_saga(app: CartApplication, order: Order, kind: str) -> bool:
    """The facts the other services report, as the cart's handlers record them (each
    status change records StatusChanged); True when the order was delivered."""
    minutes = 0

    def record(fact: Fact, ce_type: str, **details: Any) -> datetime:
        nonlocal minutes
        minutes += 5
        at = order.placed_at + timedelta(minutes=minutes)
        order.record(fact, at=at, ce_type=ce_type, details=details)
        return at

    stock = [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in order.lines]
    payment_id, reservation_id, shipment_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    if kind == "declined":
        at = record(
            Fact.PAYMENT_DECLINED,
            PaymentDeclined.ce_type,
            reason="card_declined",
            detail="insufficient funds",
            attempts=1,
        )
        order.cancel(CancelReason.PAYMENT_DECLINED, "card_declined", at=at)
        return False
    record(
        Fact.PAYMENT_AUTHORIZED,
        PaymentAuthorized.ce_type,
        payment_id=payment_id,
        amount=order.total,
        auth_code="SBX1",
    )
    record(Fact.STOCK_RESERVED, StockReserved.ce_type, reservation_id=reservation_id)
    if kind == "stuck":
        return False  # waits for its shipment; the deadline has not passed yet
    if kind in ("cancelled", "expired"):
        reason = CancelReason.CUSTOMER if kind == "cancelled" else CancelReason.EXPIRED
        if reason is CancelReason.CUSTOMER:
            at = order.placed_at + timedelta(minutes=minutes + 1)
            order.request_cancellation(reason, "changed my mind", at=at)
        else:  # the deadline watcher, past the stock_reserved deadline
            order.enforce_deadline(datetime.now(UTC) + timedelta(hours=2), app.deadlines)
        at = record(
            Fact.SHIPMENT_STOPPED,
            ShipmentStopped.ce_type,
            shipment_id=shipment_id,
            reason=reason.value,
        )
        order.cancel_as_requested(at=at)
        record(
            Fact.STOCK_RELEASED, StockReleased.ce_type, reservation_id=reservation_id, lines=stock
        )
        record(
            Fact.PAYMENT_VOIDED, PaymentVoided.ce_type, payment_id=payment_id, amount=order.total
        )
        return False
    shipped_at = order.placed_at + timedelta(minutes=minutes + 5)
    record(
        Fact.SHIPPED,
        Shipped.ce_type,
        shipment_id=shipment_id,
        carrier="parcelco",
        service_level=order.shipping_method,
        tracking_number=f"PC{shipment_id.int % 10**12:012d}",
        shipped_at=shipped_at,
        lines=stock,
    )
    record(
        Fact.PAYMENT_CAPTURED, PaymentCaptured.ce_type, payment_id=payment_id, amount=order.total
    )
    record(Fact.DELIVERED, Delivered.ce_type, shipment_id=shipment_id)
    return True


def _cart_return(order: Order) -> None:
    """The customer sends the first line back: requested, authorised, received, refunded."""
    line = order.lines[0]
    sku, quantity = line["sku"], int(line["quantity"])
    return_id, at = uuid.uuid4(), order.placed_at + timedelta(days=5)
    order.request_return(return_id, {sku: quantity}, "does not fit", at=at)
    rma = f"RMA-{return_id.hex[:10].upper()}"
    label = {"carrier": "parcelco", "tracking_number": f"PC{return_id.int % 10**12:012d}"}
    units = [{"sku": sku, "quantity": quantity}]
    order.authorize_return(return_id, rma, label, units, at=at + timedelta(minutes=1))
    received = [{**units[0], "condition": "resellable"}]
    order.receive_return(return_id, rma, received, at=at + timedelta(days=3))
    refund = line["unit_price"] * quantity
    order.record_refund(uuid.uuid4(), refund, return_id, at=at + timedelta(days=3, minutes=5))


def fill_inventory(spec: ServiceSpec, events: int, thresholds: Thresholds) -> float:
    """Store about `events` events: the stock items (created, opening stock received),
    then per order its stock record and the stock items it changes, as the inventory's
    handlers change them; returns seconds."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    point, quantity = thresholds.reorder_point, thresholds.reorder_quantity
    items = {sku: StockItem(sku, point, quantity) for sku, _ in catalog()}
    for sku, item in items.items():
        item.receive(f"opening-{sku}", OPENING_STOCK)
    _save(spec, items.values())
    stored, number, delivered = sum(item.version for item in items.values()), 0, 0
    arrivals: dict[int, list[tuple[StockItem, str, int]]] = {}  # goods receipts by order
    batch: list[OrderStock] = []
    touched: dict[str, StockItem] = {}
    while stored < events:
        for item, receipt, units in arrivals.pop(number, []):
            item.receive(receipt, units)  # the goods of a reorder arrived
            touched[item.sku] = item
            stored += 1
        lines = order_lines(rng, number)
        involved = {sku: items[sku] for sku in merge_lines(lines)}
        versions = {sku: item.version for sku, item in involved.items()}
        reorders = {sku: item.reorders for sku, item in involved.items()}
        order = OrderStock(uuid.uuid4())
        if _inventory_saga(order, involved, lines, kind_of(number)):
            delivered += 1
            if delivered % 10 == 0:
                _inventory_return(order, involved, number)
        for sku, item in involved.items():
            stored += item.version - versions[sku]
            if item.reorders > reorders[sku]:
                due = number + rng.randint(*LEAD_TIME)
                receipt = str(reorder_id(sku, item.reorders))
                arrivals.setdefault(due, []).append((item, receipt, item.reorder_quantity))
        stored += order.version
        touched.update(involved)
        batch.append(order)
        if len(batch) >= SAVE_BATCH:
            _save(spec, [*batch, *touched.values()])
            batch, touched = [], {}
        number += 1
    _save(spec, [*batch, *touched.values()])
    return time.perf_counter() - started


def _inventory_saga(
    order: OrderStock, items: dict[str, StockItem], lines: list[tuple[str, int]], kind: str
) -> bool:
    """OrderPlaced, PaymentAuthorized, Shipped, OrderCancelled as the handlers take them;
    True when the order's units shipped."""
    order.record_lines(lines)  # OrderPlaced (opened it)
    if kind == "declined":
        order.cancel()  # OrderCancelled, never authorised: nothing was reserved
        return False
    order.record_payment(uuid.uuid4())  # PaymentAuthorized: ready, so it reserves
    if not reserve_order(order, items):
        order.cancel()  # the cart cancels for want of stock: OrderCancelled
        return False
    if kind in ("cancelled", "expired"):
        release_order(order, items)
        return False
    if kind == "stuck":
        return False  # still reserved: the parcel waits for a carrier
    commit_order(order, items, uuid.uuid4())  # Shipped
    return True


def _inventory_return(order: OrderStock, items: dict[str, StockItem], number: int) -> None:
    """ReturnReceived of the first line: resellable units back on hand, 1 in 3 damaged."""
    sku, quantity = next(iter((order.lines or {}).items()))
    condition = "damaged" if number % 3 == 0 else "resellable"
    receive_return(order, items, uuid.uuid4(), [ReturnedLine(sku, quantity, condition)])


def fill_fulfillment(spec: ServiceSpec, events: int, settings: FulfillmentSettings) -> float:
    """Store about `events` events: the products' weights, then a shipment per order,
    dispatched by the service's own dispatcher (sandbox carriers); returns seconds."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    dispatcher = Dispatcher.from_settings(settings)
    weights: dict[str, int | None] = dict(catalog())
    products = [FulfillmentProduct(sku, grams) for sku, grams in catalog()]
    _save(spec, products)
    stored, number, delivered = len(products), 0, 0
    batch: list[Shipment] = []
    start = datetime.now(UTC) - timedelta(days=30)
    while stored < events:
        lines = [{"sku": sku, "quantity": q} for sku, q in order_lines(rng, number)]
        shipment = Shipment(uuid.uuid4())
        address = ADDRESSES[number % len(ADDRESSES)]
        method = ShippingMethod.EXPRESS if number % 4 == 0 else ShippingMethod.STANDARD
        shipment.record_order(
            address=address.model_dump(mode="python"), method=method.value, lines=lines
        )
        if _fulfillment_saga(shipment, dispatcher, weights, lines, kind_of(number)):
            shipment.confirm_delivery(start + timedelta(seconds=10 * number, days=2))
            delivered += 1
            if delivered % 10 == 0:
                _fulfillment_return(shipment, dispatcher)
        stored += shipment.version
        batch.append(shipment)
        if len(batch) >= SAVE_BATCH:
            _save(spec, batch)
            batch = []
        number += 1
    _save(spec, batch)
    return time.perf_counter() - started


def _fulfillment_saga(
    shipment: Shipment,
    dispatcher: Dispatcher,
    weights: dict[str, int | None],
    lines: list[dict[str, Any]],
    kind: str,
) -> bool:
    """OrderCancelled, CancellationRequested, StockReserved as the handlers take them;
    True when the parcel left."""
    if kind == "declined":
        shipment.cancel(CancelReason.PAYMENT_DECLINED.value)
        return False
    if kind == "cancelled":  # the request came before the reservation: never ships
        shipment.stop(CancelReason.CUSTOMER.value)
        shipment.record_reservation(reservation_id=uuid.uuid4(), lines=lines)
        return False
    shipment.record_reservation(reservation_id=uuid.uuid4(), lines=lines)
    dispatcher.dispatch(shipment, weights)
    if shipment.status is ShipmentStatus.STUCK:
        if kind == "expired":  # the cart's deadline asked to cancel it
            shipment.stop(CancelReason.EXPIRED.value)
        return False
    return True


def _fulfillment_return(shipment: Shipment, dispatcher: Dispatcher) -> None:
    """ReturnRequested of the first line (the desk authorises it), then the parcel."""
    assert shipment.reserved is not None
    units = [dict(shipment.reserved[0])]
    return_id = uuid.uuid4()
    label = dispatcher.return_label(shipment.carrier, return_id)
    shipment.authorize_return(return_id=return_id, lines=units, label=label.as_dict())
    rma = shipment.returns[return_id].rma
    assert rma is not None
    received = [{**units[0], "condition": "resellable"}]
    shipment.receive_return(rma, received, datetime.now(UTC) + timedelta(days=3))


class OneAtATime(ReadModel):
    """The reference path: the same read model, one event at a time, no topic filter."""

    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self.name = f"{model.name}.reference"  # type: ignore[misc]
        self.metadata = model.metadata  # type: ignore[misc]

    def project(self, domain_event: Any, conn: Connection) -> None:
        self.model.project(domain_event, conn)


Rows = dict[str, list[tuple[Any, ...]]]


def rows(projections: Projections) -> Rows:
    """Every row of every table of every read model, by table name, in primary-key order
    (a table without a primary key: sorted by the rows' text)."""
    tables = {t.name: t for m in projections.models for t in m.metadata.sorted_tables}
    found: Rows = {}
    with projections.engine.connect() as conn:
        for name, table in sorted(tables.items()):
            if table.primary_key:
                query = select(table).order_by(*table.primary_key)
                found[name] = [tuple(r) for r in conn.execute(query)]
            else:
                found[name] = sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
    return found


def differences(fast: Rows, reference: Rows) -> dict[str, Any]:
    """Per table that differs: the row counts and the first differing row of each path."""
    found: dict[str, Any] = {}
    for name in sorted(fast.keys() | reference.keys()):
        mine, theirs = fast.get(name, []), reference.get(name, [])
        if mine == theirs:
            continue
        first = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        found[name] = {
            "rows": len(mine),
            "one_at_a_time_rows": len(theirs),
            "differing_rows": sum(a != b for a, b in zip(mine, theirs, strict=False)),
            "first": repr(mine[first]) if first < len(mine) else None,
            "one_at_a_time_first": repr(theirs[first]) if first < len(theirs) else None,
        }
    return found


def build_and_fill(store: str, events: int, common: dict[str, Any]) -> tuple[ServiceSpec, float]:
    """The service built as it builds itself (side effects off), its store filled."""
    if store == "catalog":
        spec = build_catalog(CatalogSettings(**common))
        return spec, fill_catalog(spec, events)
    if store == "notification":
        spec = build_notification(NotificationSettings(**common, side_effects=False))
        return spec, fill_notification(spec, events)
    if store == "payment":
        spec = build_payment(PaymentSettings(**common))
        return spec, fill_payment(spec, events)
    if store == "cart":
        spec = build_cart(CartSettings(**common))
        return spec, fill_cart(spec, events)
    if store == "inventory":
        inventory = InventorySettings(**common)
        spec = build_inventory(inventory)
        return spec, fill_inventory(spec, events, inventory.default_thresholds)
    if store == "fulfillment":
        fulfillment = FulfillmentSettings(**common, side_effects=False)
        spec = build_fulfillment(fulfillment)
        return spec, fill_fulfillment(spec, events, fulfillment)
    raise ValueError(f"unknown store {store!r}")


def run(
    store: str,
    backend: str,
    events: int,
    url: str | None,
    tmp: Path,
    baseline: bool,
    runs: int = 3,
) -> dict[str, Any]:
    """Fill the store once, rebuild its read models `runs` times; the median run's figures.

    One rebuild of 100,000 events takes one to two seconds, in which this machine's speed
    varies by a third from run to run: the median of three says more than any one."""
    common: dict[str, Any] = {
        "data_dir": tmp / f"{store}-{backend}",
        "database_url": SecretStr(url) if url else None,
        "aggregate_cache_size": 0,
        "http_port": 0,
    }
    spec, stored_s = build_and_fill(store, events, common)
    assert spec.projections is not None
    reports = sorted(
        (rebuild_in_place(spec.projections) for _ in range(runs)),
        key=lambda r: r["events_per_s"],
    )
    report = reports[len(reports) // 2]
    result: dict[str, Any] = {
        "store": store,
        "backend": backend,
        "events": report["events"],
        "projected": report["projected"],
        "workers": report["workers"],
        "store_seconds": round(stored_s, 1),
        "rebuild_seconds": report["seconds"],
        "rebuild_cpu_seconds": report["cpu_seconds"],
        "events_per_s": report["events_per_s"],
        "runs_events_per_s": [r["events_per_s"] for r in reports],
        "rows": report["rows"],
    }
    if baseline:
        # Same tables (the wrappers share each model's metadata): the fast path's rows
        # are read first, then the reference rebuild drops and refills them.
        fast_rows = rows(spec.projections)
        models = [OneAtATime(model) for model in spec.projections.models]
        reference = Projections(spec.app, models, spec.projections.engine)
        started = time.perf_counter()
        reference.rebuild()
        seconds = time.perf_counter() - started
        reference_rows = rows(reference)
        result["one_at_a_time_events_per_s"] = round(report["events"] / seconds)
        result["same_rows_as_one_at_a_time"] = fast_rows == reference_rows
        if fast_rows != reference_rows:
            result["differences"] = differences(fast_rows, reference_rows)
    spec.projections.engine.dispose()
    spec.app.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--stores",
        default=",".join(STORES),
        help=f"comma-separated, of: {','.join(STORES)} (default: all)",
    )
    parser.add_argument("--baseline", action="store_true", help="also time one event at a time")
    parser.add_argument("--runs", type=int, default=3, help="rebuilds per store (the median)")
    args = parser.parse_args()
    backends, stores = args.backends.split(","), args.stores.split(",")
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        parser.error(f"unknown stores {unknown}: choose among {','.join(STORES)}")
    given_url = os.environ.get(DATABASE_URL_ENV)
    if given_url and len(stores) * backends.count("postgres") != 1:
        parser.error(f"with {DATABASE_URL_ENV}: one store, on postgres")
    # The services' own logs (a dispatch, a stuck parcel...) would drown the figures.
    configure_logging("rebuild-benchmark", level="ERROR")
    tune_garbage_collector()
    results = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        infra = None
        if "postgres" in backends and not given_url:
            infra = stack.enter_context(Infrastructure(kafka=False))
        for store in stores:
            for backend in backends:
                url = None
                if backend == "postgres":
                    if given_url:
                        url = given_url
                    else:
                        assert infra is not None
                        url = infra.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
                result = run(store, backend, args.events, url, Path(tmp), args.baseline, args.runs)
                results.append(result)
                print(json.dumps(result), flush=True)
    print()
    print(
        f"{'store':<12} {'backend':<9} {'events':>9} {'projected':>9} {'seconds':>8} "
        f"{'cpu s':>6} {'events/s':>9} {'1-by-1/s':>9}"
    )
    for r in results:
        print(
            f"{r['store']:<12} {r['backend']:<9} {r['events']:>9,} {r['projected']:>9,} "
            f"{r['rebuild_seconds']:>8.2f} {r['rebuild_cpu_seconds']:>6.2f} "
            f"{r['events_per_s']:>9,} {r.get('one_at_a_time_events_per_s', 0):>9,}"
        )


if __name__ == "__main__":
    main()
