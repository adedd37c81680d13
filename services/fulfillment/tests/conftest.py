"""Fixtures of fulfillment's unit tests: a SQLite store and read model in tmp_path, and a
harness that delivers integration events to the handlers as the inbox would (no Kafka)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from orderflow_events import (
    CancellationRequested,
    Envelope,
    IntegrationEvent,
    Money,
    OrderCancelled,
    OrderPlaced,
    ProductListed,
    ReturnRequested,
    ShippingMethod,
    StockLine,
    StockReserved,
    from_record,
    to_record,
)
from orderflow_events.samples import sample_order_placed
from orderflow_fulfillment.main import build
from orderflow_fulfillment.mapping import to_integration
from orderflow_fulfillment.settings import FulfillmentSettings
from orderflow_runtime.projections import Projections
from orderflow_runtime.service import ServiceSpec
from orderflow_runtime.uow import UnitOfWork

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SKU = "TSHIRT-RED-M"  # the sample order: 2 units, to London (GB), express
E = TypeVar("E", bound=IntegrationEvent)


class Harness:
    """The service as `build` wires it (store, read model, handlers, API), without Kafka."""

    def __init__(self, settings: FulfillmentSettings) -> None:
        self.settings = settings
        self.spec: ServiceSpec = build(settings)
        self.app = self.spec.app
        assert self.spec.projections is not None
        self.projections: Projections = self.spec.projections
        self._sequence = 0

    def envelope(self, event: IntegrationEvent) -> Envelope:
        self._sequence += 1
        record = to_record(event, event_id=str(uuid.uuid4()), time=NOW, sequence=self._sequence)
        return from_record(record.key, record.value, record.headers)

    def deliver(self, *events: IntegrationEvent) -> None:
        """Apply each event in its own unit of work and commit it, as the inbox does."""
        for event in events:
            uow = UnitOfWork(self.app)
            self.spec.handlers[event.ce_type](self.envelope(event), uow)
            uow.commit()

    def deliver_batch(self, *events: IntegrationEvent) -> None:
        """Apply the events in one unit of work, as the inbox applies a batch."""
        uow = UnitOfWork(self.app)
        for event in events:
            self.spec.handlers[event.ce_type](self.envelope(event), uow)
        uow.commit()

    def delivered_order(self, delivered_at: datetime = NOW) -> OrderPlaced:
        """An order of 2 x SKU, shipped and delivered at `delivered_at`."""
        order = self.order()
        self.deliver(self.listed(), order, self.reserved(order.order_id))
        assert self.app.confirm_delivery(order.order_id, delivered_at)
        return order

    def published(self, kind: type[E]) -> list[E]:
        """What the relay would publish of `kind`, in store order."""
        events: list[E] = []
        for notification in self.app.process_recorder.select_notifications(start=1, limit=1000):
            integration = to_integration(self.app.mapper.to_domain_event(notification))
            if isinstance(integration, kind):
                events.append(integration)
        return events

    @staticmethod
    def listed(sku: str = SKU, grams: int = 180) -> ProductListed:
        return ProductListed(
            sku=sku,
            name="T-shirt",
            category="apparel",
            weight_grams=grams,
            price=Money.of("19.90", "EUR"),
            listed_at=NOW,
        )

    @staticmethod
    def order(method: str = "express", country: str = "GB", **changes: Any) -> OrderPlaced:
        """The sample order (2 x TSHIRT-RED-M) with a new order id."""
        sample = sample_order_placed()
        address = sample.shipping_address.model_copy(update={"country": country})
        return sample.model_copy(
            update={
                "order_id": uuid.uuid4(),
                "shipping_method": ShippingMethod(method),
                "shipping_address": address,
                **changes,
            }
        )

    @staticmethod
    def reserved(order_id: uuid.UUID, quantity: int = 2, sku: str = SKU) -> StockReserved:
        return StockReserved(
            order_id=order_id,
            reservation_id=uuid.uuid5(order_id, "reservation"),
            lines=[StockLine(sku=sku, quantity=quantity)],
            reserved_at=NOW,
        )

    @staticmethod
    def cancel_requested(order_id: uuid.UUID, reason: str = "customer") -> CancellationRequested:
        return CancellationRequested.model_validate(
            {"order_id": order_id, "reason": reason, "requested_at": NOW}
        )

    @staticmethod
    def return_requested(
        order_id: uuid.UUID,
        quantity: int = 1,
        *,
        sku: str = SKU,
        after: timedelta = timedelta(days=1),
        return_id: uuid.UUID | None = None,
    ) -> ReturnRequested:
        """A return of `quantity` units of `sku`, requested `after` the delivery (at NOW)."""
        return ReturnRequested(
            order_id=order_id,
            return_id=return_id or uuid.uuid4(),
            lines=[StockLine(sku=sku, quantity=quantity)],
            reason="Too small",
            requested_at=NOW + after,
        )

    @staticmethod
    def cancelled(order_id: uuid.UUID) -> OrderCancelled:
        return OrderCancelled.model_validate(
            {"order_id": order_id, "reason": "customer", "cancelled_at": NOW}
        )


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's FULFILLMENT_* variables."""
    for name in list(os.environ):
        if name.startswith("FULFILLMENT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> FulfillmentSettings:
    return FulfillmentSettings(
        data_dir=tmp_path,
        admin_api_key="test-key",  # type: ignore[arg-type]
        warehouse_country="DE",
        packaging_grams=150,
        fallback_item_grams=500,
        delivery_delay_s=2,
    )


@pytest.fixture
def harness(settings: FulfillmentSettings) -> Iterator[Harness]:
    harness = Harness(settings)
    yield harness
    harness.projections.engine.dispose()
    harness.app.close()
