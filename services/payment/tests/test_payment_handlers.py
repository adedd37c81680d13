"""The handlers on a real store and unit of work: each upstream event -> the payment events.

`harness.deliver(event)` applies an event as the inbox would (its own unit of work,
then commit); `harness.published(Kind)` is what the relay would publish.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from orderflow_events import (
    Money,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
)
from orderflow_payment.domain import Payment
from orderflow_payment.processing import reason_code
from orderflow_runtime.uow import UnitOfWork

if TYPE_CHECKING:
    from conftest import Harness

TOTAL = Money.of("53.19", "EUR")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_an_approved_card_authorises_the_order_total(harness: Harness) -> None:
    order = harness.order("tok_approve")
    harness.deliver(order)
    [authorized] = harness.published(PaymentAuthorized)
    assert authorized.order_id == order.order_id
    assert authorized.payment_id == Payment.create_id(order.order_id)
    assert (authorized.amount, authorized.brand, authorized.last4) == (TOTAL, "visa", "4242")
    assert "tok_approve" not in authorized.model_dump_json()  # the token stays with payment
    assert harness.published(PaymentDeclined) == []


@pytest.mark.parametrize(
    ("token", "reason"),
    [("tok_decline_funds", "insufficient_funds"), ("tok_decline_fraud", "suspected_fraud")],
)
def test_a_declined_card_declines_the_order(harness: Harness, token: str, reason: str) -> None:
    harness.deliver(harness.order(token))
    [declined] = harness.published(PaymentDeclined)
    assert (declined.reason, declined.attempts) == (reason, 1)
    assert harness.published(PaymentAuthorized) == []


def test_a_transient_failure_is_retried_with_the_same_key(harness: Harness) -> None:
    order = harness.order("tok_transient_then_approve")
    harness.deliver(order)
    assert len(harness.published(PaymentAuthorized)) == 1
    assert harness.gateway.calls(str(order.order_id)) == 2
    assert harness.sleeps == [0.1]
    assert harness.app.payment(order.order_id).auth_attempts == 2  # type: ignore[union-attr]


def test_a_gateway_that_keeps_timing_out_declines_after_the_last_attempt(
    harness: Harness,
) -> None:
    order = harness.order("tok_timeout")
    harness.deliver(order)
    [declined] = harness.published(PaymentDeclined)
    assert (declined.reason, declined.attempts) == ("gateway_timeout", 3)
    assert harness.gateway.calls(str(order.order_id)) == 3
    assert harness.sleeps == [0.1, 0.15]  # doubling, capped at the maximum delay


def test_a_redelivered_order_is_authorised_once(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(order)
    harness.deliver(order)  # same event under a new ce_id: the inbox cannot tell
    assert len(harness.published(PaymentAuthorized)) == 1
    assert harness.gateway.calls(str(order.order_id)) == 1


def test_a_rerun_after_a_failed_batch_gets_the_same_authorisation(harness: Harness) -> None:
    order = harness.order()
    envelope = harness.envelope(order)
    handler = harness.handlers[envelope.type]
    handler(envelope, UnitOfWork(harness.app))  # applied, then the batch fails: no commit
    handler(envelope, uow := UnitOfWork(harness.app))
    uow.commit()
    assert len(harness.published(PaymentAuthorized)) == 1
    assert harness.gateway.calls(str(order.order_id)) == 2
    assert harness.gateway.authorizations() == 1


def test_shipped_captures_the_authorised_amount_once(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(order)
    harness.deliver(harness.shipped(order.order_id))
    harness.deliver(harness.shipped(order.order_id))
    [captured] = harness.published(PaymentCaptured)
    assert captured.amount == TOTAL
    assert captured.shipment_id == harness.shipped(order.order_id).shipment_id


def test_shipped_before_the_order_is_parked_and_captured_once_authorised(
    harness: Harness,
) -> None:
    order = harness.order()
    harness.deliver(harness.shipped(order.order_id))
    assert harness.published(PaymentCaptured) == []
    assert harness.app.payment(order.order_id).capture_parked  # type: ignore[union-attr]
    harness.deliver(order)
    assert len(harness.published(PaymentAuthorized)) == 1
    [captured] = harness.published(PaymentCaptured)
    assert captured.amount == TOTAL


def test_shipped_for_a_declined_payment_captures_nothing(harness: Harness) -> None:
    order = harness.order("tok_decline_funds")
    harness.deliver(order)
    harness.deliver(harness.shipped(order.order_id))
    assert harness.published(PaymentCaptured) == []
    assert harness.app.payment(order.order_id).status == "declined"  # type: ignore[union-attr]


def test_a_cancel_before_capture_voids_and_a_later_shipped_captures_nothing(
    harness: Harness,
) -> None:
    order = harness.order()
    harness.deliver(order)
    harness.deliver(harness.cancelled(order.order_id))
    harness.deliver(harness.shipped(order.order_id))
    [voided] = harness.published(PaymentVoided)
    assert voided.amount == TOTAL
    assert harness.published(PaymentCaptured) == []


def test_a_cancel_after_capture_refunds_the_full_amount(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(order)
    harness.deliver(harness.shipped(order.order_id))
    harness.deliver(harness.cancelled(order.order_id))
    harness.deliver(harness.cancelled(order.order_id))
    [refunded] = harness.published(PaymentRefunded)
    assert refunded.amount == TOTAL
    assert refunded.return_id is None
    assert harness.published(PaymentVoided) == []


def test_a_cancel_after_a_decline_releases_nothing(harness: Harness) -> None:
    order = harness.order("tok_decline_fraud")
    harness.deliver(order)
    harness.deliver(harness.cancelled(order.order_id, "payment_declined"))
    assert harness.published(PaymentVoided) == harness.published(PaymentRefunded) == []


def test_a_cancel_before_the_order_means_no_authorisation(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.cancelled(order.order_id))
    harness.deliver(order)
    assert harness.published(PaymentAuthorized) == []
    assert harness.gateway.calls(str(order.order_id)) == 0


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("insufficient_funds", "insufficient_funds"),
        ("Do Not Honor!", "do_not_honor"),
        ("05", "declined_05"),
        ("", "declined"),
    ],
)
def test_gateway_reasons_become_contract_codes(reason: str, code: str) -> None:
    # A stored reason the contract refuses would stall the relay for good.
    assert reason_code(reason) == code
    PaymentDeclined.model_validate(
        {"order_id": uuid.uuid4(), "payment_id": uuid.uuid4(), "reason": code, "declined_at": NOW}
    )
