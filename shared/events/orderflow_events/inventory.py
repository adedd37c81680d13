"""Events of the inventory service on `inventory.events`.

Reservation events are keyed by order id; stock-level events and restocks from a
goods receipt by sku.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from orderflow_events.base import IntegrationEvent, OrderEvent, SkuEvent
from orderflow_events.common import ContractModel, Count, Quantity, Sku, StockLine, UtcDateTime
from orderflow_events.topics import INVENTORY_EVENTS


class InventoryOrderEvent(OrderEvent):
    topic: ClassVar[str] = INVENTORY_EVENTS


class InventorySkuEvent(SkuEvent):
    topic: ClassVar[str] = INVENTORY_EVENTS


class StockReserved(InventoryOrderEvent):
    """Every line of the order is reserved (all or nothing)."""

    type_stem: ClassVar[str] = "inventory.stock_reserved"

    reservation_id: UUID = Field(description="The reservation; release and commit name it.")
    lines: list[StockLine] = Field(min_length=1, description="Units reserved, per sku.")
    reserved_at: UtcDateTime = Field(description="When the stock was reserved.")


class UnavailableLine(ContractModel):
    """A line that could not be reserved."""

    sku: Sku = Field(description="The stock keeping unit short of stock.")
    requested: Quantity = Field(description="Units the order asked for.")
    available: Count = Field(description="Units available when the reservation was tried.")


class StockReservationFailed(InventoryOrderEvent):
    """At least one line could not be reserved, so nothing was reserved."""

    type_stem: ClassVar[str] = "inventory.stock_reservation_failed"

    unavailable: list[UnavailableLine] = Field(min_length=1, description="The lines short.")
    failed_at: UtcDateTime = Field(description="When the reservation was refused.")


class StockReleased(InventoryOrderEvent):
    """A reservation was given back because the order was cancelled."""

    type_stem: ClassVar[str] = "inventory.stock_released"

    reservation_id: UUID = Field(description="The reservation released.")
    lines: list[StockLine] = Field(min_length=1, description="Units released, per sku.")
    released_at: UtcDateTime = Field(description="When the stock was released.")


class StockCommitted(InventoryOrderEvent):
    """Reserved units left the warehouse: on hand goes down, the reservation is consumed."""

    type_stem: ClassVar[str] = "inventory.stock_committed"

    reservation_id: UUID = Field(description="The reservation committed.")
    lines: list[StockLine] = Field(min_length=1, description="Units committed, per sku.")
    shipment_id: UUID | None = Field(default=None, description="The shipment that took them.")
    committed_at: UtcDateTime = Field(description="When the stock was committed.")


class RestockOrigin(StrEnum):
    RETURN = "return"
    RECEIPT = "receipt"


class StockRestocked(IntegrationEvent):
    """Units came back on hand: a resellable return (keyed by order) or a goods receipt
    (keyed by sku; one sku per event)."""

    type_stem: ClassVar[str] = "inventory.stock_restocked"
    topic: ClassVar[str] = INVENTORY_EVENTS
    key_field: ClassVar[str] = "order_id"  # or the sku of a receipt: see partition_key

    origin: RestockOrigin = Field(description="'return' (needs order_id, return_id) or 'receipt'.")
    order_id: UUID | None = Field(default=None, description="The order returned from.")
    return_id: UUID | None = Field(default=None, description="The return restocked from.")
    reservation_id: UUID | None = Field(
        default=None, description="The order's original reservation, for a return."
    )
    receipt_id: str | None = Field(
        default=None, max_length=64, description="The goods receipt, for a receipt."
    )
    lines: list[StockLine] = Field(min_length=1, description="Units put back on hand.")
    restocked_at: UtcDateTime = Field(description="When the units were back on hand.")

    @model_validator(mode="after")
    def _origin_fields(self) -> StockRestocked:
        if self.origin is RestockOrigin.RETURN and (
            self.order_id is None or self.return_id is None
        ):
            raise ValueError("a restock from a return needs order_id and return_id")
        if self.origin is RestockOrigin.RECEIPT and (
            self.receipt_id is None or len(self.lines) != 1
        ):
            raise ValueError("a restock from a receipt needs receipt_id and exactly one line")
        return self

    def partition_key(self) -> str:
        return str(self.order_id) if self.order_id is not None else self.lines[0].sku


class StockLevelLow(InventorySkuEvent):
    """Available stock of a sku fell under its reorder point."""

    type_stem: ClassVar[str] = "inventory.stock_level_low"

    on_hand: Count = Field(description="Units in the warehouse.")
    available: Count = Field(description="Units on hand and not reserved.")
    reorder_point: Count = Field(description="The level under which stock is reordered.")
    detected_at: UtcDateTime = Field(description="When the level was crossed.")


class ReorderRequested(InventorySkuEvent):
    """Inventory asks purchasing for more units of a sku."""

    type_stem: ClassVar[str] = "inventory.reorder_requested"

    reorder_id: UUID = Field(description="Identifies this reorder; a receipt may refer to it.")
    quantity: Quantity = Field(description="Units to order.")
    available: Count = Field(description="Units on hand and not reserved, when requested.")
    reorder_point: Count = Field(description="The sku's reorder point.")
    requested_at: UtcDateTime = Field(description="When the reorder was requested.")
