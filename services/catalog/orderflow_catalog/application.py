"""The catalog's use cases: load a product, change it, save it; return plain values."""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from orderflow_events import Money
from orderflow_runtime.problems import Conflict, NotFound, Unprocessable
from orderflow_runtime.store import EventStoreApplication

from orderflow_catalog.domain import (
    CurrencyChangeError,
    Product,
    ProductDelistedError,
    ProductDetails,
    product_id,
)

SAVE_ATTEMPTS = 3
"""Tries of a change that met a concurrent change of the same product."""


class CatalogApplication(EventStoreApplication):
    name = "Catalog"

    def list_product(
        self, sku: str, details: ProductDetails, price: Money, reorder_point: int | None
    ) -> None:
        """Start selling a new sku; Conflict when the sku exists (even delisted)."""
        if self._find(sku) is not None:
            raise Conflict(f"product {sku} exists", sku=sku)
        try:
            self.save(Product.new(sku, details, price, reorder_point))
        except IntegrityError:  # listed at the same moment by another request
            raise Conflict(f"product {sku} exists", sku=sku) from None

    def update_product(self, sku: str, details: ProductDetails) -> bool:
        """Replace a product's details; False when nothing changed."""
        return self._change(sku, lambda product: product.update(details))

    def change_price(self, sku: str, price: Money) -> bool:
        """Set a new price (same currency as before); False when it is the same price."""
        return self._change(sku, lambda product: product.change_price(price))

    def delist_product(self, sku: str) -> bool:
        """Stop selling a product; False when it was delisted already."""
        return self._change(sku, lambda product: product.delist())

    def _get(self, sku: str) -> Product:
        product = self._find(sku)
        if product is None:
            raise NotFound(f"no product {sku}", sku=sku)
        return product

    def _find(self, sku: str) -> Product | None:
        try:
            product: Product = self.repository.get(product_id(sku))
        except AggregateNotFoundError:
            return None
        return product

    def _change(self, sku: str, change: Callable[[Product], bool]) -> bool:
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            product = self._get(sku)
            try:
                changed = change(product)
            except CurrencyChangeError as error:
                raise Unprocessable(str(error), sku=sku) from None
            except ProductDelistedError as error:
                raise Conflict(str(error), sku=sku) from None
            if not changed:
                return False
            try:
                self.save(product)
                return True
            except IntegrityError:
                # Another request changed the product first (save() dropped the stale
                # cached copy): apply the change again to the current state.
                if attempt == SAVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")
