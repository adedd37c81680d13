"""What the use cases return and the API shows: carts, receipts and orders as values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow_events import CancelReason, Money
from pydantic import BaseModel, ConfigDict, Field

from orderflow_cart.domain import Cart
from orderflow_cart.order import Fact, Order, OrderStatus
from orderflow_cart.pricing import Quote
from orderflow_cart.product import Product
from orderflow_cart.status import ReturnStatus


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CartLineView(View):
    sku: str = Field(description="The stock keeping unit.")
    name: str = Field(description="Product name, as the catalog has it now.")
    quantity: int = Field(description="Units in the cart.")
    unit_price: Money = Field(description="Current unit price.")
    line_total: Money = Field(description="quantity x unit_price.")
    attributes: dict[str, str] = Field(description="Attributes given when adding.")
    available: bool = Field(description="False once the product is delisted: checkout refuses.")


class CartView(View):
    cart_id: UUID
    checked_out: bool = Field(description="True once checked out: the cart is then closed.")
    order_id: UUID | None = Field(description="The order made of this cart, once checked out.")
    lines: list[CartLineView]
    item_count: int = Field(description="Units over all lines.")
    subtotal: Money = Field(description="Sum of the available lines at current prices.")


class Amounts(View):
    subtotal: Money = Field(description="Sum of quantity x unit_price over the lines.")
    shipping_fee: Money = Field(description="By method and weight.")
    tax: Money = Field(description="rate x (subtotal + shipping_fee), rounded half to even.")
    total: Money = Field(description="subtotal + shipping_fee + tax: the amount authorised.")


class Receipt(View):
    order_id: UUID
    status: OrderStatus
    subtotal: Money = Field(description="Sum of quantity x unit_price over the lines.")
    shipping_fee: Money = Field(description="By method and weight.")
    tax: Money = Field(description="rate x (subtotal + shipping_fee), rounded half to even.")
    total: Money = Field(description="subtotal + shipping_fee + tax: the amount authorised.")
    tax_rate: Decimal = Field(description="The rate applied, e.g. 0.19.")
    weight_grams: int = Field(description="Shipping weight the fee was computed from.")
    shipping_method: str
    placed_at: datetime


class OrderLineView(View):
    sku: str
    name: str
    quantity: int
    unit_price: Money = Field(description="Price of one unit at checkout.")
    line_total: Money
    attributes: dict[str, str]
    returned: int = Field(default=0, description="Units received back in returns.")


class HistoryEntry(View):
    fact: str = Field(description="What happened: placed, payment_authorized, shipped...")
    status: OrderStatus = Field(description="The order's status after it.")
    at: datetime = Field(description="When it happened, as its producer says.")
    ce_type: str | None = Field(
        description="The event that reported (or published) it, e.g. payment.authorized.v1; "
        "None for an alert of cart's own (overdue)."
    )


class Shipping(View):
    method: str
    address: dict[str, str | None]


class Tracking(View):
    shipment_id: UUID
    carrier: str
    service_level: str
    tracking_number: str
    shipped_at: datetime


class PaymentSummary(View):
    brand: str
    last4: str


class CancellationView(View):
    status: str = Field(description="requested, refused (it shipped first) or cancelled.")
    reason: CancelReason = Field(description="Why: the cancel's reason, else the request's.")
    detail: str | None
    requested_at: datetime | None = Field(description="When cancellation was asked for.")
    cancelled_at: datetime | None
    refused_at: datetime | None = Field(description="When the shipment overtook the request.")


class ReturnLineView(View):
    sku: str
    quantity: int
    condition: str | None = None


class ReturnView(View):
    return_id: UUID
    status: ReturnStatus = Field(description="requested, authorized, rejected or received.")
    lines: list[ReturnLineView] = Field(description="Units asked to be returned.")
    reason: str | None
    requested_at: datetime | None
    rma: str | None = Field(description="Fulfillment's return authorisation, once authorised.")
    label: dict[str, Any] | None = Field(description="The return label: carrier, tracking, url.")
    rejection: str | None = Field(description="Why fulfillment refused the return.")
    received: list[ReturnLineView] = Field(description="Units received, with their condition.")
    refunded: Money


class RefundView(View):
    refund_id: UUID
    amount: Money
    return_id: UUID | None = Field(description="The return refunded; None: a cancel.")
    at: datetime


class OrderView(View):
    order_id: UUID
    status: OrderStatus = Field(description="Derived from every fact recorded (see docs).")
    status_since: datetime = Field(description="When the order entered its status.")
    status_history: list[HistoryEntry] = Field(description="Every fact, in arrival order.")
    problems: list[dict[str, Any]] = Field(description="Refusals: payment declined, no stock.")
    lines: list[OrderLineView]
    amounts: Amounts
    shipping: Shipping
    payment: PaymentSummary
    customer_email: str
    tracking: Tracking | None = Field(description="Carrier and tracking number once shipped.")
    placed_at: datetime
    cancellation: CancellationView | None = Field(description="A cancel asked for, or done.")
    returns: list[ReturnView] = Field(description="Returns asked for, in order.")
    refunds: list[RefundView] = Field(description="Money given back, in order.")
    refunded: Money = Field(description="Sum of the refunds.")
    overdue: bool = Field(description="Past its deadline after shipment: operators alerted.")


class OrderSummary(View):
    order_id: UUID
    status: OrderStatus
    placed_at: datetime
    total: Money
    item_count: int = Field(description="Units over all lines.")


class CustomerOrders(View):
    customer_email: str = Field(description="The address, as matched (lower case).")
    orders: list[OrderSummary] = Field(description="Newest first.")


def cart_view(cart: Cart, products: Mapping[str, Product], currency: str) -> CartView:
    lines = [
        CartLineView(
            sku=line.sku,
            name=product.name,
            quantity=line.quantity,
            unit_price=product.unit_price,
            line_total=product.unit_price * line.quantity,
            attributes=line.attributes,
            available=product.active and product.currency == currency,
        )
        for line in cart.lines.values()
        if (product := products.get(line.sku)) is not None
    ]
    return CartView(
        cart_id=cart.id,
        checked_out=cart.checked_out,
        order_id=cart.order_id,
        lines=lines,
        item_count=sum(line.quantity for line in lines),
        subtotal=Money.total((line.line_total for line in lines if line.available), currency),
    )


def receipt(order: Order, quote: Quote, method: str) -> Receipt:
    sums = amounts(order)
    return Receipt(
        order_id=order.id,
        status=order.status,
        subtotal=sums.subtotal,
        shipping_fee=sums.shipping_fee,
        tax=sums.tax,
        total=sums.total,
        tax_rate=quote.tax_rate,
        weight_grams=quote.weight_grams,
        shipping_method=method,
        placed_at=order.placed_at,
    )


def amounts(order: Order) -> Amounts:
    currency = order.currency
    return Amounts(
        subtotal=Money(amount=order.subtotal, currency=currency),
        shipping_fee=Money(amount=order.shipping_fee, currency=currency),
        tax=Money(amount=order.tax, currency=currency),
        total=Money(amount=order.total, currency=currency),
    )


def order_view(order: Order) -> OrderView:
    shipped = order.details(Fact.SHIPPED)
    currency = order.currency
    returned = order.returned
    return OrderView(
        order_id=order.id,
        status=order.status,
        status_since=order.status_since,
        status_history=[HistoryEntry.model_validate(entry) for entry in order.history],
        problems=order.problems,
        lines=[_order_line(line, currency, returned) for line in order.lines],
        amounts=amounts(order),
        shipping=Shipping(method=order.shipping_method, address=order.shipping_address),
        payment=PaymentSummary(brand=order.payment["brand"], last4=order.payment["last4"]),
        customer_email=order.customer_email,
        tracking=None if shipped is None else Tracking.model_validate(shipped),
        placed_at=order.placed_at,
        cancellation=_cancellation(order),
        returns=[_return(record, currency) for record in order.returns.values()],
        refunds=[
            RefundView(**{**refund, "amount": Money(amount=refund["amount"], currency=currency)})
            for refund in order.refunds.values()
        ],
        refunded=Money(amount=order.refunded, currency=currency),
        overdue=order.overdue,
    )


def _order_line(
    line: Mapping[str, Any], currency: str, returned: Mapping[str, int]
) -> OrderLineView:
    unit_price = Money(amount=line["unit_price"], currency=currency)
    return OrderLineView(
        sku=line["sku"],
        name=line["name"],
        quantity=line["quantity"],
        unit_price=unit_price,
        line_total=unit_price * line["quantity"],
        attributes=line["attributes"],
        returned=returned.get(line["sku"], 0),
    )


def _cancellation(order: Order) -> CancellationView | None:
    request, cancelled = order.cancel_request, order.cancelled
    if cancelled is not None:
        status = "cancelled"
    elif request is not None:
        status = "refused" if order.cancel_refused_at else "requested"
    else:
        return None
    decided = cancelled or request
    assert decided is not None
    return CancellationView(
        status=status,
        reason=decided["reason"],
        detail=decided["detail"],
        requested_at=request["at"] if request else None,
        cancelled_at=cancelled["at"] if cancelled else None,
        refused_at=order.cancel_refused_at,
    )


def _return(record: Mapping[str, Any], currency: str) -> ReturnView:
    return ReturnView.model_validate(
        {**record, "refunded": Money(amount=record["refunded"], currency=currency)}
    )
