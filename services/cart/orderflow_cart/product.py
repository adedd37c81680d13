"""Cart's own view of the catalog: one aggregate per sku, kept from catalog events."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import event
from orderflow_events import Money
from orderflow_runtime.context import TracedAggregate

from orderflow_cart.domain import NAMESPACE, UnacceptableError


def product_id(sku: str) -> UUID:
    return uuid5(NAMESPACE, f"product:{sku}")


class Product(TracedAggregate):
    """Cart's own view of one catalog product, kept from catalog events; keyed by sku."""

    @staticmethod
    def create_id(sku: str) -> UUID:
        return product_id(sku)

    @event("Listed")
    def __init__(
        self,
        sku: str,
        name: str,
        price: Decimal,
        currency: str,
        weight_grams: int,
        attributes: dict[str, str],
    ) -> None:
        self.sku = sku
        self._set_listing(name, price, currency, weight_grams, attributes)

    @event("Relisted")
    def relist(
        self,
        name: str,
        price: Decimal,
        currency: str,
        weight_grams: int,
        attributes: dict[str, str],
    ) -> None:
        self._set_listing(name, price, currency, weight_grams, attributes)

    def _set_listing(
        self, name: str, price: Decimal, currency: str, weight: int, attributes: dict[str, str]
    ) -> None:
        self.name = name
        self.price = price
        self.currency = currency
        self.weight_grams = weight
        self.attributes = dict(attributes)
        self.active = True

    @event("Updated")
    def update(self, name: str, weight_grams: int, attributes: dict[str, str]) -> None:
        self.name = name
        self.weight_grams = weight_grams
        self.attributes = dict(attributes)

    @event("PriceChanged")
    def change_price(self, price: Decimal, currency: str) -> None:
        self.price = price
        self.currency = currency

    def delist(self) -> None:
        if self.active:
            self._delisted()

    @event("Delisted")
    def _delisted(self) -> None:
        self.active = False

    @property
    def unit_price(self) -> Money:
        return Money(amount=self.price, currency=self.currency)

    def check_orderable(self, currency: str, attributes: dict[str, str]) -> None:
        """Raise UnacceptableError unless this product can go into a cart of the shop."""
        if not self.active:
            raise UnacceptableError(f"product {self.sku} is no longer sold")
        if self.currency != currency:
            raise UnacceptableError(
                f"product {self.sku} is priced in {self.currency}, not {currency}"
            )
        for key, value in attributes.items():
            if self.attributes.get(key, value) != value:
                # the sku is the variant: a different size is a different sku
                raise UnacceptableError(f"product {self.sku} has {key}={self.attributes[key]!r}")
