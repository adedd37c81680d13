"""Composition root: wires the cart's settings, store, handlers, read models, API and
the deadline watcher."""

from __future__ import annotations

from orderflow_events import (
    CATALOG_EVENTS,
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
)
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.service import ServiceSpec, run_service
from orderflow_runtime.settings import ServiceSettings

from orderflow_cart.api import create_api
from orderflow_cart.application import CartApplication
from orderflow_cart.deadlines import DeadlineWatcher
from orderflow_cart.handlers import HANDLERS
from orderflow_cart.mapping import to_integration
from orderflow_cart.projections import OrderList
from orderflow_cart.settings import CartSettings


def build(settings: ServiceSettings) -> ServiceSpec:
    if not isinstance(settings, CartSettings):
        raise TypeError(f"the cart service needs CartSettings, not {type(settings).__name__}")
    app = CartApplication(settings)
    projections = Projections(app, [OrderList(settings.deadlines())], read_model_engine(settings))
    watcher = DeadlineWatcher(
        app,
        projections,
        poll_s=settings.deadline_poll_s,
        counts_every_s=settings.order_counts_every_s,
    )
    return ServiceSpec(
        app,
        output_topic=ORDERS_EVENTS,
        to_integration=to_integration,
        input_topics=[CATALOG_EVENTS, PAYMENT_EVENTS, INVENTORY_EVENTS, FULFILLMENT_EVENTS],
        handlers=HANDLERS,
        api=create_api(app, projections),
        projections=projections,
        background=[watcher.run],
    )


def main() -> None:
    run_service(CartSettings(service_name="cart"), build)
