"""The cart service's use cases: load, call, save; they return values, never aggregates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_events import Address, CancelReason, PaymentMethod, ShippingMethod
from orderflow_runtime.logs import get_logger
from orderflow_runtime.store import EventStoreApplication

from orderflow_cart.domain import Cart, ConflictError, NotFoundError, UnacceptableError
from orderflow_cart.order import Order
from orderflow_cart.pricing import PricedLine
from orderflow_cart.product import Product
from orderflow_cart.product import product_id as product_id_of
from orderflow_cart.settings import CartSettings
from orderflow_cart.status import CancelOutcome, DeadlineAction, OrderStatus
from orderflow_cart.views import CartView, OrderView, Receipt, cart_view, order_view, receipt

A = TypeVar("A")
R = TypeVar("R")
SAVE_ATTEMPTS = 3
log = get_logger(__name__)


@dataclass(frozen=True)
class CheckoutDetails:
    """What the customer gives at checkout, already validated against the contract."""

    email: str
    address: Address
    method: ShippingMethod
    payment: PaymentMethod


class CartApplication(EventStoreApplication):
    name = "Cart"

    def __init__(self, settings: CartSettings, **env: str) -> None:
        super().__init__(settings, **env)
        self.rules = settings.pricing_rules()
        self.deadlines = settings.deadlines()

    # -- carts

    def create_cart(self) -> UUID:
        cart = Cart()
        self.save(cart)
        return cart.id

    def cart(self, cart_id: UUID) -> CartView:
        return self._cart_view(self._load(cart_id, Cart, "cart"))

    def add_item(
        self, cart_id: UUID, sku: str, quantity: int, attributes: dict[str, str]
    ) -> CartView:
        product = self._find(product_id_of(sku), Product)
        currency = self.rules.currency
        return self._change(
            cart_id,
            lambda cart: cart.add(sku, quantity, attributes, product=product, currency=currency),
        )

    def set_quantity(self, cart_id: UUID, sku: str, quantity: int) -> CartView:
        return self._change(cart_id, lambda cart: cart.set_quantity(sku, quantity))

    def remove_item(self, cart_id: UUID, sku: str) -> CartView:
        return self._change(cart_id, lambda cart: cart.remove(sku))

    def clear(self, cart_id: UUID) -> CartView:
        return self._change(cart_id, lambda cart: cart.clear())

    def _change(self, cart_id: UUID, change: Callable[[Cart], None]) -> CartView:
        """Apply `change` to a fresh copy of the cart; a concurrent write is retried."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            cart = self._load(cart_id, Cart, "cart")
            change(cart)
            try:
                self.save(cart)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS:
                    raise ConflictError("the cart keeps changing; try again") from None
                continue
            return self._cart_view(cart)
        raise AssertionError("unreachable")

    def _cart_view(self, cart: Cart) -> CartView:
        products = {sku: self._find(product_id_of(sku), Product) for sku in cart.lines}
        known = {sku: product for sku, product in products.items() if product is not None}
        return cart_view(cart, known, self.rules.currency)

    # -- checkout and orders

    def checkout(self, cart_id: UUID, details: CheckoutDetails) -> Receipt:
        """Price the cart now, close it and create the order: both in one save."""
        cart = self._load(cart_id, Cart, "cart")
        order_id = uuid4()
        cart.check_out(order_id)
        lines = [
            self._priced_line(sku, ln.quantity, ln.attributes) for sku, ln in cart.lines.items()
        ]
        quote = self.rules.quote(
            lines,
            details.method,
            details.address.country,
            details.address.region,
        )
        order = Order(
            order_id=order_id,
            cart_id=cart.id,
            customer_email=details.email,
            lines=[line_record(line) for line in quote.lines],
            currency=self.rules.currency,
            subtotal=quote.subtotal.amount,
            shipping_fee=quote.shipping_fee.amount,
            tax=quote.tax.amount,
            total=quote.total.amount,
            shipping_address=details.address.model_dump(mode="python"),
            shipping_method=details.method.value,
            payment=details.payment.model_dump(mode="python"),
            placed_at=datetime.now(UTC),
        )
        try:
            self.save(cart, order)
        except IntegrityError:  # a concurrent change or checkout of this cart won
            raise ConflictError("the cart changed during checkout; review it and retry") from None
        log.info("order placed", order_id=str(order_id), total=str(quote.total))
        return receipt(order, quote, details.method.value)

    def _priced_line(self, sku: str, quantity: int, attributes: dict[str, str]) -> PricedLine:
        product = self._find(product_id_of(sku), Product)
        if product is None:
            raise UnacceptableError(f"unknown sku {sku}")
        product.check_orderable(self.rules.currency, attributes)
        return PricedLine(
            sku=sku,
            name=product.name,
            quantity=quantity,
            unit_price=product.unit_price,
            weight_grams=product.weight_grams,
            # the product's own attributes win: the sku is the variant
            attributes={**attributes, **product.attributes},
        )

    def order(self, order_id: UUID) -> OrderView:
        return order_view(self._load(order_id, Order, "order"))

    # -- the order's end: cancellation, deadlines, returns

    def request_cancellation(self, order_id: UUID, detail: str | None) -> CancelOutcome:
        """The customer wants the order stopped; raises TooLateToCancelError once shipped."""
        now = datetime.now(UTC)
        outcome = self._change_order(
            order_id,
            lambda order: order.request_cancellation(CancelReason.CUSTOMER, detail, at=now),
        )
        log.info("cancellation asked for", order_id=str(order_id), outcome=outcome.value)
        return outcome

    def enforce_deadline(self, order_id: UUID, now: datetime) -> tuple[OrderStatus, DeadlineAction]:
        """Act on the order if it is past its deadline; returns its status and the action."""

        def enforce(order: Order) -> tuple[OrderStatus, DeadlineAction]:
            return order.status, order.enforce_deadline(now, self.deadlines)

        return self._change_order(order_id, enforce)

    def request_return(self, order_id: UUID, lines: Mapping[str, int], reason: str) -> UUID:
        """Ask to return units of a shipped order; fulfillment decides. Returns its id."""
        return_id, now = uuid4(), datetime.now(UTC)
        self._change_order(
            order_id, lambda order: order.request_return(return_id, lines, reason, at=now)
        )
        log.info("return requested", order_id=str(order_id), return_id=str(return_id))
        return return_id

    def _change_order(self, order_id: UUID, change: Callable[[Order], R]) -> R:
        """Apply `change` to a fresh copy of the order; a concurrent write is retried."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            order = self._load(order_id, Order, "order")
            result = change(order)
            try:
                self.save(order)
            except IntegrityError:  # the inbox (or another replica) wrote the order first
                if attempt == SAVE_ATTEMPTS:
                    raise ConflictError("the order keeps changing; try again") from None
                continue
            return result
        raise AssertionError("unreachable")

    # -- loading

    def _load(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        found = self._find(aggregate_id, kind)
        if found is None:
            raise NotFoundError(f"{what} {aggregate_id} not found")
        return found

    def _find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None


def line_record(line: PricedLine) -> dict[str, Any]:
    """An order line as `Order.Placed` stores it."""
    return {
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": line.unit_price.amount,
        "attributes": dict(line.attributes),
        "weight_grams": line.weight_grams,
    }
