import json
from decimal import Decimal

import pytest
from orderflow_events import CurrencyMismatch, Money, quantize
from pydantic import ValidationError


def test_amount_is_a_decimal_string_in_json() -> None:
    money = Money(amount="12.5", currency="EUR")

    data = json.loads(money.model_dump_json())

    assert data == {"amount": "12.50", "currency": "EUR"}


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        (Decimal("1E+2"), "EUR", "100.00"),
        (1200, "JPY", "1200"),
        ("5", "KWD", "5.000"),
        ("12.500", "EUR", "12.50"),
        (Decimal("-0"), "EUR", "0.00"),
    ],
)
def test_amounts_are_written_with_the_minor_unit_decimals(
    amount: object, currency: str, written: str
) -> None:
    assert Money.model_validate({"amount": amount, "currency": currency}).model_dump(
        mode="json"
    ) == {"amount": written, "currency": currency}


@pytest.mark.parametrize(
    "amount", [12.5, 1.0, "NaN", "inf", "-1", "1e3", "", " 1", True, Decimal("NaN"), None]
)
def test_floats_non_finite_and_negative_amounts_are_refused(amount: object) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": amount, "currency": "EUR"})


def test_json_numbers_with_a_fraction_are_refused() -> None:
    with pytest.raises(ValidationError, match="never a float"):
        Money.model_validate_json('{"amount": 12.5, "currency": "EUR"}')


@pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", "HRK", "ZZZ"])
def test_currency_must_be_an_active_iso_4217_code(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount="1", currency=currency)


def test_more_decimals_than_the_minor_unit_are_refused() -> None:
    with pytest.raises(ValidationError, match="at most 0 decimals"):
        Money(amount="1.5", currency="JPY")


def test_of_rounds_half_even_to_the_minor_unit() -> None:
    assert Money.of("12.505", "EUR") == Money(amount="12.50", currency="EUR")
    assert Money.of("12.515", "EUR") == Money(amount="12.52", currency="EUR")
    assert quantize(Decimal("7.5"), "JPY") == Decimal(8)


def test_addition_multiplication_and_total() -> None:
    price = Money(amount="19.90", currency="EUR")

    assert price + price == Money(amount="39.80", currency="EUR")
    assert price * 3 == Money(amount="59.70", currency="EUR")
    assert Money.total([price, price], "EUR") == price * 2
    assert Money.total([], "USD") == Money.zero("USD")
    assert str(Money.zero("EUR")) == "0.00 EUR"


def test_adding_different_currencies_raises_currency_mismatch() -> None:
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        _ = Money(amount="1", currency="EUR") + Money(amount="1", currency="USD")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(amount="1.00", currency="EUR")

    with pytest.raises(ValidationError):
        money.amount = Decimal(2)  # type: ignore[misc]
    assert len({money, Money(amount="1", currency="EUR")}) == 1
