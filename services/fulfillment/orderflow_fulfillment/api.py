"""The fulfillment service's HTTP API: the carriers' delivery webhook, shipment lookup and
(returns_api) the warehouse's return receipts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from fastapi import FastAPI, Path
from orderflow_events import Money, StockLine
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import Conflict, NotFound, install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import api_key_dependency
from pydantic import AwareDatetime, BaseModel, Field

from orderflow_fulfillment.application import FulfillmentApplication, ShipmentView
from orderflow_fulfillment.domain import ShipmentStateError, ShipmentStatus
from orderflow_fulfillment.projections import order_of_tracking
from orderflow_fulfillment.returns_api import ReturnResponse, returns_router
from orderflow_fulfillment.settings import FulfillmentSettings

CarrierName = Path(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="The carrier, e.g. 'parcelco'.")


class CarrierWebhook(BaseModel):
    """A carrier's status update for one parcel."""

    tracking_number: str = Field(min_length=1, max_length=64, description="The parcel.")
    status: Literal["delivered"] = Field(description="Only 'delivered' is acted upon.")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened (RFC 3339); default: when received."
    )


class WebhookReceipt(BaseModel):
    shipment_id: UUID = Field(description="The shipment the parcel belongs to.")
    status: ShipmentStatus = Field(description="The shipment's status now.")
    duplicate: bool = Field(description="True when this update had been received before.")


class ShipmentResponse(BaseModel):
    order_id: UUID = Field(description="The order shipped.")
    shipment_id: UUID = Field(description="The order's shipment.")
    status: ShipmentStatus = Field(description="waiting, shipped, delivered, cancelled or stuck.")
    shipping_method: str | None = Field(description="The order's method, once known.")
    destination_country: str | None = Field(description="ISO country shipped to, once known.")
    reservation_id: UUID | None = Field(description="Inventory's reservation, once known.")
    lines: list[StockLine] = Field(description="Units reserved (and shipped), per sku.")
    carrier: str | None = Field(description="Carrier chosen, once shipped.")
    service_level: str | None = Field(description="Carrier service chosen, once shipped.")
    tracking_number: str | None = Field(description="The carrier's tracking number.")
    parcel_grams: int | None = Field(description="Packed weight, packaging included.")
    shipping_cost: Money | None = Field(description="What the label cost us.")
    shipped_at: datetime | None = Field(description="When the label was bought.")
    delivered_at: datetime | None = Field(description="When the carrier delivered.")
    note: str | None = Field(description="Why it was cancelled or is stuck.")
    returns: list[ReturnResponse] = Field(description="The order's returns, oldest first.")


def create_api(
    app: FulfillmentApplication, settings: FulfillmentSettings, projections: Projections
) -> FastAPI:
    api = service_api("orderflow fulfillment", version="1")
    install_problem_handlers(api)

    def find_order(carrier: str, tracking_number: str) -> UUID | None:
        found = order_of_tracking(projections.engine, carrier, tracking_number)
        if found is None:  # shipped a moment ago, maybe: bring the read model up to date
            projections.catch_up()
            found = order_of_tracking(projections.engine, carrier, tracking_number)
        return found

    @api.post(
        "/carriers/{carrier}/webhook",
        response_model=WebhookReceipt,
        dependencies=[api_key_dependency(settings.webhook_key)],
        tags=["carriers"],
        summary="A carrier reports a parcel's status",
    )
    def carrier_webhook(update: CarrierWebhook, carrier: str = CarrierName) -> WebhookReceipt:
        order_id = find_order(carrier, update.tracking_number)
        if order_id is None:
            raise NotFound(f"{carrier} parcel {update.tracking_number} is not one of ours")
        delivered_at = (update.occurred_at or datetime.now(UTC)).astimezone(UTC)
        try:
            recorded = app.confirm_delivery(order_id, delivered_at)
        except ShipmentStateError as error:
            raise Conflict(str(error)) from None
        view = _view(app, order_id)
        return WebhookReceipt(
            shipment_id=view.shipment_id, status=view.status, duplicate=not recorded
        )

    @api.get(
        "/shipments/{order_id}",
        response_model=ShipmentResponse,
        dependencies=[api_key_dependency(settings.admin_api_key)],
        tags=["operations"],
        summary="The shipment of an order",
    )
    def get_shipment(order_id: UUID) -> ShipmentResponse:
        return to_response(_view(app, order_id))

    api.include_router(returns_router(app, settings.admin_api_key, projections))
    return api


def _view(app: FulfillmentApplication, order_id: UUID) -> ShipmentView:
    view = app.shipment(order_id)
    if view is None:
        raise NotFound(f"no shipment for order {order_id}")
    return view


def to_response(view: ShipmentView) -> ShipmentResponse:
    cost = None
    if view.cost is not None and view.currency is not None:
        cost = Money(amount=view.cost, currency=view.currency)
    return ShipmentResponse(
        order_id=view.order_id,
        shipment_id=view.shipment_id,
        status=view.status,
        shipping_method=view.shipping_method,
        destination_country=view.destination_country,
        reservation_id=view.reservation_id,
        lines=[StockLine.model_validate(line) for line in view.reserved or view.ordered],
        carrier=view.carrier,
        service_level=view.service_level,
        tracking_number=view.tracking_number,
        parcel_grams=view.weight_grams,
        shipping_cost=cost,
        shipped_at=view.shipped_at,
        delivered_at=view.delivered_at,
        note=view.note,
        returns=[ReturnResponse.of(record) for record in view.returns],
    )
