"""The sandbox gateway: outcomes by token, remembered by idempotency key."""

from __future__ import annotations

import pytest
from orderflow_events import Money
from orderflow_payment.gateway import (
    Approved,
    AuthorizationRequest,
    Declined,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
)
from orderflow_payment.sandbox import SandboxGateway

EUR_10 = Money.of("10.00", "EUR")


def request(token: str, key: str = "order-1") -> AuthorizationRequest:
    return AuthorizationRequest(idempotency_key=key, amount=EUR_10, token=token)


@pytest.mark.parametrize(
    ("token", "reason"),
    [("tok_decline_funds", "insufficient_funds"), ("tok_decline_fraud", "suspected_fraud")],
)
def test_decline_tokens_decline_with_their_reason(token: str, reason: str) -> None:
    assert SandboxGateway().authorize(request(token)) == Declined(reason)


@pytest.mark.parametrize("token", ["tok_approve", "tok_anything_else"])
def test_other_tokens_approve(token: str) -> None:
    outcome = SandboxGateway().authorize(request(token))
    assert isinstance(outcome, Approved)
    assert outcome.auth_code


def test_a_repeated_key_gets_the_same_answer_and_one_authorisation() -> None:
    gateway = SandboxGateway()
    first = gateway.authorize(request("tok_approve"))
    again = gateway.authorize(request("tok_approve"))
    other = gateway.authorize(request("tok_approve", key="order-2"))
    assert again == first
    assert other != first
    assert gateway.authorizations() == 2
    assert gateway.calls("order-1") == 2


def test_transient_token_fails_once_per_key_then_approves() -> None:
    gateway = SandboxGateway()
    with pytest.raises(GatewayUnavailable):
        gateway.authorize(request("tok_transient_then_approve"))
    assert isinstance(gateway.authorize(request("tok_transient_then_approve")), Approved)
    assert isinstance(gateway.authorize(request("tok_transient_then_approve")), Approved)
    assert gateway.authorizations() == 1


def test_timeout_token_always_times_out_and_authorises_nothing() -> None:
    gateway = SandboxGateway()
    for _ in range(3):
        with pytest.raises(GatewayTimeout):
            gateway.authorize(request("tok_timeout"))
    assert gateway.authorizations() == 0


def test_capture_is_idempotent_and_bounded_by_the_authorisation() -> None:
    gateway = SandboxGateway()
    outcome = gateway.authorize(request("tok_approve"))
    assert isinstance(outcome, Approved)
    reference = gateway.capture(outcome.auth_code, EUR_10, "order-1:capture")
    assert gateway.capture(outcome.auth_code, EUR_10, "order-1:capture") == reference
    with pytest.raises(GatewayRefused):
        gateway.capture(outcome.auth_code, Money.of("10.01", "EUR"), "order-1:capture-more")
