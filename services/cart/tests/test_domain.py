"""The cart's guards, and the order's status derived from facts in any order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from orderflow_cart.domain import (
    MAX_LINES,
    Cart,
    ConflictError,
    NotFoundError,
    UnacceptableError,
)
from orderflow_cart.order import Fact, Order, OrderStatus
from orderflow_cart.product import Product

from .conftest import T0


def product(sku: str = "SKU-1", **attributes: str) -> Product:
    return Product(sku, "A thing", Decimal("10.00"), "EUR", 100, dict(attributes))


def add(cart: Cart, sku: str, quantity: int, **attributes: str) -> None:
    cart.add(sku, quantity, dict(attributes), product=product(sku), currency="EUR")


def test_adding_a_sku_again_adds_units_up_to_99() -> None:
    cart = Cart()
    add(cart, "SKU-1", 60)
    add(cart, "SKU-1", 39)

    assert cart.lines["SKU-1"].quantity == 99
    with pytest.raises(UnacceptableError, match="1 to 99"):
        add(cart, "SKU-1", 1)


def test_a_cart_holds_at_most_50_lines() -> None:
    cart = Cart()
    for n in range(MAX_LINES):
        add(cart, f"SKU-{n}", 1)

    with pytest.raises(UnacceptableError, match="at most 50 lines"):
        add(cart, "ONE-MORE", 1)
    add(cart, "SKU-0", 1)  # an existing line still takes units


def test_unknown_delisted_foreign_currency_or_other_variant_is_refused() -> None:
    cart = Cart()
    delisted = product("OLD")
    delisted.delist()

    with pytest.raises(UnacceptableError, match="unknown sku"):
        cart.add("NOPE", 1, {}, product=None, currency="EUR")
    with pytest.raises(UnacceptableError, match="no longer sold"):
        cart.add("OLD", 1, {}, product=delisted, currency="EUR")
    with pytest.raises(UnacceptableError, match="priced in EUR, not USD"):
        cart.add("SKU-1", 1, {}, product=product(), currency="USD")
    with pytest.raises(UnacceptableError, match="size"):
        cart.add("M", 1, {"size": "L"}, product=product("M", size="M"), currency="EUR")
    cart.add("M", 1, {"size": "M", "gift": "yes"}, product=product("M", size="M"), currency="EUR")
    assert cart.lines["M"].attributes == {"size": "M", "gift": "yes"}


def test_lines_change_and_a_checked_out_cart_refuses_every_change() -> None:
    cart = Cart()
    add(cart, "A", 1)
    add(cart, "B", 2)
    cart.set_quantity("A", 5)
    cart.remove("B")
    with pytest.raises(NotFoundError):
        cart.remove("B")
    with pytest.raises(UnacceptableError):
        cart.set_quantity("A", 0)

    order_id = uuid4()
    cart.check_out(order_id)

    assert cart.order_id == order_id
    assert {sku: line.quantity for sku, line in cart.lines.items()} == {"A": 5}
    for change in (
        lambda: add(cart, "A", 1),
        lambda: cart.set_quantity("A", 2),
        lambda: cart.remove("A"),
        cart.clear,
        lambda: cart.check_out(uuid4()),
    ):
        with pytest.raises(ConflictError, match="checked out"):
            change()


def test_an_empty_cart_cannot_be_checked_out() -> None:
    cart = Cart()
    add(cart, "A", 1)
    cart.clear()

    with pytest.raises(ConflictError, match="empty"):
        cart.check_out(uuid4())


def new_order() -> Order:
    return Order(
        order_id=uuid4(),
        cart_id=uuid4(),
        customer_email="ada@example.com",
        lines=[
            {
                "sku": "A",
                "name": "A thing",
                "quantity": 1,
                "unit_price": Decimal("10.00"),
                "attributes": {},
                "weight_grams": 100,
            }
        ],
        currency="EUR",
        subtotal=Decimal("10.00"),
        shipping_fee=Decimal("4.90"),
        tax=Decimal("0.00"),
        total=Decimal("14.90"),
        shipping_address={"name": "Ada", "line1": "1 St", "city": "X", "country": "FR"},
        shipping_method="standard",
        payment={"token": "tok_1", "brand": "visa", "last4": "4242"},
        placed_at=T0,
    )


def record(order: Order, fact: Fact, **details: Any) -> bool:
    return order.record(fact, at=T0, ce_type=f"test.{fact.value}.v1", details=details)


def test_status_is_the_furthest_stage_reached_whatever_the_arrival_order() -> None:
    order = new_order()
    assert order.status is OrderStatus.PLACED

    record(order, Fact.STOCK_RESERVED)  # before the authorisation
    assert order.status is OrderStatus.STOCK_RESERVED
    record(order, Fact.PAYMENT_AUTHORIZED)
    assert order.status is OrderStatus.STOCK_RESERVED  # never back
    record(order, Fact.DELIVERED)  # before shipped
    record(order, Fact.SHIPPED, carrier="dhl")
    record(order, Fact.PAYMENT_CAPTURED)

    assert order.status is OrderStatus.DELIVERED
    assert [(h["fact"], h["status"]) for h in order.history] == [
        ("placed", "placed"),
        ("stock_reserved", "stock_reserved"),
        ("payment_authorized", "stock_reserved"),
        ("delivered", "delivered"),
        ("shipped", "delivered"),
        ("payment_captured", "delivered"),
    ]
    assert order.details(Fact.SHIPPED) == {"carrier": "dhl"}


def test_a_repeated_fact_is_a_no_op() -> None:
    order = new_order()
    assert record(order, Fact.PAYMENT_AUTHORIZED, auth_code="A1")
    version = order.version

    assert not record(order, Fact.PAYMENT_AUTHORIZED, auth_code="B2")
    assert order.version == version
    assert order.details(Fact.PAYMENT_AUTHORIZED) == {"auth_code": "A1"}


def test_refusals_are_problems_not_statuses() -> None:
    order = new_order()
    record(order, Fact.PAYMENT_DECLINED, reason="insufficient_funds")
    record(order, Fact.STOCK_RESERVATION_FAILED, unavailable=[{"sku": "A"}])

    assert order.status is OrderStatus.PLACED
    assert [(p["fact"], p.get("reason")) for p in order.problems] == [
        ("payment_declined", "insufficient_funds"),
        ("stock_reservation_failed", None),
    ]
