"""The cart's HTTP API: carts, checkout, orders (cancel, return), a customer's orders,
and the operators' lists (stuck orders, every order).

Use cases are synchronous (the event store is), so endpoints are plain `def`s that
FastAPI runs in its thread pool. Refusals (`CartError`) become problem details.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from orderflow_events import Address, PaymentMethod
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import (
    PROBLEM_JSON,
    Conflict,
    NotFound,
    Problem,
    Unprocessable,
    install_problem_handlers,
)
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import api_key_dependency
from pydantic import AfterValidator, BaseModel, Field

from orderflow_cart.application import CartApplication, CheckoutDetails
from orderflow_cart.domain import CartError, ConflictError, NotFoundError, UnacceptableError
from orderflow_cart.listings import OrderPage, StuckOrders, order_page, stuck_orders
from orderflow_cart.order import TooLateToCancelError
from orderflow_cart.projections import orders_of
from orderflow_cart.schemas import (
    AddItem,
    CancelOrder,
    Checkout,
    ReturnOrder,
    SetQuantity,
    normalise_email,
)
from orderflow_cart.status import CancelOutcome, OrderStatus
from orderflow_cart.views import CartView, CustomerOrders, OrderView, Receipt

SkuPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Sku.")]
EmailPath = Annotated[str, Path(max_length=254), AfterValidator(normalise_email)]

_PROBLEM_OF: dict[type[CartError], type[Problem]] = {
    NotFoundError: NotFound,
    ConflictError: Conflict,
    UnacceptableError: Unprocessable,
}


class CartCreated(BaseModel):
    cart_id: UUID = Field(description="The new, empty cart.")


class CancellationAccepted(BaseModel):
    order_id: UUID
    status: Literal["cancellation_requested"] = Field(
        default="cancellation_requested",
        description="Fulfillment decides: cancelled if the parcel has not left, else shipped.",
    )


class ReturnAccepted(BaseModel):
    order_id: UUID
    return_id: UUID = Field(description="The return; the order shows how fulfillment decides.")


class Rebuilt(BaseModel):
    events: int = Field(description="Stored events read to rebuild the read models.")


def create_api(app: CartApplication, projections: Projections) -> FastAPI:
    api = service_api("orderflow cart", summary="Carts, checkout and orders.", version="1")
    install_problem_handlers(api)

    @api.exception_handler(CartError)
    async def on_refused(request: Request, error: CartError) -> JSONResponse:
        kind = next((p for c, p in _PROBLEM_OF.items() if isinstance(error, c)), Problem)
        body = kind(str(error)).body(request.url.path)
        return JSONResponse(body, status_code=kind.status, media_type=PROBLEM_JSON)

    api.include_router(carts_router(app))
    api.include_router(operators_router(app, projections))  # before /orders/{order_id}
    api.include_router(orders_router(app, projections))
    api.include_router(admin_router(app, projections))
    return api


def carts_router(app: CartApplication) -> APIRouter:
    router = APIRouter(prefix="/carts", tags=["carts"])

    @router.post("", status_code=201, response_model=CartCreated, summary="Open a cart")
    def create_cart(response: Response) -> CartCreated:
        cart_id = app.create_cart()
        response.headers["Location"] = f"/carts/{cart_id}"
        return CartCreated(cart_id=cart_id)

    @router.get("/{cart_id}", response_model=CartView, summary="A cart at current prices")
    def get_cart(cart_id: UUID) -> CartView:
        return app.cart(cart_id)

    @router.post("/{cart_id}/items", response_model=CartView, summary="Add units of a product")
    def add_item(cart_id: UUID, item: AddItem) -> CartView:
        return app.add_item(cart_id, item.sku, item.quantity, item.attributes)

    @router.patch("/{cart_id}/items/{sku}", response_model=CartView, summary="Set a quantity")
    def set_quantity(cart_id: UUID, sku: SkuPath, body: SetQuantity) -> CartView:
        return app.set_quantity(cart_id, sku, body.quantity)

    @router.delete("/{cart_id}/items/{sku}", response_model=CartView, summary="Remove a line")
    def remove_item(cart_id: UUID, sku: SkuPath) -> CartView:
        return app.remove_item(cart_id, sku)

    @router.delete("/{cart_id}/items", response_model=CartView, summary="Empty the cart")
    def clear(cart_id: UUID) -> CartView:
        return app.clear(cart_id)

    @router.post(
        "/{cart_id}/checkout", status_code=201, response_model=Receipt, summary="Place the order"
    )
    def checkout(cart_id: UUID, body: Checkout, response: Response) -> Receipt:
        details = CheckoutDetails(
            email=body.email,
            address=Address.model_validate(body.shipping_address.model_dump()),
            method=body.shipping_method,
            payment=PaymentMethod.model_validate(body.payment.model_dump()),
        )
        placed = app.checkout(cart_id, details)
        response.headers["Location"] = f"/orders/{placed.order_id}"
        return placed

    return router


def orders_router(app: CartApplication, projections: Projections) -> APIRouter:
    router = APIRouter(tags=["orders"])

    @router.get("/orders/{order_id}", response_model=OrderView, summary="An order and its saga")
    def get_order(order_id: UUID) -> OrderView:
        return app.order(order_id)

    @router.post(
        "/orders/{order_id}/cancel",
        status_code=202,
        response_model=CancellationAccepted,
        responses={200: {"model": OrderView, "description": "Cancelled already: the order."}},
        summary="Ask to cancel an order before it ships",
    )
    def cancel_order(
        order_id: UUID, body: Annotated[CancelOrder | None, Body()] = None
    ) -> CancellationAccepted | JSONResponse:
        try:
            outcome = app.request_cancellation(order_id, body.reason if body else None)
        except TooLateToCancelError as error:
            raise Conflict(str(error), returns=f"/orders/{order_id}/returns") from None
        if outcome is CancelOutcome.ALREADY_CANCELLED:
            return JSONResponse(app.order(order_id).model_dump(mode="json"), status_code=200)
        return CancellationAccepted(order_id=order_id)

    @router.post(
        "/orders/{order_id}/returns",
        status_code=202,
        response_model=ReturnAccepted,
        summary="Ask to return units of a shipped order",
    )
    def return_order(order_id: UUID, body: ReturnOrder, response: Response) -> ReturnAccepted:
        return_id = app.request_return(order_id, body.quantities(), body.reason)
        response.headers["Location"] = f"/orders/{order_id}"
        return ReturnAccepted(order_id=order_id, return_id=return_id)

    @router.get(
        "/customers/{email}/orders",
        response_model=CustomerOrders,
        summary="A customer's orders, newest first",
    )
    def customer_orders(
        email: EmailPath, limit: Annotated[int, Query(ge=1, le=100)] = 50
    ) -> CustomerOrders:
        projections.catch_up()  # read our own writes: a checkout just made is listed
        return CustomerOrders(
            customer_email=email.lower(), orders=orders_of(projections.engine, email, limit)
        )

    return router


def operators_router(app: CartApplication, projections: Projections) -> APIRouter:
    router = APIRouter(
        tags=["operators"], dependencies=[api_key_dependency(app.settings.admin_api_key)]
    )

    @router.get(
        "/orders/stuck",
        response_model=StuckOrders,
        summary="Orders past their deadline now, and orders cancelled as expired",
    )
    def stuck(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> StuckOrders:
        projections.catch_up()
        return stuck_orders(projections.engine, datetime.now(UTC), limit)

    return router


def admin_router(app: CartApplication, projections: Projections) -> APIRouter:
    router = APIRouter(
        prefix="/admin",
        tags=["admin"],
        dependencies=[api_key_dependency(app.settings.admin_api_key)],
    )

    @router.get("/orders", response_model=OrderPage, summary="Every order, oldest first")
    def orders(
        page: Annotated[int, Query(ge=1)] = 1,
        size: Annotated[int, Query(ge=1, le=500)] = 100,
        status: OrderStatus | None = None,
    ) -> OrderPage:
        projections.catch_up()
        now = datetime.now(UTC)
        return order_page(projections.engine, now, page=page, size=size, status=status)

    @router.post("/read-models/rebuild", response_model=Rebuilt, summary="Rebuild read models")
    def rebuild() -> Rebuilt:
        return Rebuilt(events=projections.rebuild())

    return router
