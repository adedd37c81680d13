"""The Payment aggregate's guards: one authorisation, captured <= authorized, no capture
after a void, refunds <= captured."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from orderflow_payment.domain import Card, Payment, PaymentStateError, PaymentStatus

CARD = Card(token="tok_approve", brand="visa", last4="4242")


def authorised_payment() -> Payment:
    payment = Payment(uuid.uuid4())
    payment.authorize(
        amount=Decimal("53.19"), currency="EUR", card=CARD, auth_code="A1", attempts=1
    )
    return payment


def test_the_id_is_derived_from_the_order() -> None:
    order_id = uuid.uuid4()
    assert Payment(order_id).id == Payment.create_id(order_id) != Payment.create_id(uuid.uuid4())


def test_a_second_authorisation_is_refused() -> None:
    payment = authorised_payment()
    with pytest.raises(PaymentStateError):
        payment.authorize(
            amount=Decimal("1.00"), currency="EUR", card=CARD, auth_code="A2", attempts=1
        )
    with pytest.raises(PaymentStateError):
        payment.decline(amount=Decimal("1.00"), currency="EUR", card=CARD, reason="x", attempts=1)
    assert (payment.authorized, payment.auth_code) == (Decimal("53.19"), "A1")


def test_capture_takes_the_authorised_amount_once() -> None:
    payment = authorised_payment()
    payment.capture(shipment_id=uuid.uuid4(), reference="C1")
    assert payment.status is PaymentStatus.CAPTURED
    assert payment.captured == payment.authorized
    with pytest.raises(PaymentStateError):
        payment.capture(shipment_id=uuid.uuid4(), reference="C2")


def test_a_voided_payment_is_never_captured() -> None:
    payment = authorised_payment()
    payment.void(reference="V1")
    with pytest.raises(PaymentStateError):
        payment.capture(shipment_id=uuid.uuid4(), reference="C1")
    assert payment.captured == 0


def test_nothing_is_captured_or_voided_without_an_authorisation() -> None:
    payment = Payment(uuid.uuid4())
    with pytest.raises(PaymentStateError):
        payment.capture(shipment_id=uuid.uuid4(), reference="C1")
    with pytest.raises(PaymentStateError):
        payment.void(reference="V1")


def test_refunds_never_exceed_the_capture() -> None:
    payment = authorised_payment()
    payment.capture(shipment_id=uuid.uuid4(), reference="C1")
    payment.refund(refund_id=uuid.uuid4(), amount=Decimal("50.00"), reference="R1")
    assert payment.status is PaymentStatus.CAPTURED
    with pytest.raises(PaymentStateError):
        payment.refund(refund_id=uuid.uuid4(), amount=Decimal("3.20"), reference="R2")
    payment.refund(refund_id=uuid.uuid4(), amount=Decimal("3.19"), reference="R2")
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, Decimal("53.19"))


def test_a_cancel_before_the_order_blocks_a_later_authorisation() -> None:
    payment = Payment(uuid.uuid4())
    payment.record_cancel("customer")
    assert not payment.awaits_authorization
    with pytest.raises(PaymentStateError):
        payment.authorize(
            amount=Decimal("1.00"), currency="EUR", card=CARD, auth_code="A1", attempts=1
        )


def test_state_rebuilt_from_the_events_equals_the_live_state() -> None:
    payment = authorised_payment()
    payment.capture(shipment_id=uuid.uuid4(), reference="C1")
    payment.refund(refund_id=uuid.uuid4(), amount=Decimal("10.00"), reference="R1")
    events = payment.collect_events()
    rebuilt: Payment | None = None
    for domain_event in events:
        rebuilt = domain_event.mutate(rebuilt)
    assert rebuilt is not None
    assert vars(rebuilt) == vars(payment)
