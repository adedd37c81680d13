"""The composition root of the fulfillment service: settings -> store, read model,
dispatcher (sandbox carriers), handlers, API and the sandbox deliveries."""

from __future__ import annotations

from orderflow_events import CATALOG_EVENTS, FULFILLMENT_EVENTS, INVENTORY_EVENTS, ORDERS_EVENTS
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.service import ServiceSpec, run_service
from orderflow_runtime.settings import ServiceSettings

from orderflow_fulfillment.api import create_api
from orderflow_fulfillment.application import FulfillmentApplication
from orderflow_fulfillment.delivery import SandboxDeliveries
from orderflow_fulfillment.desk import ReturnDesk
from orderflow_fulfillment.dispatch import Dispatcher
from orderflow_fulfillment.handlers import make_handlers
from orderflow_fulfillment.mapping import to_integration
from orderflow_fulfillment.projections import ReturnsReadModel, ShipmentsReadModel
from orderflow_fulfillment.settings import FulfillmentSettings


def own_url(settings: FulfillmentSettings) -> str | None:
    """Where this process's HTTP API answers (None: it has none)."""
    if not settings.http_port:
        return None
    host = "127.0.0.1" if settings.http_host in ("", "0.0.0.0") else settings.http_host
    return f"http://{host}:{settings.http_port}"


def build(settings: ServiceSettings) -> ServiceSpec:
    if not isinstance(settings, FulfillmentSettings):
        raise TypeError("the fulfillment service needs FulfillmentSettings")
    app = FulfillmentApplication(settings)
    projections = Projections(
        app, [ShipmentsReadModel(), ReturnsReadModel()], read_model_engine(settings)
    )
    dispatcher = Dispatcher.from_settings(settings)
    deliveries = SandboxDeliveries(
        projections.engine,
        base_url=own_url(settings),
        webhook_key=settings.webhook_key,
        carriers=dispatcher.carrier_names,
        delay_s=settings.delivery_delay_s,
        poll_s=settings.delivery_poll_s,
    )
    return ServiceSpec(
        app=app,
        output_topic=FULFILLMENT_EVENTS,
        to_integration=to_integration,
        input_topics=[CATALOG_EVENTS, ORDERS_EVENTS, INVENTORY_EVENTS],
        handlers=make_handlers(dispatcher, ReturnDesk(dispatcher, settings.return_window)),
        api=create_api(app, settings, projections),
        projections=projections,
        background=[deliveries.run] if settings.side_effects else [],
    )


def main() -> None:
    run_service(FulfillmentSettings(service_name="fulfillment"), build)
