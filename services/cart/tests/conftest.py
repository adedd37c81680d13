"""Fixtures of the cart's unit tests: a SQLite store in tmp_path, no Kafka.

`deliver(app, *events)` applies integration events through the real handlers and a
real UnitOfWork, as the inbox would; `listed(...)` makes a ProductListed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from orderflow_cart.application import CartApplication
from orderflow_cart.handlers import HANDLERS
from orderflow_cart.main import build
from orderflow_cart.settings import CartSettings
from orderflow_events import IntegrationEvent, Money, ProductListed, from_record, to_record
from orderflow_runtime.projections import Projections
from orderflow_runtime.uow import UnitOfWork

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ADMIN_KEY = "test-admin-key"


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's CART_* variables."""
    for name in list(os.environ):
        if name.startswith("CART_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> CartSettings:
    return CartSettings(data_dir=tmp_path / "data", admin_api_key=ADMIN_KEY)


@pytest.fixture
def app(settings: CartSettings) -> Iterator[CartApplication]:
    application = CartApplication(settings)
    yield application
    application.close()


@pytest.fixture
def service(settings: CartSettings) -> Iterator[tuple[CartApplication, Projections, TestClient]]:
    """The cart as `build` wires it: application, read models and API (no Kafka)."""
    spec = build(settings)
    assert isinstance(spec.app, CartApplication)
    assert spec.api is not None
    assert spec.projections is not None
    with TestClient(spec.api, raise_server_exceptions=False) as client:
        yield spec.app, spec.projections, client
    spec.projections.engine.dispose()
    spec.app.close()


@pytest.fixture
def client(service: tuple[CartApplication, Projections, TestClient]) -> TestClient:
    return service[2]


Deliver = Callable[..., None]
Listed = Callable[..., ProductListed]


def _deliver(app: CartApplication, *events: IntegrationEvent) -> None:
    uow = UnitOfWork(app)
    for event in events:
        record = to_record(event, event_id=str(uuid4()), time=datetime.now(UTC), sequence=1)
        envelope = from_record(record.key, record.value, record.headers)
        HANDLERS[envelope.type](envelope, uow)
    uow.commit()


@pytest.fixture
def deliver() -> Deliver:
    """`deliver(app, *events)`: apply events in one unit of work, as one inbox batch would."""
    return _deliver


def _listed(sku: str, price: str, grams: int, **fields: Any) -> ProductListed:
    values: dict[str, Any] = {
        "sku": sku,
        "name": f"Product {sku}",
        "category": "test",
        "weight_grams": grams,
        "price": Money(amount=price, currency=fields.pop("currency", "EUR")),
        "listed_at": T0,
        **fields,
    }
    return ProductListed(**values)


@pytest.fixture
def listed() -> Listed:
    """`listed(sku, "19.90", grams, **fields)`: a ProductListed in EUR (or `currency=`)."""
    return _listed


CATALOG: tuple[ProductListed, ...] = (
    _listed("TSHIRT-RED-M", "19.90", 180, attributes={"colour": "red", "size": "M"}),
    _listed("MUG-001", "8.50", 350),
    _listed("BOOT-42", "89.00", 1400, attributes={"size": "42"}),
)


@pytest.fixture
def shop_app(service: tuple[CartApplication, Projections, TestClient]) -> CartApplication:
    """The API's application, with the three products of CATALOG listed."""
    _deliver(service[0], *CATALOG)
    return service[0]
