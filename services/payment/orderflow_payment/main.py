"""The composition root of the payment service: settings -> gateway, store, handlers, API."""

from __future__ import annotations

import time
from collections.abc import Callable

from orderflow_events import FULFILLMENT_EVENTS, ORDERS_EVENTS, PAYMENT_EVENTS
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.service import ServiceSpec, run_service
from orderflow_runtime.settings import ServiceSettings

from orderflow_payment.api import create_api
from orderflow_payment.application import PaymentApplication
from orderflow_payment.gateway import Gateway
from orderflow_payment.handlers import make_handlers
from orderflow_payment.mapping import to_integration
from orderflow_payment.processing import PaymentProcessor, RetryPolicy
from orderflow_payment.projections import PaymentsIndex
from orderflow_payment.sandbox import SandboxGateway
from orderflow_payment.settings import PaymentSettings


def make_gateway(settings: PaymentSettings) -> Gateway:
    if settings.gateway == "sandbox" or not settings.side_effects:
        return SandboxGateway()
    raise ValueError(f"unknown gateway {settings.gateway!r}")


def build(
    settings: ServiceSettings,
    *,
    gateway: Gateway | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ServiceSpec:
    """Wire the service; tests pass their own gateway or a sleep that does not wait."""
    if not isinstance(settings, PaymentSettings):
        raise TypeError("the payment service needs PaymentSettings")
    policy = RetryPolicy(
        attempts=settings.gateway_attempts,
        initial_delay_s=settings.gateway_retry_delay_s,
        max_delay_s=settings.gateway_retry_max_delay_s,
    )
    processor = PaymentProcessor(
        gateway or make_gateway(settings), policy, sleep, refund_shipping=settings.refund_shipping
    )
    app = PaymentApplication(settings)
    projections = Projections(app, [PaymentsIndex()], read_model_engine(settings))
    return ServiceSpec(
        app=app,
        output_topic=PAYMENT_EVENTS,
        to_integration=to_integration,
        input_topics=[ORDERS_EVENTS, FULFILLMENT_EVENTS],
        handlers=make_handlers(processor),
        api=create_api(app, settings, projections),
        projections=projections,
    )


def main() -> None:
    run_service(PaymentSettings(service_name="payment"), build)
