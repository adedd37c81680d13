"""Events of the payment service on `payment.events`, keyed by order id.

No card number or CVC ever appears here: every string field is checked.
"""

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from orderflow_events.base import OrderEvent
from orderflow_events.card import CardBrand, CardSafeModel, Last4
from orderflow_events.common import Code, ShortText, UtcDateTime
from orderflow_events.money import Money
from orderflow_events.topics import PAYMENT_EVENTS


class PaymentEvent(OrderEvent, CardSafeModel):
    topic: ClassVar[str] = PAYMENT_EVENTS

    payment_id: UUID = Field(description="The payment (one authorisation) of the order.")


class PaymentAuthorized(PaymentEvent):
    """The gateway approved the order's total; nothing is captured yet."""

    type_stem: ClassVar[str] = "payment.authorized"

    amount: Money = Field(description="Amount authorised: the order's total.")
    auth_code: str = Field(
        min_length=1, max_length=64, description="The gateway's authorisation code."
    )
    brand: CardBrand = Field(description="Card brand, lower case, e.g. 'visa'.")
    last4: Last4 = Field(description="Last four digits of the card number.")
    authorized_at: UtcDateTime = Field(description="When the gateway approved.")
    expires_at: UtcDateTime | None = Field(
        default=None, description="When the gateway drops the authorisation, if known."
    )


class PaymentDeclined(PaymentEvent):
    """The gateway declined, or kept failing until payment gave up."""

    type_stem: ClassVar[str] = "payment.declined"

    reason: Code = Field(
        description="snake_case code, e.g. 'insufficient_funds', 'card_expired', "
        "'gateway_unavailable'."
    )
    detail: ShortText | None = Field(default=None, description="Human-readable context.")
    attempts: int = Field(default=1, ge=1, description="Gateway calls made before giving up.")
    declined_at: UtcDateTime = Field(description="When payment gave up on the order.")


class PaymentVoided(PaymentEvent):
    """The authorisation was released before any capture (order cancelled)."""

    type_stem: ClassVar[str] = "payment.voided"

    amount: Money = Field(description="Amount of the authorisation released.")
    voided_at: UtcDateTime = Field(description="When the gateway confirmed the void.")


class PaymentCaptured(PaymentEvent):
    """The authorised amount was captured after the order shipped."""

    type_stem: ClassVar[str] = "payment.captured"

    amount: Money = Field(description="Amount captured, at most the amount authorised.")
    shipment_id: UUID | None = Field(
        default=None, description="The shipment whose Shipped event triggered the capture."
    )
    captured_at: UtcDateTime = Field(description="When the gateway confirmed the capture.")


class PaymentRefunded(PaymentEvent):
    """Money went back to the customer: for a received return or a cancel after capture."""

    type_stem: ClassVar[str] = "payment.refunded"

    refund_id: UUID = Field(description="Identifies this refund; an order may have several.")
    amount: Money = Field(description="Amount refunded by this refund.")
    return_id: UUID | None = Field(
        default=None, description="The return refunded; None for a cancel after capture."
    )
    refunded_at: UtcDateTime = Field(description="When the gateway confirmed the refund.")
