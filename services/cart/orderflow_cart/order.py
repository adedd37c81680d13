"""The order: what was bought, and the facts of its saga as other services report them.

Events of one order arrive in any order across topics (stock may be reserved
before the authorisation arrives, in theory delivered before shipped). The order
keeps each fact once, an append-only history in arrival order, and a status
derived from everything recorded (`status.derive_status`). The cart owns the
order's end: it cancels (on a declined payment, missing stock, or fulfillment's
`ShipmentStopped` answer to a cancellation request), asks for cancellation (the
customer, a missed deadline), flags overdue orders after shipment, and follows
returns and refunds.

Every command that changes the status also records `StatusChanged` (the moment
the order entered its status: deadlines run from it; the read model follows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from orderflow_events import (
    CancellationRequested,
    CancelReason,
    OrderCancelled,
    OrderPlaced,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    Shipped,
)
from orderflow_runtime.context import TracedAggregate

from orderflow_cart.domain import ConflictError, UnacceptableError
from orderflow_cart.status import (
    BEFORE_SHIPMENT,
    HAPPY_PATH,
    OPEN_RETURNS,
    PROBLEM_FACTS,
    STAGE_OF_FACT,
    TERMINAL,
    CancelOutcome,
    DeadlineAction,
    Fact,
    OrderStatus,
    ReturnStatus,
    derive_status,
    furthest_stage,
    quantities,
    stage_rank,
)

__all__ = ["HAPPY_PATH", "STAGE_OF_FACT", "Fact", "Order", "OrderStatus", "stage_rank"]


class TooLateToCancelError(ConflictError):
    """The parcel left: the order can only be returned."""


def _now() -> datetime:
    return datetime.now(UTC)


class Order(TracedAggregate):
    """An order, made by checkout (id = the order id) and followed through its saga."""

    class Placed(TracedAggregate.Created):
        order_id: UUID
        cart_id: UUID
        customer_email: str
        lines: list[dict[str, Any]]
        currency: str
        subtotal: Decimal
        shipping_fee: Decimal
        tax: Decimal
        total: Decimal
        shipping_address: dict[str, str | None]
        shipping_method: str
        payment: dict[str, str]
        placed_at: datetime

    class FactRecorded(TracedAggregate.Event):
        fact: str
        at: datetime
        ce_type: str
        details: dict[str, Any]

    class StatusChanged(TracedAggregate.Event):
        status: str
        since: datetime

    class CancellationRequested(TracedAggregate.Event):
        reason: str
        detail: str | None
        at: datetime

    class CancellationRefused(TracedAggregate.Event):
        at: datetime

    class Cancelled(TracedAggregate.Event):
        reason: str
        detail: str | None
        at: datetime

    class FlaggedOverdue(TracedAggregate.Event):
        status: str
        deadline_at: datetime
        at: datetime

    class ReturnRequested(TracedAggregate.Event):
        return_id: UUID
        lines: list[dict[str, Any]]
        reason: str
        at: datetime

    class ReturnAuthorized(TracedAggregate.Event):
        return_id: UUID
        rma: str
        label: dict[str, Any]
        lines: list[dict[str, Any]]
        at: datetime

    class ReturnRejected(TracedAggregate.Event):
        return_id: UUID
        reason: str
        at: datetime

    class ReturnReceived(TracedAggregate.Event):
        return_id: UUID
        rma: str
        lines: list[dict[str, Any]]
        at: datetime

    class RefundRecorded(TracedAggregate.Event):
        refund_id: UUID
        amount: Decimal
        return_id: UUID | None
        at: datetime

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return order_id

    @event(Placed)
    def __init__(
        self,
        order_id: UUID,
        cart_id: UUID,
        customer_email: str,
        lines: list[dict[str, Any]],
        currency: str,
        subtotal: Decimal,
        shipping_fee: Decimal,
        tax: Decimal,
        total: Decimal,
        shipping_address: dict[str, str | None],
        shipping_method: str,
        payment: dict[str, str],
        placed_at: datetime,
    ) -> None:
        """`lines`: sku, name, quantity, unit_price (Decimal), attributes, weight_grams."""
        self.cart_id = cart_id
        self.customer_email = customer_email
        self.lines = lines
        self.currency = currency
        self.subtotal = subtotal
        self.shipping_fee = shipping_fee
        self.tax = tax
        self.total = total
        self.shipping_address = shipping_address
        self.shipping_method = shipping_method
        self.payment = payment  # token, brand, last4: never a card number
        self.placed_at = placed_at
        self.status = OrderStatus.PLACED
        self.status_since = placed_at
        self.reported_status = OrderStatus.PLACED  # the status of the last StatusChanged
        self.overdue = False  # flagged in the current status
        self.facts: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.cancel_request: dict[str, Any] | None = None
        self.cancel_refused_at: datetime | None = None
        self.cancelled: dict[str, Any] | None = None
        self.returns: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._append_history("placed", placed_at, OrderPlaced.ce_type)

    # -- facts reported by other services

    def record(
        self, fact: Fact, *, at: datetime, ce_type: str, details: dict[str, Any] | None = None
    ) -> bool:
        """Record a fact once; a repeat (a second authorisation...) is a no-op: False.

        A shipment refuses a cancellation still waiting for fulfillment's answer.
        """
        if fact in self.facts:
            return False
        self._fact_recorded(fact=fact.value, at=at, ce_type=ce_type, details=details or {})
        if self.shipped and self._cancellation_pending:
            self._cancellation_refused(at=at)
        self._sync_status()
        return True

    @event(FactRecorded)
    def _fact_recorded(
        self, fact: str, at: datetime, ce_type: str, details: dict[str, Any]
    ) -> None:
        self.facts[fact] = {"at": at, "ce_type": ce_type, "details": details}
        self._append_history(fact, at, ce_type)

    def has(self, fact: Fact) -> bool:
        return fact in self.facts

    def details(self, fact: Fact) -> dict[str, Any] | None:
        recorded = self.facts.get(fact)
        return None if recorded is None else dict(recorded["details"])

    @property
    def shipped(self) -> bool:
        """The parcel left (a delivery implies it, whatever arrived first)."""
        return Fact.SHIPPED in self.facts or Fact.DELIVERED in self.facts

    @property
    def _cancellation_pending(self) -> bool:
        return (
            self.cancel_request is not None
            and self.cancel_refused_at is None
            and self.cancelled is None
        )

    @property
    def problems(self) -> list[dict[str, Any]]:
        """The refusals reported (declined payment, stock short), in arrival order."""
        return [
            {"fact": entry["fact"], "at": entry["at"], **self.facts[entry["fact"]]["details"]}
            for entry in self.history
            if entry["fact"] in PROBLEM_FACTS
        ]

    # -- cancellation

    def request_cancellation(
        self, reason: CancelReason, detail: str | None, *, at: datetime
    ) -> CancelOutcome:
        """Ask fulfillment to stop the order (once); refused once the parcel left."""
        if self.cancelled is not None:
            return CancelOutcome.ALREADY_CANCELLED
        if self.shipped:
            raise TooLateToCancelError(
                f"order {self.id} has shipped: it cannot be cancelled, return it instead"
            )
        if self.cancel_request is not None:
            return CancelOutcome.ALREADY_REQUESTED
        self._cancellation_requested(reason=reason.value, detail=detail, at=at)
        return CancelOutcome.REQUESTED

    @event(CancellationRequested)
    def _cancellation_requested(self, reason: str, detail: str | None, at: datetime) -> None:
        self.cancel_request = {"reason": reason, "detail": detail, "at": at}
        self._append_history("cancellation_requested", at, CancellationRequested.ce_type)

    @event(CancellationRefused)
    def _cancellation_refused(self, at: datetime) -> None:
        self.cancel_refused_at = at
        self._append_history("cancellation_refused", at, Shipped.ce_type)

    def cancel(self, reason: CancelReason, detail: str | None, *, at: datetime) -> bool:
        """Cancel before shipment (once): False when cancelled already or shipped."""
        if self.cancelled is not None or self.shipped:
            return False
        self._cancelled(reason=reason.value, detail=detail, at=at)
        self._sync_status()
        return True

    def cancel_as_requested(self, *, at: datetime) -> bool:
        """Fulfillment stopped the order: cancel it for the reason it was asked for."""
        request = self.cancel_request
        reason = CancelReason(request["reason"]) if request else CancelReason.CUSTOMER
        return self.cancel(reason, request["detail"] if request else None, at=at)

    @event(Cancelled)
    def _cancelled(self, reason: str, detail: str | None, at: datetime) -> None:
        self.cancelled = {"reason": reason, "detail": detail, "at": at}
        self._append_history("cancelled", at, OrderCancelled.ce_type)

    # -- deadlines

    def deadline_at(self, deadlines: Mapping[OrderStatus, timedelta]) -> datetime | None:
        """When the current status runs out (None: a terminal status, or no deadline)."""
        deadline = deadlines.get(self.status)
        if self.status in TERMINAL or deadline is None:
            return None
        return self.status_since + deadline

    def enforce_deadline(
        self, now: datetime, deadlines: Mapping[OrderStatus, timedelta]
    ) -> DeadlineAction:
        """Past its deadline, ask to cancel (before shipment) or flag it (after), once."""
        deadline_at = self.deadline_at(deadlines)
        if deadline_at is None or now < deadline_at:
            return DeadlineAction.NONE
        if self.status in BEFORE_SHIPMENT:
            if self.cancel_request is not None:  # never two requests for one order
                return DeadlineAction.NONE
            detail = f"still {self.status.value} at its deadline {deadline_at.isoformat()}"
            self._cancellation_requested(reason=CancelReason.EXPIRED.value, detail=detail, at=now)
            return DeadlineAction.CANCELLATION_REQUESTED
        if self.overdue:
            return DeadlineAction.NONE
        self._flagged_overdue(status=self.status.value, deadline_at=deadline_at, at=now)
        return DeadlineAction.FLAGGED_OVERDUE

    @event(FlaggedOverdue)
    def _flagged_overdue(self, status: str, deadline_at: datetime, at: datetime) -> None:
        self.overdue = True
        self._append_history("overdue", at, None)

    # -- returns and refunds

    def request_return(
        self, return_id: UUID, lines: Mapping[str, int], reason: str, *, at: datetime
    ) -> bool:
        """Ask to return shipped units; fulfillment decides. False: asked before (same id)."""
        if self.cancelled is not None:
            raise ConflictError(f"order {self.id} is cancelled: there is nothing to return")
        if not self.shipped:
            raise ConflictError(f"order {self.id} has not shipped yet: cancel it instead")
        self._check_return_lines(lines)
        if str(return_id) in self.returns:
            return False
        records = [{"sku": sku, "quantity": quantity} for sku, quantity in lines.items()]
        self._return_requested(return_id=return_id, lines=records, reason=reason, at=at)
        self._sync_status()
        return True

    def _check_return_lines(self, lines: Mapping[str, int]) -> None:
        if not lines:
            raise UnacceptableError("a return needs at least one line")
        ordered = self.ordered
        for sku, quantity in lines.items():
            if sku not in ordered:
                raise UnacceptableError(f"{sku} is not in order {self.id}")
            if not 1 <= quantity <= ordered[sku]:
                raise UnacceptableError(
                    f"{sku}: {quantity} units cannot be returned, {ordered[sku]} were ordered"
                )

    @event(ReturnRequested)
    def _return_requested(
        self, return_id: UUID, lines: list[dict[str, Any]], reason: str, at: datetime
    ) -> None:
        record = self._return(return_id)
        record.update(status=ReturnStatus.REQUESTED.value, lines=lines, reason=reason)
        record["requested_at"] = at
        self._append_history("return_requested", at, ReturnRequested.ce_type)

    def authorize_return(
        self,
        return_id: UUID,
        rma: str,
        label: dict[str, Any],
        lines: list[dict[str, Any]],
        *,
        at: datetime,
    ) -> bool:
        known = self.returns.get(str(return_id))
        if known is not None and known["status"] != ReturnStatus.REQUESTED:
            return False
        self._return_authorized(return_id=return_id, rma=rma, label=label, lines=lines, at=at)
        self._sync_status()
        return True

    @event(ReturnAuthorized)
    def _return_authorized(
        self,
        return_id: UUID,
        rma: str,
        label: dict[str, Any],
        lines: list[dict[str, Any]],
        at: datetime,
    ) -> None:
        record = self._return(return_id, lines)
        record.update(status=ReturnStatus.AUTHORIZED.value, rma=rma, label=label)
        record["authorized_lines"] = lines
        self._append_history("return_authorized", at, ReturnAuthorized.ce_type)

    def reject_return(self, return_id: UUID, reason: str, *, at: datetime) -> bool:
        known = self.returns.get(str(return_id))
        if known is not None and known["status"] not in OPEN_RETURNS:
            return False
        self._return_rejected(return_id=return_id, reason=reason, at=at)
        self._sync_status()
        return True

    @event(ReturnRejected)
    def _return_rejected(self, return_id: UUID, reason: str, at: datetime) -> None:
        record = self._return(return_id)
        record.update(status=ReturnStatus.REJECTED.value, rejection=reason)
        self._append_history("return_rejected", at, ReturnRejected.ce_type)

    def receive_return(
        self, return_id: UUID, rma: str, lines: list[dict[str, Any]], *, at: datetime
    ) -> bool:
        """The warehouse got the parcel: `lines` are sku, quantity and condition."""
        known = self.returns.get(str(return_id))
        if known is not None and known["status"] == ReturnStatus.RECEIVED:
            return False
        self._return_received(return_id=return_id, rma=rma, lines=lines, at=at)
        self._sync_status()
        return True

    @event(ReturnReceived)
    def _return_received(
        self, return_id: UUID, rma: str, lines: list[dict[str, Any]], at: datetime
    ) -> None:
        record = self._return(return_id, lines)
        record.update(status=ReturnStatus.RECEIVED.value, rma=rma, received=lines)
        self._append_history("return_received", at, ReturnReceived.ce_type)

    def _return(self, return_id: UUID, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The return's record; one unknown to cart (bad ordering, lost request) is made."""
        fresh = {
            "return_id": return_id,
            "status": ReturnStatus.REQUESTED.value,
            "lines": [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in lines or []],
            "reason": None,
            "requested_at": None,
            "rma": None,
            "label": None,
            "rejection": None,
            "received": [],
            "refunded": Decimal(0),
        }
        return self.returns.setdefault(str(return_id), fresh)

    def record_refund(
        self, refund_id: UUID, amount: Decimal, return_id: UUID | None, *, at: datetime
    ) -> bool:
        if str(refund_id) in self.refunds:
            return False
        self._refund_recorded(refund_id=refund_id, amount=amount, return_id=return_id, at=at)
        self._sync_status()
        return True

    @event(RefundRecorded)
    def _refund_recorded(
        self, refund_id: UUID, amount: Decimal, return_id: UUID | None, at: datetime
    ) -> None:
        self.refunds[str(refund_id)] = {
            "refund_id": refund_id,
            "amount": amount,
            "return_id": return_id,
            "at": at,
        }
        if return_id is not None and str(return_id) in self.returns:
            self.returns[str(return_id)]["refunded"] += amount
        self._append_history("payment_refunded", at, PaymentRefunded.ce_type)

    @property
    def refunded(self) -> Decimal:
        return sum((refund["amount"] for refund in self.refunds.values()), Decimal(0))

    @property
    def ordered(self) -> dict[str, int]:
        return quantities(self.lines)

    @property
    def shipped_quantities(self) -> dict[str, int]:
        """Units in the parcel (as Shipped said; the order's lines if it did not say)."""
        shipped = self.facts.get(Fact.SHIPPED, {}).get("details", {}).get("lines")
        return quantities(shipped) if shipped else self.ordered

    @property
    def returned(self) -> dict[str, int]:
        """Units received back, per sku, whatever their condition."""
        return quantities(line for r in self.returns.values() for line in r["received"])

    # -- status

    def _derived_status(self) -> OrderStatus:
        return derive_status(
            furthest_stage(self.facts),
            cancelled=self.cancelled is not None,
            open_returns=any(r["status"] in OPEN_RETURNS for r in self.returns.values()),
            shipped=self.shipped_quantities,
            returned=self.returned,
        )

    def _sync_status(self) -> None:
        if self.status != self.reported_status:
            self._status_changed(status=self.status.value, since=_now())

    @event(StatusChanged)
    def _status_changed(self, status: str, since: datetime) -> None:
        self.reported_status = OrderStatus(status)
        self.status_since = since
        self.overdue = False

    def _append_history(self, fact: str, at: datetime, ce_type: str | None) -> None:
        self.status = self._derived_status()
        self.history.append({"fact": fact, "status": self.status, "at": at, "ce_type": ce_type})
