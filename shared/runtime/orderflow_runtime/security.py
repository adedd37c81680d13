"""API keys for admin and operator endpoints (the key comes from the environment only)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request, params
from pydantic import SecretStr

from orderflow_runtime.problems import Unauthorized


def require_api_key(key: SecretStr | None) -> Callable[[Request], None]:
    """A FastAPI dependency: the request must carry `X-API-Key: <key>` or `Bearer <key>`.

    With no key configured every such endpoint refuses: an unset secret never opens it.
    """

    def check(request: Request) -> None:
        given = request.headers.get("x-api-key") or _bearer(request.headers.get("authorization"))
        if (
            key is None
            or not given
            or not hmac.compare_digest(given.encode(), key.get_secret_value().encode())
        ):
            raise Unauthorized("this endpoint needs a valid API key (X-API-Key header)")

    return check


def api_key_dependency(key: SecretStr | None) -> params.Depends:
    """`dependencies=[api_key_dependency(settings.admin_api_key)]` on an admin router."""
    dependency: params.Depends = Depends(require_api_key(key))
    return dependency


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
