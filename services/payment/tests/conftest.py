"""Fixtures of payment's unit tests: a SQLite store in tmp_path, the sandbox gateway, and
a harness that delivers integration events to the handlers as the inbox would (no Kafka)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from orderflow_events import (
    Envelope,
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    PaymentMethod,
    ReceivedLine,
    ReturnReceived,
    Shipped,
    StockLine,
    from_record,
    to_record,
)
from orderflow_events.samples import sample_order_placed
from orderflow_payment.application import PaymentApplication
from orderflow_payment.handlers import make_handlers
from orderflow_payment.mapping import to_integration
from orderflow_payment.processing import PaymentProcessor, RetryPolicy
from orderflow_payment.projections import PaymentsIndex
from orderflow_payment.sandbox import SandboxGateway
from orderflow_payment.settings import PaymentSettings
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.uow import UnitOfWork

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
E = TypeVar("E", bound=IntegrationEvent)


class Harness:
    """The payment store, its handlers and the sandbox gateway; retries do not wait."""

    def __init__(self, settings: PaymentSettings) -> None:
        self.app = PaymentApplication(settings)
        self.projections = Projections(self.app, [PaymentsIndex()], read_model_engine(settings))
        self.gateway = SandboxGateway()
        self.sleeps: list[float] = []
        policy = RetryPolicy(attempts=3, initial_delay_s=0.1, max_delay_s=0.15)
        processor = PaymentProcessor(
            self.gateway, policy, self.sleeps.append, refund_shipping=settings.refund_shipping
        )
        self.handlers = make_handlers(processor)
        self._sequence = 0

    def envelope(self, event: IntegrationEvent) -> Envelope:
        """`event` as the inbox receives it: through a real Kafka record, a new ce_id."""
        self._sequence += 1
        record = to_record(event, event_id=str(uuid.uuid4()), time=NOW, sequence=self._sequence)
        return from_record(record.key, record.value, record.headers)

    def deliver(self, event: IntegrationEvent) -> None:
        """Apply one event in its own unit of work and commit it, as the inbox does."""
        uow = UnitOfWork(self.app)
        self.handlers[event.ce_type](self.envelope(event), uow)
        uow.commit()

    def published(self, kind: type[E]) -> list[E]:
        """What the relay would publish of `kind`, in store order."""
        events: list[E] = []
        for notification in self.app.process_recorder.select_notifications(start=1, limit=1000):
            integration = to_integration(self.app.mapper.to_domain_event(notification))
            if isinstance(integration, kind):
                events.append(integration)
        return events

    @staticmethod
    def order(token: str = "tok_approve") -> OrderPlaced:
        """The sample order (53.19 EUR, visa 4242), a new order id, paid with `token`."""
        card = PaymentMethod(token=token, brand="visa", last4="4242")
        return sample_order_placed().model_copy(update={"order_id": uuid.uuid4(), "payment": card})

    @staticmethod
    def shipped(order_id: uuid.UUID) -> Shipped:
        return Shipped(
            order_id=order_id,
            shipment_id=uuid.uuid5(order_id, "shipment"),
            carrier="parcelco",
            service_level="express",
            tracking_number="PC000000000001",
            lines=[StockLine(sku="TSHIRT-RED-M", quantity=2)],
            shipped_at=NOW,
        )

    @staticmethod
    def return_received(
        order_id: uuid.UUID,
        *lines: tuple[str, int, str],
        return_id: uuid.UUID | None = None,
    ) -> ReturnReceived:
        """A received return of (sku, quantity, condition) lines; default one resellable shirt."""
        lines = lines or (("TSHIRT-RED-M", 1, "resellable"),)
        return ReturnReceived(
            order_id=order_id,
            return_id=return_id or uuid.uuid4(),
            rma="RMA-TEST000001",
            lines=[
                ReceivedLine.model_validate({"sku": s, "quantity": q, "condition": c})
                for s, q, c in lines
            ],
            received_at=NOW,
        )

    @staticmethod
    def settings_for_test(tmp_path: Path, **changes: str) -> PaymentSettings:
        """Settings of a second harness, in its own folder."""
        return PaymentSettings(
            data_dir=tmp_path / "other",
            admin_api_key="test-key",  # type: ignore[arg-type]
            **changes,  # type: ignore[arg-type]
        )

    def captured_order(self, token: str = "tok_approve") -> OrderPlaced:
        """The sample order (2 x 19.90, shipping 4.90, tax 8.49), authorised and captured."""
        order = self.order(token)
        self.deliver(order)
        self.deliver(self.shipped(order.order_id))
        return order

    @staticmethod
    def cancelled(order_id: uuid.UUID, reason: str = "customer") -> OrderCancelled:
        return OrderCancelled.model_validate(
            {"order_id": order_id, "reason": reason, "cancelled_at": NOW}
        )


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's PAYMENT_* variables."""
    for name in list(os.environ):
        if name.startswith("PAYMENT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> PaymentSettings:
    return PaymentSettings(data_dir=tmp_path, admin_api_key="test-key")  # type: ignore[arg-type]


@pytest.fixture
def harness(settings: PaymentSettings) -> Iterator[Harness]:
    harness = Harness(settings)
    yield harness
    harness.projections.engine.dispose()
    harness.app.close()
