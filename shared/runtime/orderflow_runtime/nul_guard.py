"""Refuse requests that carry a NUL character, before any endpoint sees them.

PostgreSQL cannot store U+0000 in text: a NUL in a path, a query parameter or a JSON
string would otherwise fail the request with a 500, or worse, be stored in an event
and stall the read model that copies it into a text column. No field of any API has
a use for it, so the whole request is refused with a 422 problem.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM = {
    "type": "https://orderflow.dev/problems/invalid-request",
    "title": "Invalid request",
    "status": 422,
    "detail": "the request contains a NUL character (U+0000), which no field accepts",
}
_ESCAPED_NUL = b"\\u0000"
_MAX_BODY = 1_048_576
"""Bodies above this are not buffered to be scanned (no API takes one that large)."""


def has_nul(raw: bytes) -> bool:
    """A NUL byte, or a JSON-escaped one, in `raw` (a path, query string or body)."""
    return b"\x00" in raw or _ESCAPED_NUL in raw or b"%00" in raw


class RefuseNulCharacters:
    """ASGI middleware: 422 problem for a NUL in the path, query string or body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        if has_nul(path) or has_nul(scope.get("query_string", b"")):
            await _refuse(scope, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        if body is not None and (b"\x00" in body or _ESCAPED_NUL in body):
            await _refuse(scope, send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's body messages, and the body (None when too large to scan)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > _MAX_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(scope: Scope, send: Send) -> None:
    body: dict[str, Any] = {**PROBLEM, "instance": scope["path"].replace("\x00", "")}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
