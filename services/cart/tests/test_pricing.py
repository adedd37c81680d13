"""Shipping by method and weight, tax by country and region, exact totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from orderflow_cart.pricing import PricedLine, PricingRules, ShippingRate
from orderflow_cart.settings import CartSettings
from orderflow_events import Money


def eur(amount: str) -> Money:
    return Money(amount=amount, currency="EUR")


def line(price: str, quantity: int = 1, grams: int = 100, sku: str = "SKU-1") -> PricedLine:
    return PricedLine(sku, "A thing", quantity, eur(price), grams, {})


@pytest.fixture
def rules() -> PricingRules:
    return CartSettings().pricing_rules()


@pytest.mark.parametrize(
    ("grams", "method", "fee"),
    [
        (1000, "standard", "4.90"),  # the base covers 1 kg
        (1001, "standard", "5.90"),  # one gram over is a started kg
        (2000, "standard", "5.90"),
        (2001, "standard", "6.90"),
        (1000, "express", "9.90"),
        (3500, "express", "15.90"),  # 9.90 + 3 started kg x 2.00
    ],
)
def test_shipping_fee_is_base_plus_every_started_kg_over_one(
    rules: PricingRules, grams: int, method: str, fee: str
) -> None:
    quote = rules.quote([line("10.00", grams=grams)], method, "FR", None)

    assert quote.shipping_fee == eur(fee)
    assert quote.weight_grams == grams


def test_standard_shipping_is_free_from_50_but_express_never(rules: PricingRules) -> None:
    under, at_threshold = [line("49.99", grams=1500)], [line("25.00", quantity=2, grams=1500)]

    assert rules.quote(under, "standard", "FR", None).shipping_fee == eur("5.90")
    assert rules.quote(at_threshold, "standard", "FR", None).shipping_fee == eur("0.00")
    assert rules.quote(at_threshold, "express", "FR", None).shipping_fee == eur("13.90")  # 3 kg


def test_tax_rate_by_region_then_country_then_default(rules: PricingRules) -> None:
    assert rules.tax_rate("DE", None) == Decimal("0.19")
    assert rules.tax_rate("DE", "BY") == Decimal("0.19")  # no regional rate: the country's
    assert rules.tax_rate("US", "CA") == Decimal("0.0725")
    assert rules.tax_rate("US", " ny ") == Decimal("0.04")
    assert rules.tax_rate("US", "US-CA") == Decimal("0.0725")  # the ISO 3166-2 form too
    assert rules.tax_rate("US", "TX") == Decimal(0)
    assert rules.tax_rate("US", None) == Decimal(0)
    assert rules.tax_rate("JP", None) == Decimal(0)


def test_german_order_taxes_subtotal_plus_shipping_and_adds_up_exactly(
    rules: PricingRules,
) -> None:
    lines = [line("19.90", quantity=2, grams=180), line("8.50", grams=350, sku="MUG")]

    quote = rules.quote(lines, "standard", "DE", None)

    assert quote.subtotal == eur("48.30")
    assert quote.shipping_fee == eur("4.90")
    assert quote.tax == eur("10.11")  # 19 % of 53.20 = 10.108
    assert quote.total == eur("63.31")


def test_tax_is_rounded_once_half_to_even() -> None:
    rules = PricingRules(
        currency="EUR",
        shipping={"standard": ShippingRate(base=Decimal(0), per_kg=Decimal(0))},
        tax_rates={"XX": Decimal("0.25")},
    )

    # 25 % of 0.50 is 0.125: half to even gives 0.12 (half up would give 0.13)
    assert rules.quote([line("0.50")], "standard", "XX", None).tax == eur("0.12")
    # 25 % of 0.70 is 0.175: half to even gives 0.18
    assert rules.quote([line("0.70")], "standard", "XX", None).tax == eur("0.18")


def test_amounts_follow_the_currency_minor_unit() -> None:
    rules = PricingRules(
        currency="JPY",
        shipping={"standard": ShippingRate(base=Decimal("500"), per_kg=Decimal("100"))},
        tax_rates={"JP": Decimal("0.10")},
    )
    yen = PricedLine("SKU-1", "A thing", 3, Money(amount="1234", currency="JPY"), 400, {})

    quote = rules.quote([yen], "standard", "JP", None)

    assert quote.subtotal == Money(amount="3702", currency="JPY")
    assert quote.shipping_fee == Money(amount="600", currency="JPY")
    assert quote.tax == Money(amount="430", currency="JPY")  # 430.2
    assert quote.total == Money(amount="4732", currency="JPY")
