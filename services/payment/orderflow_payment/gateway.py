"""What payment needs of a payment gateway; implementations are chosen in `main`.

Every call carries an idempotency key: a gateway returns the same outcome for a
repeated key and never authorises (captures, refunds) twice for one key, so a
handler that is re-run after a failed batch cannot charge a customer twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from orderflow_events import Money


@dataclass(frozen=True)
class AuthorizationRequest:
    idempotency_key: str
    amount: Money
    token: str
    """The gateway's card token; never a card number."""


@dataclass(frozen=True)
class Approved:
    auth_code: str


@dataclass(frozen=True)
class Declined:
    reason: str
    """snake_case decline code, e.g. 'insufficient_funds'."""


class GatewayError(Exception):
    """Transient trouble: the call may be retried with the same idempotency key."""

    code: ClassVar[str] = "gateway_error"


class GatewayTimeout(GatewayError):  # noqa: N818 (the gateway contract's name)
    """No answer in time: the outcome is unknown until the same key is tried again."""

    code = "gateway_timeout"


class GatewayUnavailable(GatewayError):  # noqa: N818 (the gateway contract's name)
    code = "gateway_unavailable"


class GatewayRefused(Exception):  # noqa: N818 (reads as a fact)
    """The gateway refused a capture, void or refund for good (a bug or an expired auth)."""


class Gateway(Protocol):
    def authorize(self, request: AuthorizationRequest) -> Approved | Declined: ...

    def capture(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        """Capture `amount` of the authorisation; returns the gateway's reference."""
        ...

    def void(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        """Release the authorisation; returns the gateway's reference."""
        ...

    def refund(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        """Give back `amount` of what was captured; returns the gateway's reference."""
        ...
