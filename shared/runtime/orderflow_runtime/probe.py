"""The chassis probe: two small services that push real events through the whole pipe.

`probe-source` stores OrderPlaced domain events and its relay publishes them to
`orders.events`; `probe-sink` consumes them through the inbox and counts each one
into a `Tally` aggregate (one per bucket of orders), so that its store holds one
`Counted` event per event it applied: a duplicate shows up as a second one. The
chassis tests, the pipe benchmark and (until the shop exists) `orderflow demo` run
these as separate processes:

    python -m orderflow_runtime.probe source [--place N]
    python -m orderflow_runtime.probe sink

Settings come from `PROBE_*` variables (see `ServiceSettings`). An order whose
customer email starts with `poison@` makes the sink's handler fail, on purpose: the
tests use it to drive the retry and dead-letter path.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import uvloop
from eventsourcing.domain import event
from fastapi import FastAPI, Query
from orderflow_events import ORDERS_EVENTS, Envelope, IntegrationEvent, OrderPlaced
from pydantic_settings import SettingsConfigDict

from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.http import service_api
from orderflow_runtime.logs import configure_logging
from orderflow_runtime.service import ServiceRuntime, ServiceSpec
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from orderflow_runtime.uow import UnitOfWork

BUCKETS = 64
_BUCKET_NS = uuid.UUID("0b9b7a4e-8d0f-4a55-a9a1-3d5cbb1c2f10")


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")


class PlacedOrder(TracedAggregate):
    @event("Placed")
    def __init__(self, order: dict[str, Any]) -> None:
        self.order = order


class ProbeSource(EventStoreApplication):
    name = "ProbeSource"

    def place(self, count: int, *, per_transaction: int = 50) -> list[uuid.UUID]:
        """Store `count` new orders, `per_transaction` to a commit; returns their ids."""
        ids: list[uuid.UUID] = []
        for start in range(0, count, per_transaction):
            orders = [
                PlacedOrder(sample_order(uuid.uuid4()).model_dump(mode="json"))
                for _ in range(min(per_transaction, count - start))
            ]
            self.save(*orders)
            ids.extend(order.id for order in orders)
        return ids


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    if isinstance(domain_event, PlacedOrder.Placed):  # type: ignore[attr-defined]
        return OrderPlaced.model_validate(domain_event.order)
    return None


class Tally(TracedAggregate):
    @staticmethod
    def create_id(bucket: int) -> uuid.UUID:
        return bucket_id(bucket)

    @event("Opened")
    def __init__(self, bucket: int) -> None:
        self.bucket = bucket
        self.count = 0

    @event("Counted")
    def count_one(self, event_id: str, order_id: str, sequence: int) -> None:
        self.count += 1


class ProbeHandlerError(Exception):
    """The deliberate failure of the sink's handler for a `poison@` order."""


class ProbeSink(EventStoreApplication):
    name = "ProbeSink"

    def counted_event_ids(self) -> list[str]:
        """The ce_id of every event applied, once per application (duplicates included)."""
        ids: list[str] = []
        position = 0
        while batch := self.process_recorder.select_notifications(
            start=position, limit=5000, inclusive_of_start=False
        ):
            for notification in batch:
                domain_event = self.mapper.to_domain_event(notification)
                if isinstance(domain_event, Tally.Counted):  # type: ignore[attr-defined]
                    ids.append(domain_event.event_id)
            position = batch[-1].id
        return ids

    def total(self) -> int:
        total = 0
        for bucket in range(BUCKETS):
            try:
                total += self.repository.get(bucket_id(bucket)).count
            except Exception:  # an unopened bucket counts nothing
                continue
        return total


def bucket_id(bucket: int) -> uuid.UUID:
    return uuid.uuid5(_BUCKET_NS, str(bucket))


def on_order_placed(envelope: Envelope, uow: UnitOfWork) -> None:
    placed = envelope.data
    assert isinstance(placed, OrderPlaced)
    if placed.customer_email.startswith("poison@"):
        raise ProbeHandlerError(f"order {placed.order_id} is marked poison")
    bucket = placed.order_id.int % BUCKETS
    tally = uow.find(bucket_id(bucket), Tally)
    if tally is None:
        tally = Tally(bucket)
        uow.add(tally)
    tally.count_one(envelope.id, str(placed.order_id), envelope.sequence or 0)


def sample_order(order_id: uuid.UUID, email: str = "ada@example.com") -> OrderPlaced:
    """A realistic two-line order."""
    from orderflow_events import Address, Money, OrderLine, PaymentMethod

    def eur(amount: str) -> Money:
        return Money(amount=Decimal(amount), currency="EUR")

    return OrderPlaced(
        order_id=order_id,
        customer_email=email,
        lines=[
            OrderLine(
                sku="TSHIRT-RED-M",
                name="T-shirt red M",
                quantity=2,
                unit_price=eur("19.90"),
                attributes={"size": "M", "colour": "red"},
            ),
            OrderLine(sku="MUG-001", name="Mug", quantity=1, unit_price=eur("8.50")),
        ],
        subtotal=eur("48.30"),
        shipping_fee=eur("4.90"),
        tax=eur("10.11"),
        total=eur("63.31"),
        shipping_address=Address(
            name="Ada Lovelace",
            line1="12 St James's Square",
            city="London",
            postal_code="SW1Y 4JH",
            country="GB",
        ),
        shipping_method="standard",
        payment=PaymentMethod(token="tok_approve", brand="visa", last4="4242"),
        placed_at=datetime.now(UTC),
    )


def build(role: str, settings: ProbeSettings) -> tuple[ServiceSpec, FastAPI]:
    api = service_api(f"probe-{role}")
    if role == "source":
        source = ProbeSource(settings)
        spec = ServiceSpec(
            source, output_topic=ORDERS_EVENTS, to_integration=to_integration, api=api
        )
    else:
        spec = ServiceSpec(
            ProbeSink(settings),
            input_topics=[ORDERS_EVENTS],
            handlers={OrderPlaced.ce_type: on_order_placed},
            api=api,
        )
    return spec, api


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one side of the chassis probe.")
    parser.add_argument("role", choices=["source", "sink"])
    parser.add_argument("--place", type=int, default=0, help="source: orders to store first")
    args = parser.parse_args()
    settings = ProbeSettings(service_name=f"probe-{args.role}")
    configure_logging(settings.service_name, settings.log_level)
    spec, api = build(args.role, settings)
    runtime = ServiceRuntime(settings, spec)

    if isinstance(spec.app, ProbeSource):
        source = spec.app

        @api.post("/probe/orders", status_code=201)
        def place_orders(count: int = Query(ge=1, le=100_000)) -> dict[str, int]:
            """Store `count` new orders (the relay publishes them)."""
            return {"placed": len(source.place(count))}

    @api.get("/probe/stats")
    def stats() -> dict[str, int]:
        relay, inbox = runtime.relay, runtime.inbox
        return {
            "stored": spec.app.max_notification_id(),
            "published": relay.published if relay else 0,
            "applied": inbox.applied if inbox else 0,
        }

    if args.place and isinstance(spec.app, ProbeSource):
        spec.app.place(args.place)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(runtime.run())


if __name__ == "__main__":
    # Run the imported module's main, not this `__main__` copy: stored event topics name
    # `orderflow_runtime.probe` classes, and isinstance checks must see those.
    from orderflow_runtime.probe import main as imported_main

    imported_main()
