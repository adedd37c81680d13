"""Stored Payment events -> the integration events on `payment.events` (others stay private)."""

from __future__ import annotations

from typing import Any

from orderflow_events import (
    IntegrationEvent,
    Money,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
)

from orderflow_payment.domain import Payment


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    match domain_event:
        case Payment.Authorized():
            return PaymentAuthorized(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                amount=Money(amount=domain_event.amount, currency=domain_event.currency),
                auth_code=domain_event.auth_code,
                brand=domain_event.brand,
                last4=domain_event.last4,
                authorized_at=domain_event.timestamp,
            )
        case Payment.Declined():
            return PaymentDeclined(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                reason=domain_event.reason,
                attempts=domain_event.attempts,
                declined_at=domain_event.timestamp,
            )
        case Payment.Captured():
            return PaymentCaptured(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                amount=Money(amount=domain_event.amount, currency=domain_event.currency),
                shipment_id=domain_event.shipment_id,
                captured_at=domain_event.timestamp,
            )
        case Payment.Voided():
            return PaymentVoided(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                amount=Money(amount=domain_event.amount, currency=domain_event.currency),
                voided_at=domain_event.timestamp,
            )
        case Payment.Refunded():
            return PaymentRefunded(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                refund_id=domain_event.refund_id,
                amount=Money(amount=domain_event.amount, currency=domain_event.currency),
                refunded_at=domain_event.timestamp,
            )
        case Payment.ReturnRefunded():
            return PaymentRefunded(
                order_id=domain_event.order_id,
                payment_id=domain_event.originator_id,
                refund_id=domain_event.refund_id,
                amount=Money(amount=domain_event.amount, currency=domain_event.currency),
                return_id=domain_event.return_id,
                refunded_at=domain_event.timestamp,
            )
    # Opened, CaptureParked, CaptureIgnored, CancelRecorded, OrderPriced, ReturnRecorded
    return None
