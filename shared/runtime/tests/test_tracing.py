"""Request tracing: each HTTP request is a server span, named in the response, and the
events an endpoint causes carry it. Tracing here is configured without an exporter,
as the services run by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from orderflow_runtime.context import current_context
from orderflow_runtime.http import service_api
from orderflow_runtime.tracing import configure_tracing, install_request_tracing

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def sampled(traceparent: str) -> bool:
    """The W3C trace flags' sampled bit."""
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)


def traced_api() -> tuple[TestClient, list[str | None]]:
    configure_tracing("test")
    seen: list[str | None] = []
    api = service_api("test")
    install_request_tracing(api)

    @api.post("/sync")
    def in_a_thread() -> dict[str, str]:
        seen.append(current_context().traceparent)
        return {}

    @api.post("/async")
    async def on_the_loop() -> dict[str, str]:
        seen.append(current_context().traceparent)
        return {}

    return TestClient(api), seen


def test_the_endpoint_sees_the_span_the_response_names_and_continues_the_callers_trace() -> None:
    client, seen = traced_api()
    for path in ("/sync", "/async"):
        response = client.post(path, headers={"traceparent": CALLER})
        assert response.status_code == 200
        named = response.headers["traceparent"]
        assert seen[-1] == named  # the endpoint's events carry the request's span
        assert named.split("-")[1] == CALLER.split("-")[1]  # the caller's trace goes on
        assert named.split("-")[2] != CALLER.split("-")[2]  # in a span of its own
        assert sampled(named)  # the caller sampled it: it stays sampled


def test_a_request_without_a_traceparent_starts_a_trace() -> None:
    client, seen = traced_api()
    first = client.post("/sync").headers["traceparent"]
    second = client.post("/sync").headers["traceparent"]
    assert seen == [first, second]
    assert first.split("-")[1] != second.split("-")[1]
    assert not sampled(first)  # no exporter: started unsampled, nothing recorded
    assert current_context().traceparent is None  # nothing leaks out of a request


class Recorded(SpanProcessor):
    """The spans that end while `on`: the global provider cannot be swapped in a process."""

    def __init__(self) -> None:
        self.on = True
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            self.spans.append(span)


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    configure_tracing("test")  # the provider the spans go to
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    processor = Recorded()
    provider.add_span_processor(processor)
    yield processor
    processor.on = False


def test_a_request_is_one_server_span_named_in_the_response(recorded: Recorded) -> None:
    client, _ = traced_api()

    # When a caller that samples its trace makes one request
    named = client.post("/sync", headers={"traceparent": CALLER}).headers["traceparent"]

    # Then one span is recorded, the chassis' server span, child of the caller's
    (server,) = recorded.spans
    assert server.name == "POST /sync"
    assert server.kind == trace.SpanKind.SERVER
    assert f"{server.context.span_id:016x}" == named.split("-")[2]
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == CALLER.split("-")[2]
