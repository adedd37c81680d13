"""The payment store and its queries (the inbox handlers change payments; see handlers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from orderflow_runtime.store import EventStoreApplication

from orderflow_payment.domain import Payment, PaymentStatus, RefundRecord


@dataclass(frozen=True)
class PaymentView:
    """A payment as plain values (no token: brand and last4 are what anyone may see)."""

    order_id: UUID
    payment_id: UUID
    status: PaymentStatus
    currency: str | None
    authorized: Decimal
    captured: Decimal
    refunded: Decimal
    brand: str | None
    last4: str | None
    auth_attempts: int
    decline_reason: str | None
    capture_parked: bool
    voided: bool
    authorizations: int
    """Successful authorisations (the aggregate allows one)."""
    refunds: list[RefundRecord]
    returns: int
    """Returns received (refunded or not)."""


class PaymentApplication(EventStoreApplication):
    name = "Payment"

    def payment(self, order_id: UUID) -> PaymentView | None:
        """The order's payment, or None when payment has heard nothing of the order."""
        try:
            payment: object = self.repository.get(Payment.create_id(order_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(payment, Payment):
            raise TypeError(f"{Payment.create_id(order_id)} is not a Payment")
        return PaymentView(
            order_id=payment.order_id,
            payment_id=payment.id,
            status=payment.status,
            currency=payment.currency,
            authorized=payment.authorized,
            captured=payment.captured,
            refunded=payment.refunded,
            brand=payment.brand,
            last4=payment.last4,
            auth_attempts=payment.auth_attempts,
            decline_reason=payment.decline_reason,
            capture_parked=payment.parked_capture is not None,
            voided=payment.voided,
            authorizations=payment.authorizations,
            refunds=list(payment.refunds),
            returns=len(payment.returns),
        )
