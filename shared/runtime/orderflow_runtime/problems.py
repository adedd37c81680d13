"""HTTP problem details (RFC 9457) for every service API.

Services raise `Problem` subclasses (or the generic ones below) from use cases and
endpoints; validation errors of requests become 422 problems listing the fields,
never echoing the input; anything unexpected becomes a 500 problem without details.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from orderflow_runtime.logs import get_logger
from orderflow_runtime.nul_guard import RefuseNulCharacters

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://orderflow.dev/problems/"
log = get_logger(__name__)


class Problem(Exception):  # noqa: N818 - the RFC 9457 name
    """A request the service refuses; subclasses set status, title and type."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type_name: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.type_name,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extensions,
        }


class NotFound(Problem):
    status = 404
    title = "Not found"
    type_name = "not-found"


class Conflict(Problem):
    """The request is valid but the resource's state does not allow it."""

    status = 409
    title = "Conflict"
    type_name = "conflict"


class Unprocessable(Problem):
    """Well-formed, but the values make no sense (an unknown sku, a zero quantity...)."""

    status = 422
    title = "Unprocessable request"
    type_name = "unprocessable"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"
    type_name = "unauthorized"


def install_problem_handlers(api: FastAPI) -> None:
    """Make every error of `api` a problem+json response (NUL characters included)."""
    api.add_middleware(RefuseNulCharacters)

    @api.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> JSONResponse:
        return _respond(problem.status, problem.body(request.url.path))

    @api.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return _respond(422, _invalid(request, error.errors()))

    @api.exception_handler(ValidationError)
    async def on_invalid_value(request: Request, error: ValidationError) -> JSONResponse:
        return _respond(422, _invalid(request, error.errors(include_input=False)))

    @api.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, error_type=type(error).__name__)
        body = {
            "type": TYPE_BASE + "internal",
            "title": "Internal error",
            "status": 500,
            "detail": "The service failed to handle the request; it has been logged.",
            "instance": request.url.path,
        }
        return _respond(500, body)


def _invalid(request: Request, errors: Any) -> dict[str, Any]:
    fields = [
        {"field": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", "")}
        for e in errors
    ]
    return {
        "type": TYPE_BASE + "invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": "; ".join(f"{f['field']}: {f['message']}" for f in fields)[:1000],
        "instance": request.url.path,
        "errors": fields,
    }


def _respond(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
