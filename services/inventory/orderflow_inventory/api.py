"""The inventory's HTTP API, all for admins (API key): receipts, thresholds, levels,
and every order's reservation record (the invariant checker reads the last two)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import require_api_key
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from orderflow_inventory.application import InventoryApplication
from orderflow_inventory.domain import StockLevels, Thresholds
from orderflow_inventory.projections import list_stock
from orderflow_inventory.reservations_view import list_reservations

SkuPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The sku.")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class ReceiptIn(Request):
    quantity: int = Field(ge=1, le=1_000_000, description="Units received.")
    receipt_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="The goods receipt's id: booking it again changes nothing. "
        "None: a new receipt.",
    )


class ThresholdsIn(Request):
    reorder_point: int = Field(ge=0, le=1_000_000, description="Reorder under this level.")
    reorder_quantity: int = Field(ge=1, le=1_000_000, description="Units to reorder.")


class StockOut(BaseModel):
    sku: str = Field(description="The sku.")
    on_hand: int = Field(
        description="Units in the warehouse, reserved ones included: "
        "received + restocked - committed."
    )
    reserved: int = Field(description="Units on hand promised to orders.")
    available: int = Field(description="Units on hand and not reserved.")
    committed: int = Field(description="Units shipped so far.")
    received: int = Field(description="Units in from goods receipts.")
    restocked: int = Field(description="Units back on hand from resellable returns.")
    written_off: int = Field(description="Returned units not resellable (never on hand).")
    reorder_point: int = Field(description="Reorder when available falls under this.")
    reorder_quantity: int = Field(description="Units a reorder asks for.")
    active: bool = Field(description="False once delisted: no new reservations.")

    @classmethod
    def of(cls, levels: StockLevels) -> StockOut:
        return cls(**levels.__dict__)


class ReceiptOut(BaseModel):
    receipt_id: str = Field(description="The receipt booked.")
    stock: StockOut = Field(description="Levels after the receipt.")


class StockPage(BaseModel):
    items: list[StockOut] = Field(description="Stock levels of this page, by sku.")
    total: int = Field(description="Stock items matching, over all pages.")
    page: int = Field(description="This page's number, from 1.")
    size: int = Field(description="Page size asked for.")


STATUSES = "pending, reserved, failed, released, committed or cancelled."


class OrderStockOut(BaseModel):
    order_id: UUID = Field(description="The order.")
    status: str = Field(description=STATUSES)
    lines: dict[str, int] = Field(description="Units per sku, once OrderPlaced arrived.")
    payment_id: UUID | None = Field(description="The authorisation, once it arrived.")
    reservation_id: UUID | None = Field(description="The reservation, once made.")
    unavailable: list[dict[str, Any]] = Field(description="The short lines of a failure.")
    shipment_id: UUID | None = Field(description="The shipment that took the units.")
    returns: dict[str, dict[str, Any]] = Field(
        description="By return id: the lines restocked, written off, and unmatched "
        "(beyond what the order shipped, or of an unknown sku: never restocked)."
    )


class ReservationOut(BaseModel):
    order_id: UUID = Field(description="The order.")
    status: str = Field(description=STATUSES)
    lines: dict[str, int] = Field(description="Units per sku, once OrderPlaced arrived.")
    reservation_id: UUID | None = Field(description="The reservation, once made.")
    restocked: dict[str, int] = Field(description="Units per sku back on hand from returns.")
    written_off: dict[str, int] = Field(description="Units per sku returned unsellable.")


class ReservationPage(BaseModel):
    items: list[ReservationOut] = Field(description="Order stock records of this page.")
    total: int = Field(description="Records over all pages.")
    page: int = Field(description="This page's number, from 1.")
    size: int = Field(description="Page size asked for.")


def create_api(
    app: InventoryApplication, projections: Projections, admin_api_key: SecretStr | None
) -> FastAPI:
    """The inventory API; every endpoint needs `admin_api_key` (X-API-Key)."""
    api = service_api("orderflow inventory")
    install_problem_handlers(api)
    # Depends(require_api_key(...)) is what api_key_dependency() returns; spelled out
    # because that helper is typed `object`, which FastAPI's `dependencies` refuses.
    admin = APIRouter(tags=["admin"], dependencies=[Depends(require_api_key(admin_api_key))])

    @admin.post("/stock/{sku}/receipts", status_code=201, response_model=ReceiptOut)
    def receive(sku: SkuPath, body: ReceiptIn, response: Response) -> ReceiptOut:
        """Book a goods receipt (-> StockRestocked, origin receipt); 200 when booked before."""
        receipt_id = body.receipt_id or str(uuid4())
        levels, booked = app.receive_stock(sku, body.quantity, receipt_id)
        if not booked:
            response.status_code = 200
        projections.catch_up()  # GET /stock sees it at once
        return ReceiptOut(receipt_id=receipt_id, stock=StockOut.of(levels))

    @admin.put("/stock/{sku}/thresholds", response_model=StockOut)
    def set_thresholds(sku: SkuPath, body: ThresholdsIn) -> StockOut:
        """Set the reorder point and quantity of a sku."""
        levels = app.set_thresholds(sku, Thresholds(body.reorder_point, body.reorder_quantity))
        projections.catch_up()
        return StockOut.of(levels)

    @admin.get("/stock/{sku}", response_model=StockOut)
    def stock_item(sku: SkuPath) -> StockOut:
        """The current levels of one sku (from its stock item)."""
        return StockOut.of(app.stock_levels(sku))

    @admin.get("/stock", response_model=StockPage)
    def stock(
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 50,
        low: Annotated[bool, Query(description="Only skus under their reorder point")] = False,
    ) -> StockPage:
        """Levels of every sku, by sku (from the read model: may trail by a moment)."""
        with projections.engine.connect() as conn:
            levels, total = list_stock(conn, page=page, size=size, low_only=low)
        items = [StockOut.of(level) for level in levels]
        return StockPage(items=items, total=total, page=page, size=size)

    @admin.get("/orders/{order_id}/stock", response_model=OrderStockOut)
    def order_stock(order_id: UUID) -> OrderStockOut:
        """What inventory knows of one order: its lines, payment and reservation."""
        return OrderStockOut(**app.order_stock(order_id).__dict__)

    @admin.get("/reservations", response_model=ReservationPage)
    def reservations(
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> ReservationPage:
        """Every order's stock record, by order id (from the read model: may trail)."""
        with projections.engine.connect() as conn:
            found, total = list_reservations(conn, page=page, size=size)
        items = [ReservationOut(**record.__dict__) for record in found]
        return ReservationPage(items=items, total=total, page=page, size=size)

    api.include_router(admin)
    return api
