"""The payment service's HTTP API: operators look up an order's payment, or list them all
(the invariant checker reads the list)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import FastAPI, Query
from orderflow_events import Money
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import NotFound, install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import api_key_dependency
from pydantic import BaseModel, Field

from orderflow_payment.application import PaymentApplication, PaymentView
from orderflow_payment.domain import PaymentStatus
from orderflow_payment.projections import page_of_orders
from orderflow_payment.settings import PaymentSettings


class RefundResponse(BaseModel):
    refund_id: UUID = Field(description="The refund.")
    amount: Money = Field(description="Amount given back by this refund.")
    return_id: UUID | None = Field(description="The return refunded; None: a cancel.")


class PaymentResponse(BaseModel):
    """An order's payment. The card shows as brand and last4 only; the token never leaves."""

    order_id: UUID = Field(description="The order paid for.")
    payment_id: UUID = Field(description="The payment (one authorisation) of the order.")
    status: PaymentStatus = Field(
        description="open, authorized, declined, captured, voided, refunded or cancelled."
    )
    authorized: Money | None = Field(description="Amount authorised; None until authorised.")
    captured: Money | None = Field(description="Amount captured; None before a currency is known.")
    refunded: Money | None = Field(description="Amount refunded; None before a currency is known.")
    brand: str | None = Field(description="Card brand, e.g. 'visa'.")
    last4: str | None = Field(description="Last four digits of the card.")
    auth_attempts: int = Field(ge=0, description="Gateway calls the authorisation took.")
    decline_reason: str | None = Field(description="Why the gateway declined, when it did.")
    capture_parked: bool = Field(description="Shipped came first; capture follows authorisation.")
    voided: bool = Field(description="The authorisation was released (never captured after).")
    authorizations: int = Field(ge=0, description="Successful authorisations of the order.")
    refunds: list[RefundResponse] = Field(description="Every refund, oldest first.")
    returns: int = Field(ge=0, description="Returns received, refunded or not.")


class PaymentPage(BaseModel):
    items: list[PaymentResponse] = Field(description="The payments of this page.")
    total: int = Field(description="Payments in all, over all pages.")
    page: int = Field(description="This page's number, from 1.")
    size: int = Field(description="Page size asked for.")


def create_api(
    app: PaymentApplication, settings: PaymentSettings, projections: Projections
) -> FastAPI:
    api = service_api("orderflow payment", version="1")
    install_problem_handlers(api)
    admin = [api_key_dependency(settings.admin_api_key)]

    @api.get(
        "/payments/{order_id}",
        response_model=PaymentResponse,
        dependencies=admin,
        tags=["operations"],
        summary="The payment of an order",
    )
    def get_payment(order_id: UUID) -> PaymentResponse:
        view = app.payment(order_id)
        if view is None:
            raise NotFound(f"no payment for order {order_id}")
        return to_response(view)

    @api.get(
        "/payments",
        response_model=PaymentPage,
        dependencies=admin,
        tags=["operations"],
        summary="Every payment, oldest first",
    )
    def list_payments(
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> PaymentPage:
        projections.catch_up()  # a payment opened a moment ago is listed too
        order_ids, total = page_of_orders(projections.engine, page=page, size=size)
        views = [view for order_id in order_ids if (view := app.payment(order_id)) is not None]
        return PaymentPage(
            items=[to_response(view) for view in views], total=total, page=page, size=size
        )

    return api


def to_response(view: PaymentView) -> PaymentResponse:
    def money(amount: Decimal, *, known: bool = True) -> Money | None:
        if view.currency is None or not known:
            return None
        return Money(amount=amount, currency=view.currency)

    authorised = view.status not in (PaymentStatus.OPEN, PaymentStatus.DECLINED)
    return PaymentResponse(
        order_id=view.order_id,
        payment_id=view.payment_id,
        status=view.status,
        authorized=money(view.authorized, known=authorised),
        captured=money(view.captured),
        refunded=money(view.refunded),
        brand=view.brand,
        last4=view.last4,
        auth_attempts=view.auth_attempts,
        decline_reason=view.decline_reason,
        capture_parked=view.capture_parked,
        voided=view.voided,
        authorizations=view.authorizations,
        refunds=[
            RefundResponse(refund_id=r.refund_id, amount=amount, return_id=r.return_id)
            for r in view.refunds
            if (amount := money(r.amount)) is not None  # a refund has a currency
        ],
        returns=view.returns,
    )
