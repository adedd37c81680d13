"""A deterministic in-memory gateway for development and tests, driven by the card token.

| token | outcome |
|---|---|
| `tok_decline_funds` | declined, `insufficient_funds` |
| `tok_decline_fraud` | declined, `suspected_fraud` |
| `tok_transient_then_approve` | the first call for a key raises GatewayUnavailable, then approved |
| `tok_timeout` | every call raises GatewayTimeout |
| anything else (`tok_approve`) | approved |

Like a real gateway it remembers outcomes by idempotency key: a repeated key gets
the same answer and never a second authorisation. The memory is per process (a
sandbox); auth codes and references are derived from the key, so they stay the
same after a restart.
"""

from __future__ import annotations

import hashlib
import threading
from decimal import Decimal

from orderflow_events import Money

from orderflow_payment.gateway import (
    Approved,
    AuthorizationRequest,
    Declined,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
)

DECLINES = {"tok_decline_funds": "insufficient_funds", "tok_decline_fraud": "suspected_fraud"}


def _code(prefix: str, key: str) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:12].upper()


class SandboxGateway:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, Approved | Declined] = {}
        self._amounts: dict[str, Money] = {}  # auth code -> amount authorised
        self._calls: dict[str, int] = {}
        self._references: dict[str, str] = {}  # capture/void/refund key -> reference
        self._approvals = 0

    def authorize(self, request: AuthorizationRequest) -> Approved | Declined:
        key = request.idempotency_key
        with self._lock:
            self._calls[key] = self._calls.get(key, 0) + 1
            known = self._outcomes.get(key)
            if known is not None:
                return known
            if request.token == "tok_timeout":
                raise GatewayTimeout("sandbox: no answer (tok_timeout)")
            if request.token == "tok_transient_then_approve" and self._calls[key] == 1:
                raise GatewayUnavailable("sandbox: temporarily unavailable")
            outcome: Approved | Declined
            if request.token in DECLINES:
                outcome = Declined(DECLINES[request.token])
            else:
                outcome = Approved(_code("SBX", key))
                self._amounts[outcome.auth_code] = request.amount
                self._approvals += 1
            self._outcomes[key] = outcome
            return outcome

    def capture(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        self._check_amount(auth_code, amount)
        return self._reference("CAP", idempotency_key)

    def void(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        return self._reference("VOI", idempotency_key)

    def refund(self, auth_code: str, amount: Money, idempotency_key: str) -> str:
        self._check_amount(auth_code, amount)
        return self._reference("REF", idempotency_key)

    def calls(self, idempotency_key: str) -> int:
        """How often `authorize` was called with this key (for tests and the curious)."""
        with self._lock:
            return self._calls.get(idempotency_key, 0)

    def authorizations(self) -> int:
        """How many authorisations were approved (a repeated key approves nothing new)."""
        with self._lock:
            return self._approvals

    def _check_amount(self, auth_code: str, amount: Money) -> None:
        with self._lock:
            authorised = self._amounts.get(auth_code)
        # An unknown code is accepted: this process may have restarted since it approved it.
        if authorised is not None and (
            amount.currency != authorised.currency or amount.amount > authorised.amount
        ):
            raise GatewayRefused(f"sandbox: {amount} exceeds the authorisation of {authorised}")
        if amount.amount <= Decimal(0):
            raise GatewayRefused("sandbox: the amount must be positive")

    def _reference(self, prefix: str, key: str) -> str:
        with self._lock:
            return self._references.setdefault(key, _code(prefix, key))
