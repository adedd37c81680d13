"""How much a received return gives back: pure arithmetic over the order's prices.

The returned units at their unit price, plus their share of the order's tax (tax x
their amount / (subtotal + shipping fee), rounded half-even to the currency's minor
unit); plus, under the `on_full_return` policy, the shipping fee and its share of the
tax when this return brings back the order's last units. The caller clips the result
to what is still refundable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from orderflow_events import Money

from orderflow_payment.domain import Prices

RefundShipping = Literal["never", "on_full_return"]


@dataclass(frozen=True)
class ReturnRefund:
    amount: Decimal
    """Before clipping to what is still refundable."""
    shipping: bool
    """The shipping fee and its tax are part of `amount`."""
    unpriced: list[str]
    """Skus the order did not contain: nothing is refunded for them."""


def units(lines: Iterable[Mapping[str, Any]]) -> Counter[str]:
    counted: Counter[str] = Counter()
    for line in lines:
        counted[str(line["sku"])] += int(line["quantity"])
    return counted


def tax_share(prices: Prices, amount: Decimal) -> Decimal:
    """The part of the order's tax that falls on `amount` of its subtotal or shipping."""
    base = prices.subtotal + prices.shipping_fee
    if base == 0:
        return Decimal(0)
    return Money.of(prices.tax * amount / base, prices.currency).amount


def refund_for_return(
    prices: Prices,
    returned: Mapping[str, int],
    returned_before: Mapping[str, int],
    *,
    policy: RefundShipping,
    shipping_refunded: bool,
) -> ReturnRefund:
    """What to refund for `returned` units, given the units of earlier returns."""
    goods = Decimal(0)
    unpriced: list[str] = []
    for sku, quantity in sorted(returned.items()):
        if sku in prices.unit_prices:
            goods += prices.unit_prices[sku] * quantity
        else:
            unpriced.append(sku)
    amount = goods + tax_share(prices, goods)
    back = Counter(returned_before)
    back.update(returned)
    everything_back = all(back[sku] >= n for sku, n in prices.quantities.items())
    shipping = policy == "on_full_return" and not shipping_refunded and everything_back
    if shipping:
        amount += prices.shipping_fee + tax_share(prices, prices.shipping_fee)
    return ReturnRefund(amount, shipping, unpriced)
