"""Money: an exact decimal amount in an ISO 4217 currency, a decimal string in JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any, Final

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from orderflow_events.common import ContractModel
from orderflow_events.currencies import ACTIVE_CURRENCIES, MINOR_UNITS

AMOUNT_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?$"
_AMOUNT_RE: Final = re.compile(AMOUNT_PATTERN)


class CurrencyMismatch(ValueError):  # noqa: N818 (a name of the public contract)
    """Two amounts in different currencies were combined."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} with {right}")
        self.left = left
        self.right = right


def _parse_amount(value: Any) -> Decimal:
    # Floats are refused outright: 0.1 + 0.2 is how money goes wrong.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("amount must be a decimal string, an int or a Decimal, never a float")
    if isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
        raise ValueError("amount must be a plain non-negative decimal string such as '12.50'")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError("amount is not a decimal number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("amount must be finite and not negative")
    return amount.copy_abs()  # turns -0 into 0


Amount = Annotated[
    Decimal,
    PlainValidator(_parse_amount),
    PlainSerializer(lambda amount: format(amount, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN}),
]
"""A non-negative decimal, serialised as a plain decimal string ("12.50", never 1.25E+1)."""


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)."""
    return MINOR_UNITS[currency]


_QUANTUM: Final = {code: Decimal(1).scaleb(-places) for code, places in MINOR_UNITS.items()}


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round `amount` to the minor unit of `currency` (banker's rounding by default)."""
    return amount.quantize(_QUANTUM[currency], rounding=rounding)


class Money(ContractModel):
    """An amount of money, always written with exactly the currency's minor-unit decimals."""

    amount: Amount = Field(
        description="Non-negative amount as a decimal string with the currency's "
        "minor-unit decimals, e.g. '12.50' EUR or '1200' JPY. Never a JSON number."
    )
    currency: str = Field(
        description="Active ISO 4217 currency code, e.g. 'EUR'.", pattern=r"^[A-Z]{3}$"
    )

    @model_validator(mode="after")
    def _check(self) -> Money:
        if self.currency not in ACTIVE_CURRENCIES:
            raise ValueError(f"{self.currency} is not an active ISO 4217 currency code")
        exact = quantize(self.amount, self.currency)
        if exact != self.amount:
            places = minor_units(self.currency)
            raise ValueError(f"{self.currency} amounts have at most {places} decimals")
        # One canonical form ("12.5" -> "12.50") so equal amounts serialise equally;
        # the model is frozen, hence object.__setattr__ (this runs during validation).
        object.__setattr__(self, "amount", exact)
        return self

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Money rounded to the currency's minor unit: `Money.of("12.505", "EUR")` is 12.50."""
        return cls(amount=quantize(_parse_amount(amount), currency), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=Decimal(0), currency=currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """The sum of `amounts`, all in `currency` (zero when empty)."""
        result = cls.zero(currency)
        for money in amounts:
            result = result + money
        return result

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __mul__(self, quantity: int) -> Money:
        """The price of `quantity` units."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return NotImplemented
        return Money(amount=self.amount * quantity, currency=self.currency)

    def __str__(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"
