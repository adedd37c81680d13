"""Payment-method details that may travel in events, and the guard against card numbers.

Events carry a gateway token, the brand and the last four digits: never a card
number (PAN) or CVC. Any string field of these models that contains a 13-19 digit
number passing the Luhn check is refused, without echoing the value.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field, model_validator

from orderflow_events.common import ContractModel

_PAN_CANDIDATE: Final = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")

CardBrand = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
"""Lower-case card brand as the gateway names it: visa, mastercard, amex, discover, ..."""

Last4 = Annotated[str, Field(pattern=r"^[0-9]{4}$")]
"""Exactly the last four digits of the card number."""


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when `text` holds a 13-19 digit number (spaces or dashes allowed) passing Luhn."""
    for match in _PAN_CANDIDATE.finditer(text):
        if luhn_valid(re.sub(r"[ -]", "", match.group())):
            return True
    return False


class CardSafeModel(ContractModel):
    """Refuses a card number in any of its own string fields."""

    @model_validator(mode="after")
    def _no_card_numbers(self) -> CardSafeModel:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, str) and contains_card_number(value):
                # Name the field only: the value must not reach any log or error.
                raise ValueError(f"field {name!r} looks like a card number; send a token")
        return self


class PaymentMethod(CardSafeModel):
    """How the customer pays: a gateway token plus what may be shown to them."""

    token: str = Field(
        min_length=1,
        max_length=256,
        description="Opaque payment-gateway token for the card; never the card number.",
    )
    brand: CardBrand = Field(description="Card brand, lower case, e.g. 'visa'.")
    last4: Last4 = Field(description="Last four digits of the card number, for receipts.")
