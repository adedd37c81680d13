"""The rules of returns, as pure functions over what a Shipment knows: may these units come
back (`refusal`), does a parcel match its authorisation (`receipt_mismatch`), and the
deterministic RMA number of a return."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

RETURNS_NAMESPACE = UUID("3c9e1f0a-7b2d-4e8c-a5f1-6d0b9c2e4a17")


class ReturnStatus(StrEnum):
    AUTHORIZED = "authorized"
    """An RMA and a label were issued; the parcel is on its way (or lost)."""
    REJECTED = "rejected"
    RECEIVED = "received"


@dataclass(frozen=True)
class ReturnRecord:
    """One return of a shipment, as the Shipment aggregate keeps it."""

    return_id: UUID
    status: ReturnStatus
    decided_at: datetime
    lines: list[dict[str, Any]]
    """Units authorised ([{"sku", "quantity"}]); empty when rejected."""
    rma: str | None = None
    label: dict[str, str] | None = None
    """{"carrier", "tracking_number", "url"} of the prepaid return label."""
    reason: str | None = None
    """Why it was rejected."""
    received: list[dict[str, Any]] | None = None
    """Units that arrived ([{"sku", "quantity", "condition"}])."""
    received_at: datetime | None = None

    @property
    def units_out(self) -> Counter[str]:
        """Units of each sku this return takes from what may still be returned: those
        authorised while the parcel is open, those that arrived once it is received."""
        if self.status is ReturnStatus.AUTHORIZED:
            return per_sku(self.lines)
        if self.status is ReturnStatus.RECEIVED:
            return per_sku(self.received or [])
        return Counter()


def rma_of(return_id: UUID) -> str:
    """The return's RMA number: "RMA-" and 10 characters derived from its id."""
    return "RMA-" + uuid5(RETURNS_NAMESPACE, f"rma:{return_id}").hex[:10].upper()


def per_sku(lines: Iterable[Mapping[str, Any]]) -> Counter[str]:
    units: Counter[str] = Counter()
    for line in lines:
        units[str(line["sku"])] += int(line["quantity"])
    return units


def refusal(
    *,
    shipped: Sequence[Mapping[str, Any]] | None,
    delivered_at: datetime | None,
    returns: Iterable[ReturnRecord],
    requested: Sequence[Mapping[str, Any]],
    requested_at: datetime,
    window: timedelta,
) -> str | None:
    """Why these units may not be returned, for the customer; None when they may.

    The window is judged at `requested_at` (when the customer asked), so the answer
    does not depend on how long the request waited in a queue.
    """
    if delivered_at is None or not shipped:
        return "The order has not been delivered yet."
    if requested_at > delivered_at + window:
        return f"The return window ended on {(delivered_at + window):%Y-%m-%d %H:%M} UTC."
    return units_refusal(shipped=shipped, returns=returns, requested=requested)


def units_refusal(
    *,
    shipped: Sequence[Mapping[str, Any]],
    returns: Iterable[ReturnRecord],
    requested: Sequence[Mapping[str, Any]],
) -> str | None:
    """Why these units cannot come back: not shipped, or beyond what is left to return."""
    out: Counter[str] = Counter()
    for record in returns:
        out.update(record.units_out)
    sent = per_sku(shipped)
    for sku, quantity in sorted(per_sku(requested).items()):
        if sku not in sent:
            return f"{sku} was not shipped with this order."
        left = sent[sku] - out[sku]
        if quantity > left:
            return f"Only {max(left, 0)} unit(s) of {sku} can still be returned, not {quantity}."
    return None


def receipt_mismatch(
    authorized: Sequence[Mapping[str, Any]], received: Sequence[Mapping[str, Any]]
) -> str | None:
    """What does not match the authorised return; None when the parcel does.

    Fewer units than authorised is fine (the rest are lost); a sku not in the return or
    more units than authorised is not.
    """
    allowed, arrived = per_sku(authorized), per_sku(received)
    for sku, quantity in sorted(arrived.items()):
        if sku not in allowed:
            return f"{sku} is not part of this return"
        if quantity > allowed[sku]:
            return f"{quantity} unit(s) of {sku} received, only {allowed[sku]} authorised"
    return None
