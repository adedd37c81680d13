"""Request bodies of the cart API, with the limits the contract and the cart impose."""

from __future__ import annotations

import re
from typing import Annotated, Final

from orderflow_events import ShippingMethod, contains_card_number
from orderflow_events.common import Sku
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from orderflow_cart.countries import is_country
from orderflow_cart.domain import MAX_QUANTITY

_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD: Final = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
EMAIL_RE: Final = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+{_TLD})")
"""A dot-atom local part (no quoted strings, no comments) at a DNS name with a real TLD."""


def normalise_email(value: str) -> str:
    """The address with its domain in lower case; ValueError when malformed (not echoed)."""
    match = EMAIL_RE.fullmatch(value) if len(value) <= 254 else None
    if match is None or len(match["local"]) > 64:
        raise ValueError("not a valid email address (name@example.com)")
    return f"{match['local']}@{match['domain'].lower()}"


def _country(value: str) -> str:
    code = value.upper()
    if not is_country(code):
        raise ValueError("not an ISO 3166-1 alpha-2 country code (e.g. DE, US)")
    return code


Email = Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]
Quantity = Annotated[int, Strict(), Field(ge=1, le=MAX_QUANTITY)]
AttributeKey = Annotated[str, Field(min_length=1, max_length=40)]


def _no_card_number(value: str | None) -> str | None:
    if value is not None and contains_card_number(value):
        raise ValueError("looks like a card number; never send one here")
    return value


AttributeValue = Annotated[str, Field(max_length=200), AfterValidator(_no_card_number)]
"""Free text kept with the cart and copied into OrderPlaced: never a card number."""


class RequestBody(BaseModel):
    # extra="forbid": a stray field (say, a card number) is refused, never silently kept
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class AddItem(RequestBody):
    sku: Sku = Field(description="The product's stock keeping unit.")
    quantity: Quantity = Field(description=f"Units to add, 1 to {MAX_QUANTITY} per line.")
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=20,
        description="Optional details, e.g. {'gift_wrap': 'yes'}; keys the product has "
        "(its variant, e.g. size) must match it.",
    )


class SetQuantity(RequestBody):
    quantity: Quantity = Field(description=f"The line's new quantity, 1 to {MAX_QUANTITY}.")


class AddressIn(RequestBody):
    name: str = Field(min_length=1, max_length=200, description="Recipient's name.")
    line1: str = Field(min_length=1, max_length=200, description="Street and number.")
    line2: str | None = Field(default=None, max_length=200, description="Apartment, suite...")
    city: str = Field(min_length=1, max_length=100, description="City or town.")
    region: str | None = Field(
        default=None, max_length=100, description="State or province code, e.g. 'CA'."
    )
    postal_code: str = Field(min_length=1, max_length=20, description="Postal or ZIP code.")
    country: Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. 'DE'."
    )
    phone: str | None = Field(default=None, max_length=32, description="Phone for the carrier.")


class PaymentIn(RequestBody):
    token: str = Field(
        min_length=1, max_length=256, description="The payment gateway's token for the card."
    )
    brand: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="Card brand, e.g. 'visa'.")
    last4: str = Field(pattern=r"^[0-9]{4}$", description="Last four digits of the card.")


_FREE_TEXT: Final = ("name", "line1", "line2", "city", "region", "postal_code", "phone")
"""Address fields a card number could be typed into: all of them (a postal code or phone
field takes 16 digits as readily as a name does, and the address goes into OrderPlaced)."""


class Checkout(RequestBody):
    email: Email = Field(description="Where order notifications go.")
    shipping_address: AddressIn
    shipping_method: ShippingMethod = Field(description="'standard' or 'express'.")
    payment: PaymentIn = Field(description="A tokenised card: never the card number or CVC.")

    @model_validator(mode="after")
    def _no_card_numbers(self) -> Checkout:
        address = self.shipping_address
        texts = {
            "email": self.email,
            "payment.token": self.payment.token,
            **{f"shipping_address.{name}": getattr(address, name) for name in _FREE_TEXT},
        }
        for field, text in texts.items():
            if text is not None and contains_card_number(text):
                # name the field only: the number must not reach a log or a response
                raise ValueError(f"{field} looks like a card number; send the gateway's token")
        return self


FreeText = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_no_card_number)]
"""A reason in the customer's words: it goes into public events, so never a card number."""


class CancelOrder(RequestBody):
    reason: FreeText | None = Field(default=None, description="The customer's words, if any.")


class ReturnLineIn(RequestBody):
    sku: Sku = Field(description="A sku of the order.")
    quantity: Quantity = Field(description="Units to return, at most the units ordered.")


class ReturnOrder(RequestBody):
    lines: list[ReturnLineIn] = Field(
        min_length=1, max_length=50, description="What goes back, per sku."
    )
    reason: FreeText = Field(description="Why, in the customer's words.")

    def quantities(self) -> dict[str, int]:
        """Units per sku (a sku named twice adds up)."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return totals
