"""The inventory's composition root: settings -> store, handlers, read model, API."""

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

from orderflow_inventory.api import create_api
from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.handlers import make_handlers
from orderflow_inventory.mapping import to_integration
from orderflow_inventory.projections import StockReadModel
from orderflow_inventory.reservations_view import ReservationsReadModel
from orderflow_inventory.settings import InventorySettings


def build(settings: ServiceSettings) -> ServiceSpec:
    """Wire inventory: consumes catalog, orders, payment, fulfillment; publishes its own."""
    if not isinstance(settings, InventorySettings):
        raise TypeError(f"inventory needs InventorySettings, not {type(settings).__name__}")
    app = InventoryApplication(settings)
    models = [StockReadModel(), ReservationsReadModel()]
    projections = Projections(app, models, read_model_engine(settings))
    return ServiceSpec(
        app,
        output_topic=INVENTORY_EVENTS,
        to_integration=to_integration,
        input_topics=[CATALOG_EVENTS, ORDERS_EVENTS, PAYMENT_EVENTS, FULFILLMENT_EVENTS],
        handlers=make_handlers(settings.default_thresholds),
        api=create_api(app, projections, settings.admin_api_key),
        projections=projections,
    )


def main() -> None:
    run_service(InventorySettings(service_name="inventory"), build)
