"""The Payment aggregate: one authorisation per order, then capture, void or refund.

It also keeps the order's prices (for refunds of returned lines) and every return
received: refunded, or recorded without a refund (nothing captured, nothing left).
A return recorded while a capture may still come (Shipped was parked) is pending:
it is refunded right after the capture.

Guards live in the public methods; the `@event` methods only change state, because
they run again whenever the aggregate is rebuilt from its events. The order id is
in every event so that the relay can map each one on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

NAMESPACE = UUID("5d0c3a1e-9b7e-4c55-8f0e-2a6b1c4d7e01")


class PaymentStatus(StrEnum):
    OPEN = "open"
    """Known only from a Shipped or cancel that came before its OrderPlaced."""
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    """Cancelled before any authorisation: a later OrderPlaced authorises nothing."""


class PaymentStateError(Exception):
    """A step the payment's state does not allow: a caller's bug, never a customer's."""


@dataclass(frozen=True)
class Prices:
    """What the order charged, from its OrderPlaced: the base of refunds for returns."""

    currency: str
    unit_prices: dict[str, Decimal]
    quantities: dict[str, int]
    subtotal: Decimal
    shipping_fee: Decimal
    tax: Decimal


@dataclass(frozen=True)
class RefundRecord:
    refund_id: UUID
    amount: Decimal
    return_id: UUID | None


@dataclass(frozen=True)
class ReturnRecord:
    """A received return as payment knows it."""

    lines: list[dict[str, Any]]
    """Units received ([{"sku", "quantity"}]), whatever their condition."""
    refund_id: UUID | None
    pending: bool
    """Recorded before a capture that may still come: refunded after it."""


@dataclass(frozen=True)
class Card:
    """What payment keeps of a card: the gateway token, brand and last four digits."""

    token: str
    brand: str
    last4: str


class Payment(TracedAggregate):
    """The money side of one order. Amounts are Decimals in `currency`."""

    class Opened(TracedAggregate.Created):
        order_id: UUID

    class Authorized(TracedAggregate.Event):
        order_id: UUID
        amount: Decimal
        currency: str
        token: str
        brand: str
        last4: str
        auth_code: str
        attempts: int

    class Declined(TracedAggregate.Event):
        order_id: UUID
        amount: Decimal
        currency: str
        token: str
        brand: str
        last4: str
        reason: str
        attempts: int

    class CaptureParked(TracedAggregate.Event):
        order_id: UUID
        shipment_id: UUID

    class Captured(TracedAggregate.Event):
        order_id: UUID
        amount: Decimal
        currency: str
        shipment_id: UUID
        reference: str

    class CaptureIgnored(TracedAggregate.Event):
        order_id: UUID
        shipment_id: UUID
        status: str

    class Voided(TracedAggregate.Event):
        order_id: UUID
        amount: Decimal
        currency: str
        reference: str

    class Refunded(TracedAggregate.Event):
        order_id: UUID
        refund_id: UUID
        amount: Decimal
        currency: str
        reference: str

    class CancelRecorded(TracedAggregate.Event):
        order_id: UUID
        reason: str

    class OrderPriced(TracedAggregate.Event):
        """What the customer was charged for, kept to refund returned lines."""

        order_id: UUID
        currency: str
        unit_prices: dict[str, Decimal]
        quantities: dict[str, int]
        subtotal: Decimal
        shipping_fee: Decimal
        tax: Decimal

    class ReturnRefunded(TracedAggregate.Event):
        order_id: UUID
        return_id: UUID
        refund_id: UUID
        lines: list[dict[str, Any]]
        amount: Decimal
        currency: str
        shipping: bool
        reference: str

    class ReturnRecorded(TracedAggregate.Event):
        order_id: UUID
        return_id: UUID
        lines: list[dict[str, Any]]
        pending: bool
        note: str

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return payment_id_of(order_id)

    @event(Opened)
    def __init__(self, order_id: UUID) -> None:
        self.order_id = order_id
        self.status = PaymentStatus.OPEN
        self.currency: str | None = None
        self.authorized = Decimal(0)
        self.captured = Decimal(0)
        self.refunded = Decimal(0)
        self.token: str | None = None
        self.brand: str | None = None
        self.last4: str | None = None
        self.auth_code: str | None = None
        self.auth_attempts = 0
        self.decline_reason: str | None = None
        self.parked_capture: UUID | None = None
        self.authorizations = 0
        self.prices: Prices | None = None
        self.refunds: list[RefundRecord] = []
        self.returns: dict[UUID, ReturnRecord] = {}
        self.shipping_refunded = False

    @property
    def awaits_authorization(self) -> bool:
        return self.status is PaymentStatus.OPEN

    def authorize(
        self, *, amount: Decimal, currency: str, card: Card, auth_code: str, attempts: int
    ) -> None:
        self._require(PaymentStatus.OPEN, "authorise")
        self._authorized(
            order_id=self.order_id,
            amount=amount,
            currency=currency,
            token=card.token,
            brand=card.brand,
            last4=card.last4,
            auth_code=auth_code,
            attempts=attempts,
        )

    def decline(
        self, *, amount: Decimal, currency: str, card: Card, reason: str, attempts: int
    ) -> None:
        self._require(PaymentStatus.OPEN, "decline")
        self._declined(
            order_id=self.order_id,
            amount=amount,
            currency=currency,
            token=card.token,
            brand=card.brand,
            last4=card.last4,
            reason=reason,
            attempts=attempts,
        )

    def park_capture(self, shipment_id: UUID) -> None:
        """Remember a Shipped that came before the authorisation; capture once authorised."""
        self._require(PaymentStatus.OPEN, "park a capture")
        self._capture_parked(order_id=self.order_id, shipment_id=shipment_id)

    def capture(self, *, shipment_id: UUID, reference: str) -> None:
        """Capture the whole authorisation (captured <= authorized, once)."""
        self._require(PaymentStatus.AUTHORIZED, "capture")
        self._captured(
            order_id=self.order_id,
            amount=self.authorized,
            currency=self.held_currency,
            shipment_id=shipment_id,
            reference=reference,
        )

    def ignore_capture(self, shipment_id: UUID) -> None:
        """Record a Shipped that must not capture (declined, voided or cancelled)."""
        self._capture_ignored(
            order_id=self.order_id, shipment_id=shipment_id, status=str(self.status)
        )

    def void(self, *, reference: str) -> None:
        self._require(PaymentStatus.AUTHORIZED, "void")
        self._voided(
            order_id=self.order_id,
            amount=self.authorized,
            currency=self.held_currency,
            reference=reference,
        )

    def refund(self, *, refund_id: UUID, amount: Decimal, reference: str) -> None:
        self._require(PaymentStatus.CAPTURED, "refund")
        if not Decimal(0) < amount <= self.refundable:
            raise PaymentStateError(f"cannot refund {amount}: {self.refundable} is refundable")
        self._refunded(
            order_id=self.order_id,
            refund_id=refund_id,
            amount=amount,
            currency=self.held_currency,
            reference=reference,
        )

    def record_prices(
        self,
        *,
        currency: str,
        unit_prices: dict[str, Decimal],
        quantities: dict[str, int],
        subtotal: Decimal,
        shipping_fee: Decimal,
        tax: Decimal,
    ) -> None:
        if self.prices is not None:
            raise PaymentStateError(f"the prices of order {self.order_id} are known already")
        self._order_priced(
            order_id=self.order_id,
            currency=currency,
            unit_prices=unit_prices,
            quantities=quantities,
            subtotal=subtotal,
            shipping_fee=shipping_fee,
            tax=tax,
        )

    def refund_return(
        self,
        *,
        return_id: UUID,
        refund_id: UUID,
        lines: list[dict[str, Any]],
        amount: Decimal,
        shipping: bool,
        reference: str,
    ) -> None:
        """Refund a received return once (refunded <= captured)."""
        self._require(PaymentStatus.CAPTURED, "refund a return of")
        known = self.returns.get(return_id)
        if known is not None and not known.pending:
            raise PaymentStateError(f"return {return_id} was settled already")
        if not Decimal(0) < amount <= self.refundable:
            raise PaymentStateError(f"cannot refund {amount}: {self.refundable} is refundable")
        self._return_refunded(
            order_id=self.order_id,
            return_id=return_id,
            refund_id=refund_id,
            lines=lines,
            amount=amount,
            currency=self.held_currency,
            shipping=shipping,
            reference=reference,
        )

    def record_return(
        self, *, return_id: UUID, lines: list[dict[str, Any]], pending: bool, note: str
    ) -> None:
        """A received return refunded with nothing (yet, when `pending`)."""
        known = self.returns.get(return_id)
        if known is not None and not known.pending:
            raise PaymentStateError(f"return {return_id} was settled already")
        self._return_recorded(
            order_id=self.order_id, return_id=return_id, lines=lines, pending=pending, note=note
        )

    @property
    def pending_returns(self) -> list[UUID]:
        return [return_id for return_id, r in self.returns.items() if r.pending]

    @property
    def voided(self) -> bool:
        return self.status is PaymentStatus.VOIDED

    def record_cancel(self, reason: str) -> None:
        """A cancel before any authorisation: nothing to release, nothing to authorise later."""
        self._require(PaymentStatus.OPEN, "record a cancel")
        self._cancel_recorded(order_id=self.order_id, reason=reason)

    @property
    def held_currency(self) -> str:
        """The currency of the authorisation (known once authorised or declined)."""
        if self.currency is None:
            raise PaymentStateError(f"the payment of order {self.order_id} has no currency yet")
        return self.currency

    @property
    def refundable(self) -> Decimal:
        return self.captured - self.refunded

    def _require(self, status: PaymentStatus, action: str) -> None:
        if self.status is not status:
            raise PaymentStateError(f"cannot {action} a payment that is {self.status}")

    @event(Authorized)
    def _authorized(
        self,
        order_id: UUID,
        amount: Decimal,
        currency: str,
        token: str,
        brand: str,
        last4: str,
        auth_code: str,
        attempts: int,
    ) -> None:
        self.status = PaymentStatus.AUTHORIZED
        self.authorized, self.currency, self.auth_code = amount, currency, auth_code
        self.token, self.brand, self.last4 = token, brand, last4
        self.auth_attempts = attempts
        self.authorizations += 1

    @event(Declined)
    def _declined(
        self,
        order_id: UUID,
        amount: Decimal,
        currency: str,
        token: str,
        brand: str,
        last4: str,
        reason: str,
        attempts: int,
    ) -> None:
        self.status = PaymentStatus.DECLINED
        self.currency, self.decline_reason = currency, reason
        self.token, self.brand, self.last4 = token, brand, last4
        self.auth_attempts = attempts

    @event(CaptureParked)
    def _capture_parked(self, order_id: UUID, shipment_id: UUID) -> None:
        self.parked_capture = shipment_id

    @event(Captured)
    def _captured(
        self, order_id: UUID, amount: Decimal, currency: str, shipment_id: UUID, reference: str
    ) -> None:
        self.status = PaymentStatus.CAPTURED
        self.captured = amount
        self.parked_capture = None

    @event(CaptureIgnored)
    def _capture_ignored(self, order_id: UUID, shipment_id: UUID, status: str) -> None:
        self.parked_capture = None

    @event(Voided)
    def _voided(self, order_id: UUID, amount: Decimal, currency: str, reference: str) -> None:
        self.status = PaymentStatus.VOIDED

    @event(Refunded)
    def _refunded(
        self, order_id: UUID, refund_id: UUID, amount: Decimal, currency: str, reference: str
    ) -> None:
        self._add_refund(RefundRecord(refund_id, amount, None))

    @event(CancelRecorded)
    def _cancel_recorded(self, order_id: UUID, reason: str) -> None:
        self.status = PaymentStatus.CANCELLED

    @event(OrderPriced)
    def _order_priced(
        self,
        order_id: UUID,
        currency: str,
        unit_prices: dict[str, Decimal],
        quantities: dict[str, int],
        subtotal: Decimal,
        shipping_fee: Decimal,
        tax: Decimal,
    ) -> None:
        self.prices = Prices(currency, unit_prices, quantities, subtotal, shipping_fee, tax)

    @event(ReturnRefunded)
    def _return_refunded(
        self,
        order_id: UUID,
        return_id: UUID,
        refund_id: UUID,
        lines: list[dict[str, Any]],
        amount: Decimal,
        currency: str,
        shipping: bool,
        reference: str,
    ) -> None:
        self.returns[return_id] = ReturnRecord(lines, refund_id, pending=False)
        self.shipping_refunded = self.shipping_refunded or shipping
        self._add_refund(RefundRecord(refund_id, amount, return_id))

    @event(ReturnRecorded)
    def _return_recorded(
        self, order_id: UUID, return_id: UUID, lines: list[dict[str, Any]], pending: bool, note: str
    ) -> None:
        self.returns[return_id] = ReturnRecord(lines, None, pending)

    def _add_refund(self, refund: RefundRecord) -> None:
        self.refunds = [*self.refunds, refund]
        self.refunded += refund.amount
        if self.refunded >= self.captured:
            self.status = PaymentStatus.REFUNDED


def payment_id_of(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"payment:{order_id}")
