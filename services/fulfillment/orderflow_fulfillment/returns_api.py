"""The warehouse's side of returns: record a returned parcel by its RMA, look a return up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID

from fastapi import APIRouter, Path
from orderflow_events import ItemCondition, ReceivedLine, ReturnLabel, StockLine
from orderflow_runtime.problems import Conflict, NotFound, Unprocessable
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import api_key_dependency
from pydantic import BaseModel, Field, SecretStr

from orderflow_fulfillment.application import FulfillmentApplication
from orderflow_fulfillment.domain import ReturnMismatchError, ShipmentStateError
from orderflow_fulfillment.projections import order_of_rma
from orderflow_fulfillment.returns import ReturnRecord, ReturnStatus

RmaPath = Path(pattern=r"^[A-Za-z0-9-]{1,64}$", description="The RMA, e.g. 'RMA-3F9A0C21B7'.")


class ReceiptLineIn(BaseModel):
    sku: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The sku.")
    quantity: int = Field(ge=1, le=999, description="Units of this sku in this condition.")
    condition: ItemCondition = Field(description="resellable, damaged or defective.")


class ReceiptIn(BaseModel):
    """What the warehouse found in a returned parcel (fewer units than authorised: lost)."""

    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=100, description="Per sku.")


class ReturnResponse(BaseModel):
    return_id: UUID = Field(description="The return, as the customer's request named it.")
    status: ReturnStatus = Field(description="authorized, rejected or received.")
    rma: str | None = Field(description="The RMA number; None when rejected.")
    lines: list[StockLine] = Field(description="Units authorised for return.")
    label: ReturnLabel | None = Field(description="The prepaid return label, when authorised.")
    reason: str | None = Field(description="Why it was rejected.")
    decided_at: datetime = Field(description="When it was authorised or rejected.")
    received: list[ReceivedLine] | None = Field(description="Units that arrived, once received.")
    received_at: datetime | None = Field(description="When the parcel was received.")

    @classmethod
    def of(cls, record: ReturnRecord, **extra: Any) -> Self:
        return cls(
            **extra,
            return_id=record.return_id,
            status=record.status,
            rma=record.rma,
            lines=[StockLine.model_validate(line) for line in record.lines],
            label=None if record.label is None else ReturnLabel.model_validate(record.label),
            reason=record.reason,
            decided_at=record.decided_at,
            received=None
            if record.received is None
            else [ReceivedLine.model_validate(line) for line in record.received],
            received_at=record.received_at,
        )


class OrderReturnResponse(ReturnResponse):
    order_id: UUID = Field(description="The order the goods came from.")


def returns_router(
    app: FulfillmentApplication, admin_api_key: SecretStr | None, projections: Projections
) -> APIRouter:
    router = APIRouter(tags=["returns"], dependencies=[api_key_dependency(admin_api_key)])

    def order_of(rma: str) -> UUID:
        found = order_of_rma(projections.engine, rma)
        if found is None:  # authorised a moment ago, maybe: bring the read model up to date
            projections.catch_up()
            found = order_of_rma(projections.engine, rma)
        if found is None:
            raise NotFound(f"no authorised return {rma}")
        return found

    @router.post(
        "/returns/{rma}/receipt",
        status_code=201,
        response_model=OrderReturnResponse,
        summary="The warehouse received a returned parcel (-> ReturnReceived)",
    )
    def receive(body: ReceiptIn, rma: str = RmaPath) -> OrderReturnResponse:
        order_id = order_of(rma)
        lines = [line.model_dump(mode="json") for line in body.lines]
        try:
            record = app.receive_return(order_id, rma, lines, datetime.now(UTC))
        except LookupError:
            raise NotFound(f"no authorised return {rma}") from None
        except ShipmentStateError as error:
            raise Conflict(str(error)) from None
        except ReturnMismatchError as error:
            raise Unprocessable(f"the parcel does not match return {rma}: {error}") from None
        return OrderReturnResponse.of(record, order_id=order_id)

    @router.get(
        "/returns/{rma}", response_model=OrderReturnResponse, summary="A return, by its RMA"
    )
    def get_return(rma: str = RmaPath) -> OrderReturnResponse:
        order_id = order_of(rma)
        record = app.return_of(order_id, rma)
        if record is None:
            raise NotFound(f"no authorised return {rma}")
        return OrderReturnResponse.of(record, order_id=order_id)

    return router
