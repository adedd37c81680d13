"""Inventory unit-test fixtures: the store on SQLite in tmp_path, the handlers, the API.

`deliver(*events)` applies events as the inbox would (one unit of work, one commit,
through real CloudEvents records); `published()` is what the relay would publish.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from orderflow_events import (
    Address,
    CancelReason,
    IntegrationEvent,
    ItemCondition,
    Money,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentAuthorized,
    PaymentMethod,
    ProductListed,
    ReceivedLine,
    ReturnReceived,
    Shipped,
    StockLine,
    from_record,
    to_record,
)
from orderflow_inventory.api import create_api
from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.handlers import make_handlers
from orderflow_inventory.mapping import to_integration
from orderflow_inventory.projections import StockReadModel
from orderflow_inventory.reservations_view import ReservationsReadModel
from orderflow_inventory.settings import InventorySettings
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.uow import UnitOfWork

ADMIN_KEY = "secret-admin-key"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
Deliver = Callable[..., None]
Published = Callable[[], list[IntegrationEvent]]


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's INVENTORY_* variables."""
    for name in list(os.environ):
        if name.startswith("INVENTORY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> InventorySettings:
    return InventorySettings(
        data_dir=tmp_path,
        admin_api_key=ADMIN_KEY,
        default_reorder_point=2,
        default_reorder_quantity=20,
    )


@pytest.fixture
def app(settings: InventorySettings) -> Iterator[InventoryApplication]:
    application = InventoryApplication(settings)
    yield application
    application.close()


@pytest.fixture
def deliver(app: InventoryApplication, settings: InventorySettings) -> Deliver:
    handlers = make_handlers(settings.default_thresholds)

    def apply(*events: IntegrationEvent) -> None:
        uow = UnitOfWork(app)
        for event in events:
            record = to_record(event, event_id=str(uuid4()), time=NOW, sequence=1)
            envelope = from_record(record.key, record.value, record.headers)
            handlers[envelope.type](envelope, uow)
        uow.commit()

    return apply


@pytest.fixture
def published(app: InventoryApplication) -> Published:
    def read() -> list[IntegrationEvent]:
        notifications = app.process_recorder.select_notifications(start=1, limit=10_000)
        mapped = [to_integration(app.mapper.to_domain_event(n)) for n in notifications]
        return [event for event in mapped if event is not None]

    return read


@pytest.fixture
def projections(app: InventoryApplication, settings: InventorySettings) -> Iterator[Projections]:
    models = [StockReadModel(), ReservationsReadModel()]
    projections = Projections(app, models, read_model_engine(settings))
    yield projections
    projections.engine.dispose()


@pytest.fixture
def client(
    app: InventoryApplication, projections: Projections, settings: InventorySettings
) -> Iterator[TestClient]:
    with TestClient(create_api(app, projections, settings.admin_api_key)) as test_client:
        test_client.headers["X-API-Key"] = ADMIN_KEY
        yield test_client


def listed(sku: str, reorder_point: int | None = None) -> ProductListed:
    return ProductListed(
        sku=sku,
        name=f"Product {sku}",
        category="test",
        weight_grams=100,
        price=Money.of("5.00", "EUR"),
        reorder_point=reorder_point,
        listed_at=NOW,
    )


def placed(order_id: UUID, **lines: int) -> OrderPlaced:
    """An order of `quantity` units per sku (skus given as keywords: A=2, B=1)."""
    return order_placed(order_id, list(lines.items()))


def order_placed(order_id: UUID, lines: list[tuple[str, int]]) -> OrderPlaced:
    price = Money.of("5.00", "EUR")
    subtotal = Money.of(Decimal(5) * sum(q for _, q in lines), "EUR")
    return OrderPlaced(
        order_id=order_id,
        customer_email="ada@example.com",
        lines=[OrderLine(sku=s, name=s, quantity=q, unit_price=price) for s, q in lines],
        subtotal=subtotal,
        shipping_fee=Money.zero("EUR"),
        tax=Money.zero("EUR"),
        total=subtotal,
        shipping_address=Address(
            name="Ada", line1="1 Road", city="London", postal_code="N1", country="GB"
        ),
        shipping_method="standard",
        payment=PaymentMethod(token="tok_1", brand="visa", last4="4242"),
        placed_at=NOW,
    )


def authorized(order_id: UUID, payment_id: UUID | None = None) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=payment_id or uuid4(),
        amount=Money.of("5.00", "EUR"),
        auth_code="A1",
        brand="visa",
        last4="4242",
        authorized_at=NOW,
    )


def shipped(order_id: UUID, **lines: int) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid4(),
        carrier="dhl",
        service_level="ground",
        tracking_number="T1",
        lines=[StockLine(sku=s, quantity=q) for s, q in lines.items()],
        shipped_at=NOW,
    )


def returned(
    order_id: UUID, *lines: tuple[str, int, str], return_id: UUID | None = None
) -> ReturnReceived:
    """A received return of (sku, quantity, condition) lines."""
    return ReturnReceived(
        order_id=order_id,
        return_id=return_id or uuid4(),
        rma="RMA-1",
        lines=[ReceivedLine(sku=s, quantity=q, condition=ItemCondition(c)) for s, q, c in lines],
        received_at=NOW,
    )


def cancelled(order_id: UUID, reason: CancelReason = CancelReason.CUSTOMER) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason=reason, cancelled_at=NOW)


class Builders:
    """The event builders above, as the `make` fixture (test modules cannot import conftest)."""

    listed = staticmethod(listed)
    placed = staticmethod(placed)
    order_placed = staticmethod(order_placed)
    authorized = staticmethod(authorized)
    shipped = staticmethod(shipped)
    returned = staticmethod(returned)
    cancelled = staticmethod(cancelled)


@pytest.fixture
def make() -> type[Builders]:
    return Builders
