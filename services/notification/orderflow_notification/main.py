"""Composition root: the store, read model, handlers, relay mapping, API and dispatcher."""

from __future__ import annotations

from orderflow_events import (
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    NOTIFICATION_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
)
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.service import ServiceSpec, run_service
from orderflow_runtime.settings import ServiceSettings

from orderflow_notification.api import create_api
from orderflow_notification.application import NotificationApplication
from orderflow_notification.channels import EmailTransport, SmsTransport, Transport
from orderflow_notification.dispatcher import Dispatcher
from orderflow_notification.handlers import build_handlers
from orderflow_notification.mapping import to_integration
from orderflow_notification.projections import NoticesView
from orderflow_notification.settings import NotificationSettings


def transports(settings: NotificationSettings) -> dict[str, Transport]:
    if not settings.side_effects:
        return {}
    channels: dict[str, Transport] = {"email": EmailTransport(settings)}
    if settings.sms_webhook_url:
        channels["sms"] = SmsTransport(settings)
    return channels


def build(settings: ServiceSettings) -> ServiceSpec:
    assert isinstance(settings, NotificationSettings)
    app = NotificationApplication(settings)
    projections = Projections(app, [NoticesView()], read_model_engine(settings))
    dispatcher = Dispatcher(app, projections, transports(settings), settings)
    return ServiceSpec(
        app=app,
        output_topic=NOTIFICATION_EVENTS,
        to_integration=to_integration,
        input_topics=[ORDERS_EVENTS, PAYMENT_EVENTS, FULFILLMENT_EVENTS, INVENTORY_EVENTS],
        handlers=build_handlers(sms_enabled=settings.sms_webhook_url is not None),
        api=create_api(app, projections, settings),
        projections=projections,
        background=[dispatcher.run] if settings.side_effects else [],
    )


def main() -> None:
    run_service(NotificationSettings(), build)
