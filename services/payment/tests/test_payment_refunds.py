"""The refund arithmetic of a return, on its own: tax shares rounded half-even, shipping
only under `on_full_return` and only with the order's last units, once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from orderflow_payment.domain import Prices
from orderflow_payment.refunds import refund_for_return, tax_share

# 10 x 1.00 with a 2.5 % tax on subtotal + shipping (0.00): shares fall on half cents
TEN = Prices(
    "EUR", {"A": Decimal("1.00")}, {"A": 10}, Decimal("10.00"), Decimal(0), Decimal("0.25")
)
# the sample order: 2 x 19.90, shipping 4.90, tax 8.49
SAMPLE = Prices(
    "EUR", {"S": Decimal("19.90")}, {"S": 2}, Decimal("39.80"), Decimal("4.90"), Decimal("8.49")
)


@pytest.mark.parametrize(
    ("amount", "share"),
    [("1.00", "0.02"), ("3.00", "0.08"), ("5.00", "0.12"), ("10.00", "0.25")],
    ids=["0.025 -> 0.02", "0.075 -> 0.08", "0.125 -> 0.12", "all of it"],
)
def test_tax_shares_round_half_even(amount: str, share: str) -> None:
    assert tax_share(TEN, Decimal(amount)) == Decimal(share)


def test_a_free_order_has_no_tax_to_share() -> None:
    free = Prices("EUR", {"A": Decimal(0)}, {"A": 1}, Decimal(0), Decimal(0), Decimal(0))
    assert tax_share(free, Decimal(0)) == 0


def test_never_keeps_the_shipping_even_when_everything_comes_back() -> None:
    due = refund_for_return(SAMPLE, {"S": 2}, {}, policy="never", shipping_refunded=False)
    assert (due.amount, due.shipping) == (Decimal("47.36"), False)


@pytest.mark.parametrize(
    ("returned", "before", "amount", "shipping"),
    [
        ({"S": 2}, {}, "53.19", True),
        ({"S": 1}, {}, "23.68", False),
        ({"S": 1}, {"S": 1}, "29.51", True),
    ],
)
def test_on_full_return_the_last_units_bring_the_shipping_and_its_tax(
    returned: dict[str, int], before: dict[str, int], amount: str, shipping: bool
) -> None:
    due = refund_for_return(
        SAMPLE, returned, Counter(before), policy="on_full_return", shipping_refunded=False
    )
    assert (due.amount, due.shipping) == (Decimal(amount), shipping)


def test_the_shipping_is_refunded_once() -> None:
    due = refund_for_return(SAMPLE, {"S": 2}, {}, policy="on_full_return", shipping_refunded=True)
    assert (due.amount, due.shipping) == (Decimal("47.36"), False)


def test_a_sku_not_in_the_order_refunds_nothing_and_is_named() -> None:
    due = refund_for_return(SAMPLE, {"S": 1, "X": 3}, {}, policy="never", shipping_refunded=False)
    assert (due.amount, due.unpriced) == (Decimal("23.68"), ["X"])
