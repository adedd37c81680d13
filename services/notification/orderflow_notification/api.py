"""The operators' HTTP API: which notices an order has, and how they went (no bodies)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query
from orderflow_events import Channel
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import api_key_dependency
from pydantic import BaseModel, Field

from orderflow_notification.application import NotificationApplication
from orderflow_notification.domain import NoticeStatus
from orderflow_notification.projections import list_notices
from orderflow_notification.settings import NotificationSettings


class NoticeView(BaseModel):
    notice_id: UUID = Field(description="The notice; NotificationSent/Failed carry it.")
    order_id: UUID = Field(description="The order the notice is about.")
    template: str = Field(description="Template name, e.g. 'order_confirmation'.")
    channel: Channel = Field(description="'email' or 'sms'.")
    status: NoticeStatus = Field(description="requested, claimed, sent or failed.")
    caused_by: UUID = Field(description="ce_id of the event that asked for the notice.")
    requested_at: datetime = Field(description="When the notice was requested.")
    claimed_at: datetime | None = Field(description="When a dispatcher took it.")
    sent_at: datetime | None = Field(description="When the provider accepted it.")
    failed_at: datetime | None = Field(description="When sending was given up.")
    attempts: int = Field(description="Delivery attempts made (0 before sending).")
    error: str | None = Field(description="Why it failed (no recipient details).")


class AwaitingView(BaseModel):
    template: str = Field(description="Template of the notice to send once the order is known.")
    caused_by: UUID = Field(description="ce_id of the event that asked for the notice.")
    waiting_for: list[str] = Field(
        description="What it waits for: 'contact' (OrderPlaced), 'shortage' "
        "(StockReservationFailed, for an out-of-stock cancel)."
    )


def create_api(
    app: NotificationApplication, projections: Projections, settings: NotificationSettings
) -> FastAPI:
    api = service_api("orderflow notification", version="1")
    install_problem_handlers(api)
    operators_only: Any = api_key_dependency(settings.admin_api_key)  # typed `object` upstream
    router = APIRouter(tags=["notices"], dependencies=[operators_only])

    @router.get("/notices", response_model=list[NoticeView], summary="Notices and their status")
    def get_notices(
        order_id: Annotated[UUID | None, Query(description="Only this order's notices.")] = None,
        status: Annotated[NoticeStatus | None, Query(description="Only this status.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    ) -> list[NoticeView]:
        """Notices, oldest request first: status, channel, template and times (no bodies)."""
        projections.catch_up()  # an operator expects to see what just happened
        rows = list_notices(projections.engine, order_id=order_id, status=status, limit=limit)
        return [NoticeView.model_validate(row, from_attributes=True) for row in rows]

    @router.get(
        "/notices/awaiting-contact",
        response_model=list[AwaitingView],
        summary="Notices parked until what they need arrives (OrderPlaced, the shortage)",
    )
    def get_awaiting(
        order_id: Annotated[UUID, Query(description="The order.")],
    ) -> list[AwaitingView]:
        parked = app.awaiting_contact(order_id)
        return [AwaitingView.model_validate(p, from_attributes=True) for p in parked]

    api.include_router(router)
    return api
