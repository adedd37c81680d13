"""The HTTP side every service has: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadinessCheck = Callable[[], dict[str, bool]]


def service_api(title: str, **options: Any) -> FastAPI:
    """A service's FastAPI app, FastAPI's own OpenTelemetry tracing off: the chassis puts
    each request in a server span itself (`tracing.RequestTracing`, which also stamps the
    events the request causes); FastAPI's would be a second server span, and an operation
    span per endpoint, each costing every request some CPU."""
    return FastAPI(title=title, telemetry={"tracing": False}, **options)


def add_operational_routes(api: FastAPI, readiness: ReadinessCheck) -> None:
    """`/health/live`, `/health/ready` (503 until every check passes) and `/metrics`."""

    @api.get("/health/live", tags=["operations"], summary="The process is up")
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/health/ready", tags=["operations"], summary="Store, relay and inbox are running")
    def ready() -> JSONResponse:
        checks = readiness()
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)

    @api.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
