"""The payment steps that talk to the gateway: authorise, capture, void and refund
(of a cancel after capture, and of each received return).

Each step calls the gateway with one idempotency key per order and step, retries
transient errors a few times with backoff (the same key every time), then records
the outcome on the Payment. An authorisation that keeps failing ends declined; a
capture, void or refund that keeps failing raises, so the inbox retries the record
and finally dead-letters it for operators (the key makes every retry safe).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID, uuid5

from orderflow_events import Money, OrderPlaced, ReturnReceived
from orderflow_runtime.logs import get_logger

from orderflow_payment.domain import NAMESPACE, Card, Payment, PaymentStatus
from orderflow_payment.gateway import Approved, AuthorizationRequest, Gateway, GatewayError
from orderflow_payment.refunds import RefundShipping, refund_for_return, units

T = TypeVar("T")
log = get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_delay_s: float = 0.1
    max_delay_s: float = 1.0


class GaveUpError(Exception):
    """Every attempt of a gateway call failed transiently; `last` is the final error."""

    def __init__(self, last: GatewayError, attempts: int) -> None:
        super().__init__(f"gateway failed {attempts} time(s): {last.code}")
        self.last = last
        self.attempts = attempts


def with_retries(
    call: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None]
) -> tuple[T, int]:
    """`call()`'s result and the attempts it took; raises GaveUpError after the last one."""
    delay = policy.initial_delay_s
    for attempt in range(1, policy.attempts + 1):
        try:
            return call(), attempt
        except GatewayError as error:
            log.warning("gateway call failed", error=error.code, attempt=attempt)
            if attempt == policy.attempts:
                raise GaveUpError(error, attempt) from error
        sleep(delay)
        delay = min(delay * 2, policy.max_delay_s)
    raise ValueError("RetryPolicy.attempts must be at least 1")


class PaymentProcessor:
    """Runs the gateway side of each step for the handlers (it never saves: the inbox does)."""

    def __init__(
        self,
        gateway: Gateway,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        *,
        refund_shipping: RefundShipping = "never",
    ) -> None:
        self._gateway = gateway
        self._policy = policy
        self._sleep = sleep
        self._refund_shipping: RefundShipping = refund_shipping

    def authorize(self, payment: Payment, placed: OrderPlaced) -> None:
        """Authorise the order's total once; a parked capture follows at once."""
        card = Card(placed.payment.token, placed.payment.brand, placed.payment.last4)
        total = placed.total
        # The order id is the key: a re-run after a failed batch gets the same answer.
        request = AuthorizationRequest(str(placed.order_id), total, card.token)
        try:
            outcome, attempts = with_retries(
                lambda: self._gateway.authorize(request), self._policy, self._sleep
            )
        except GaveUpError as gave_up:
            payment.decline(
                amount=total.amount,
                currency=total.currency,
                card=card,
                reason=gave_up.last.code,
                attempts=gave_up.attempts,
            )
        else:
            if isinstance(outcome, Approved):
                payment.authorize(
                    amount=total.amount,
                    currency=total.currency,
                    card=card,
                    auth_code=outcome.auth_code,
                    attempts=attempts,
                )
            else:
                payment.decline(
                    amount=total.amount,
                    currency=total.currency,
                    card=card,
                    reason=reason_code(outcome.reason),
                    attempts=attempts,
                )
        log.info("authorisation settled", status=str(payment.status))
        if payment.parked_capture is not None:
            self.capture(payment, payment.parked_capture)

    def capture(self, payment: Payment, shipment_id: UUID) -> None:
        """Capture the authorised amount once; a payment not authorised never captures."""
        if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
            log.info("already captured; Shipped ignored")
            return
        if payment.status is not PaymentStatus.AUTHORIZED:
            log.warning("Shipped for a payment without authorisation", status=str(payment.status))
            payment.ignore_capture(shipment_id)
            return
        reference = self._call(
            lambda: self._gateway.capture(
                _auth_code(payment), _amount(payment), f"{payment.order_id}:capture"
            )
        )
        payment.capture(shipment_id=shipment_id, reference=reference)
        for return_id in payment.pending_returns:  # received before this (parked) capture
            self._refund_return(payment, return_id, payment.returns[return_id].lines)

    def void(self, payment: Payment) -> None:
        reference = self._call(
            lambda: self._gateway.void(
                _auth_code(payment), _amount(payment), f"{payment.order_id}:void"
            )
        )
        payment.void(reference=reference)

    def refund_all(self, payment: Payment) -> None:
        """Refund whatever is still captured (a cancel after capture)."""
        refund_id = uuid5(NAMESPACE, f"refund:{payment.order_id}:cancel")
        amount = payment.refundable
        money = Money(amount=amount, currency=payment.held_currency)
        reference = self._call(
            lambda: self._gateway.refund(
                _auth_code(payment), money, f"{payment.order_id}:refund:{refund_id}"
            )
        )
        payment.refund(refund_id=refund_id, amount=amount, reference=reference)

    def settle_return(self, payment: Payment, received: ReturnReceived) -> None:
        """Refund a received return's units once; without a capture, only record it."""
        lines = [{"sku": line.sku, "quantity": line.quantity} for line in received.lines]
        if payment.status is PaymentStatus.CAPTURED:
            self._refund_return(payment, received.return_id, lines)
            return
        # Shipped was parked (OPEN) or its capture failed (AUTHORIZED): it may still come.
        pending = payment.status in (PaymentStatus.OPEN, PaymentStatus.AUTHORIZED)
        log.warning("return received for a payment not captured", status=str(payment.status))
        note = f"received while {payment.status}" + (": refund after capture" if pending else "")
        payment.record_return(return_id=received.return_id, lines=lines, pending=pending, note=note)

    def _refund_return(
        self, payment: Payment, return_id: UUID, lines: list[dict[str, Any]]
    ) -> None:
        if payment.prices is None:
            log.error("no prices known for the order: return not refunded")
            payment.record_return(
                return_id=return_id, lines=lines, pending=False, note="prices unknown"
            )
            return
        earlier = (r.lines for i, r in payment.returns.items() if i != return_id)
        before = units(line for lines_ in earlier for line in lines_)
        due = refund_for_return(
            payment.prices,
            units(lines),
            before,
            policy=self._refund_shipping,
            shipping_refunded=payment.shipping_refunded,
        )
        if due.unpriced:
            log.warning("returned skus not in the order: not refunded", skus=due.unpriced)
        amount = min(due.amount, payment.refundable)
        if amount < due.amount:
            log.warning("refund clipped to what is left", due=str(due.amount), left=str(amount))
        if amount <= 0:
            payment.record_return(
                return_id=return_id, lines=lines, pending=False, note="nothing left to refund"
            )
            return
        refund_id = uuid5(NAMESPACE, f"refund:{return_id}")
        money = Money(amount=amount, currency=payment.held_currency)
        reference = self._call(
            lambda: self._gateway.refund(_auth_code(payment), money, str(refund_id))
        )
        payment.refund_return(
            return_id=return_id,
            refund_id=refund_id,
            lines=lines,
            amount=amount,
            shipping=due.shipping,
            reference=reference,
        )
        log.info("return refunded", return_id=str(return_id), amount=str(money))

    def _call(self, call: Callable[[], str]) -> str:
        try:
            result, _ = with_retries(call, self._policy, self._sleep)
        except GaveUpError as gave_up:
            raise gave_up.last from gave_up  # the inbox retries the record, then dead-letters it
        return result


def reason_code(reason: str) -> str:
    """The gateway's reason as a contract code (snake_case, at most 64 characters).

    A stored reason the relay cannot publish would stall the relay, so it is made
    valid here, before it is stored.
    """
    code = re.sub(r"[^a-z0-9_]+", "_", reason.strip().lower()).strip("_")[:64]
    return code if code[:1].isalpha() else f"declined_{code}"[:64].rstrip("_")


def _auth_code(payment: Payment) -> str:
    if payment.auth_code is None:
        raise ValueError(f"payment of order {payment.order_id} has no auth code")
    return payment.auth_code


def _amount(payment: Payment) -> Money:
    return Money(amount=payment.authorized, currency=payment.held_currency)
