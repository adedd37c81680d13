"""Events of the fulfillment service on `fulfillment.events`, keyed by order id."""

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from orderflow_events.base import OrderEvent
from orderflow_events.common import ContractModel, Quantity, ShortText, Sku, StockLine, UtcDateTime
from orderflow_events.money import Money
from orderflow_events.topics import FULFILLMENT_EVENTS


class FulfillmentEvent(OrderEvent):
    topic: ClassVar[str] = FULFILLMENT_EVENTS


class Shipped(FulfillmentEvent):
    """The parcel left with the carrier: payment captures, inventory commits."""

    type_stem: ClassVar[str] = "fulfillment.shipped"

    shipment_id: UUID = Field(description="The shipment.")
    carrier: str = Field(min_length=1, max_length=64, description="Carrier, e.g. 'dhl'.")
    service_level: str = Field(
        min_length=1, max_length=64, description="Carrier service chosen, e.g. 'ground'."
    )
    tracking_number: str = Field(
        min_length=1, max_length=64, description="The carrier's tracking number."
    )
    lines: list[StockLine] = Field(min_length=1, description="Units in the parcel, per sku.")
    shipping_cost: Money | None = Field(
        default=None, description="What the label cost us (not what the customer paid)."
    )
    shipped_at: UtcDateTime = Field(description="When the carrier took the parcel.")


class Delivered(FulfillmentEvent):
    """The carrier confirmed delivery."""

    type_stem: ClassVar[str] = "fulfillment.delivered"

    shipment_id: UUID = Field(description="The shipment delivered.")
    delivered_at: UtcDateTime = Field(description="When the carrier delivered.")


class ShipmentStopped(FulfillmentEvent):
    """Fulfillment's answer to CancellationRequested: this order will not ship."""

    type_stem: ClassVar[str] = "fulfillment.shipment_stopped"

    shipment_id: UUID | None = Field(
        default=None, description="The shipment stopped; None if none was started yet."
    )
    reason: ShortText = Field(description="Why it stopped, e.g. 'customer' or 'expired'.")
    stopped_at: UtcDateTime = Field(description="When fulfillment stopped the order.")


class ReturnLabel(ContractModel):
    """A prepaid label the customer prints to send goods back."""

    carrier: str = Field(min_length=1, max_length=64, description="Carrier of the return.")
    tracking_number: str = Field(
        min_length=1, max_length=64, description="Tracking number of the return parcel."
    )
    url: str = Field(min_length=1, max_length=2048, description="Where to download the label.")


class ReturnAuthorized(FulfillmentEvent):
    """The return was accepted: the customer gets an RMA and a label."""

    type_stem: ClassVar[str] = "fulfillment.return_authorized"

    return_id: UUID = Field(description="The return, as in ReturnRequested.")
    rma: str = Field(min_length=1, max_length=64, description="Return merchandise authorisation.")
    label: ReturnLabel = Field(description="The return shipping label.")
    lines: list[StockLine] = Field(min_length=1, description="Units authorised for return.")
    authorized_at: UtcDateTime = Field(description="When the return was authorised.")


class ReturnRejected(FulfillmentEvent):
    """The return was refused (e.g. beyond the shipped quantity or the return window)."""

    type_stem: ClassVar[str] = "fulfillment.return_rejected"

    return_id: UUID = Field(description="The return, as in ReturnRequested.")
    reason: ShortText = Field(description="Why, for the customer.")
    rejected_at: UtcDateTime = Field(description="When the return was rejected.")


class ItemCondition(StrEnum):
    RESELLABLE = "resellable"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"


class ReceivedLine(ContractModel):
    """Returned units of one sku, in one condition."""

    sku: Sku = Field(description="The stock keeping unit received.")
    quantity: Quantity = Field(description="Units received in this condition.")
    condition: ItemCondition = Field(description="Only 'resellable' units are restocked.")


class ReturnReceived(FulfillmentEvent):
    """Returned goods arrived and were inspected: inventory restocks, payment refunds."""

    type_stem: ClassVar[str] = "fulfillment.return_received"

    return_id: UUID = Field(description="The return, as in ReturnRequested.")
    rma: str = Field(min_length=1, max_length=64, description="The RMA the parcel came with.")
    lines: list[ReceivedLine] = Field(
        min_length=1, description="Units received, per sku and condition."
    )
    received_at: UtcDateTime = Field(description="When the parcel was received.")
