"""The Product aggregate: what the shop sells, at which price. No I/O here.

Domain events store plain values only (str, int, Decimal, lists and dicts of
them); the price is an amount plus a currency code, rebuilt as `Money` on the way out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eventsourcing.domain import event
from orderflow_events import Money
from orderflow_runtime.context import TracedAggregate

NAMESPACE = uuid.UUID("5d1f0c3a-8b8e-4f0e-9a3b-2c6d7e8f9a01")


class CatalogError(Exception):
    """A change the catalog refuses."""


class CurrencyChangeError(CatalogError):
    """A price may change its amount, not its currency."""


class ProductDelistedError(CatalogError):
    """A delisted product can no longer be changed."""


@dataclass(frozen=True)
class ProductDetails:
    """What an admin edits about a product (everything but sku and price)."""

    name: str
    category: str
    weight_grams: int
    description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    image_urls: list[str] = field(default_factory=list)

    def as_event_fields(self) -> dict[str, Any]:
        # Fresh containers: the stored event must never share them with the caller.
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "attributes": dict(self.attributes),
            "image_urls": list(self.image_urls),
            "weight_grams": self.weight_grams,
        }


class Product(TracedAggregate):
    """A product keyed by its sku; its id is derived from the sku."""

    @staticmethod
    def create_id(sku: str) -> uuid.UUID:
        return product_id(sku)

    @classmethod
    def new(
        cls, sku: str, details: ProductDetails, price: Money, reorder_point: int | None
    ) -> Product:
        return cls(
            sku=sku,
            price_amount=price.amount,
            currency=price.currency,
            reorder_point=reorder_point,
            **details.as_event_fields(),
        )

    @event("Listed")
    def __init__(
        self,
        sku: str,
        name: str,
        description: str,
        category: str,
        attributes: dict[str, str],
        image_urls: list[str],
        weight_grams: int,
        price_amount: Decimal,
        currency: str,
        reorder_point: int | None,
    ) -> None:
        self.sku = sku
        self.price_amount = price_amount
        self.currency = currency
        self.reorder_point = reorder_point
        self.active = True
        self._set_details(name, description, category, attributes, image_urls, weight_grams)

    @property
    def price(self) -> Money:
        return Money(amount=self.price_amount, currency=self.currency)

    @property
    def details(self) -> ProductDetails:
        return ProductDetails(
            name=self.name,
            description=self.description,
            category=self.category,
            attributes=dict(self.attributes),
            image_urls=list(self.image_urls),
            weight_grams=self.weight_grams,
        )

    def update(self, details: ProductDetails) -> bool:
        """Replace the details; False (and no event) when nothing changed."""
        self._require_active()
        if details == self.details:
            return False
        self._updated(sku=self.sku, **details.as_event_fields())
        return True

    def change_price(self, price: Money) -> bool:
        """Set a new price in the same currency; False (and no event) when it is the same."""
        self._require_active()
        if price.currency != self.currency:
            raise CurrencyChangeError(
                f"{self.sku} is priced in {self.currency}; a price in {price.currency} is refused"
            )
        if price.amount == self.price_amount:
            return False
        self._price_changed(
            sku=self.sku,
            currency=self.currency,
            price_amount=price.amount,
            previous_amount=self.price_amount,
        )
        return True

    def delist(self) -> bool:
        """Stop selling the product; False when it was delisted already."""
        if not self.active:
            return False
        self._delisted(sku=self.sku)
        return True

    def _require_active(self) -> None:
        if not self.active:
            raise ProductDelistedError(f"{self.sku} is delisted")

    # Every event names its sku (and a price its currency), so that the relay can map
    # one stored event to a public one without loading the product.
    @event("Updated")
    def _updated(
        self,
        sku: str,
        name: str,
        description: str,
        category: str,
        attributes: dict[str, str],
        image_urls: list[str],
        weight_grams: int,
    ) -> None:
        self._set_details(name, description, category, attributes, image_urls, weight_grams)

    @event("PriceChanged")
    def _price_changed(
        self, sku: str, currency: str, price_amount: Decimal, previous_amount: Decimal
    ) -> None:
        self.price_amount = price_amount

    @event("Delisted")
    def _delisted(self, sku: str) -> None:
        self.active = False

    def _set_details(
        self,
        name: str,
        description: str,
        category: str,
        attributes: dict[str, str],
        image_urls: list[str],
        weight_grams: int,
    ) -> None:
        self.name = name
        self.description = description
        self.category = category
        self.attributes = dict(attributes)
        self.image_urls = list(image_urls)
        self.weight_grams = weight_grams


def product_id(sku: str) -> uuid.UUID:
    """The Product id of a sku (deterministic: no lookup table needed)."""
    return uuid.uuid5(NAMESPACE, f"product:{sku}")


# Typed handles on the event classes that @event generates (mypy cannot see them).
ProductListedEvent: type[Any] = Product.Listed  # type: ignore[attr-defined]
ProductUpdatedEvent: type[Any] = Product.Updated  # type: ignore[attr-defined]
PriceChangedEvent: type[Any] = Product.PriceChanged  # type: ignore[attr-defined]
ProductDelistedEvent: type[Any] = Product.Delisted  # type: ignore[attr-defined]
