"""OpenTelemetry tracing: one trace spans the whole saga of an order.

The W3C `traceparent` travels in every record's headers. The inbox handles each
event in a consumer span whose parent is the event's traceparent, and the events
that handling causes carry that span's traceparent; an HTTP request (a checkout)
starts the trace. Spans are recorded and exported when `trace_exporter` says so
(`console` prints them; `otlp` needs the opentelemetry OTLP exporter package installed
and the usual OTEL_EXPORTER_OTLP_* variables); the context propagates either way.
Without an exporter the traces a service starts are unsampled: set one on every
service whose spans you want, the cart (where an order's trace starts) included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderflow_runtime.context import EventContext, event_context
from orderflow_runtime.logs import get_logger

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("orderflow")
log = get_logger(__name__)


def configure_tracing(service: str, exporter: str = "none") -> None:
    """Spans go to `exporter`. Without one, spans are not recorded (nothing would read
    them; recording cost each request and each handled event a share of its CPU), but
    each still gets its own id, so the trace context propagates as before; traces started
    here are then marked unsampled (the W3C sampled flag unset), and a caller's sampled
    trace stays sampled."""
    processor = _span_processor(exporter)
    sampler = ParentBased(ALWAYS_ON if processor is not None else ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    if processor is not None:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def _span_processor(exporter: str) -> BatchSpanProcessor | None:
    if exporter == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError:
            log.warning("trace_exporter=otlp needs opentelemetry-exporter-otlp-proto-http")
            return None
        return BatchSpanProcessor(OTLPSpanExporter())
    return None


@contextmanager
def span(name: str, parent: str | None, kind: SpanKind, **attributes: str) -> Iterator[str]:
    """A span under the `parent` traceparent (a new trace if none); yields its traceparent."""
    context = _propagator.extract({"traceparent": parent}) if parent else None
    with _tracer.start_as_current_span(name, context=context, kind=kind) as current:
        for key, value in attributes.items():
            current.set_attribute(key, value)
        carrier: dict[str, str] = {}
        _propagator.inject(carrier)
        yield carrier.get("traceparent", parent or "")


def install_request_tracing(api: FastAPI) -> None:
    """Each request in a server span (continuing a caller's `traceparent`); events it causes
    carry that span as their parent."""
    api.add_middleware(RequestTracing)


class RequestTracing:
    """ASGI middleware for `install_request_tracing`; the response names its span in a
    `traceparent` header. Plain ASGI: Starlette's `BaseHTTPMiddleware` ran each request's
    endpoint in a task group of its own, CPU the busiest service paid on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = f"{scope['method']} {scope['path']}"
        caller = Headers(scope=scope).get("traceparent")
        with (
            span(name, caller, SpanKind.SERVER) as traceparent,
            event_context(EventContext(traceparent=traceparent)),
        ):

            async def send_naming_the_span(message: Message) -> None:
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message)["traceparent"] = traceparent
                await send(message)

            await self.app(scope, receive, send_naming_the_span)
