"""The cart aggregate, and the refusals of the cart service. No I/O here.

The product view is in `product.py`, the order in `order.py`. Refusals are
`CartError`s; the API turns each kind into a problem (404, 409 or 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from uuid import UUID

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate

if TYPE_CHECKING:
    from orderflow_cart.product import Product

NAMESPACE: Final = UUID("5c0f4a52-7a9e-4d8b-b1d6-0c2a6f3e9b17")
MAX_LINES: Final = 50
MAX_QUANTITY: Final = 99


class CartError(Exception):
    """A request the cart service refuses."""


class NotFoundError(CartError):
    """The cart, line or order does not exist."""


class ConflictError(CartError):
    """The request is fine, but the state does not allow it (a checked-out cart)."""


class UnacceptableError(CartError):
    """The values make no sense here (an unknown sku, too many units...)."""


@dataclass
class CartLine:
    sku: str
    quantity: int
    attributes: dict[str, str] = field(default_factory=dict)


class Cart(TracedAggregate):
    """A shopper's cart: one line per sku; closed for changes once checked out."""

    @event("Created")
    def __init__(self) -> None:
        self.lines: dict[str, CartLine] = {}
        self.order_id: UUID | None = None

    @property
    def checked_out(self) -> bool:
        return self.order_id is not None

    def add(
        self,
        sku: str,
        quantity: int,
        attributes: dict[str, str],
        *,
        product: Product | None,
        currency: str,
    ) -> None:
        """Add units of a sku; an existing line gets the units (and the attributes given).

        `product` is the cart's view of the sku (None: never listed).
        """
        self._check_open()
        if product is None:
            raise UnacceptableError(f"unknown sku {sku}")
        product.check_orderable(currency, attributes)
        line = self.lines.get(sku)
        if line is None and len(self.lines) >= MAX_LINES:
            raise UnacceptableError(f"a cart holds at most {MAX_LINES} lines")
        self._check_quantity(quantity + (line.quantity if line else 0))
        self._added(sku, quantity, attributes)

    @event("ItemAdded")
    def _added(self, sku: str, quantity: int, attributes: dict[str, str]) -> None:
        line = self.lines.setdefault(sku, CartLine(sku, 0))
        line.quantity += quantity
        line.attributes.update(attributes)

    def set_quantity(self, sku: str, quantity: int) -> None:
        self._check_open()
        self._line(sku)
        self._check_quantity(quantity)
        self._quantity_set(sku, quantity)

    @event("QuantitySet")
    def _quantity_set(self, sku: str, quantity: int) -> None:
        self.lines[sku].quantity = quantity

    def remove(self, sku: str) -> None:
        self._check_open()
        self._line(sku)
        self._removed(sku)

    @event("ItemRemoved")
    def _removed(self, sku: str) -> None:
        del self.lines[sku]

    def clear(self) -> None:
        self._check_open()
        if self.lines:
            self._cleared()

    @event("Cleared")
    def _cleared(self) -> None:
        self.lines.clear()

    def check_out(self, order_id: UUID) -> None:
        """Close the cart for the order made of it (saved together with that order)."""
        self._check_open()
        if not self.lines:
            raise ConflictError("the cart is empty: add items before checking out")
        self._checked_out(order_id)

    @event("CheckedOut")
    def _checked_out(self, order_id: UUID) -> None:
        self.order_id = order_id

    def _check_open(self) -> None:
        if self.order_id is not None:
            raise ConflictError(f"the cart is checked out (order {self.order_id})")

    def _line(self, sku: str) -> CartLine:
        line = self.lines.get(sku)
        if line is None:
            raise NotFoundError(f"the cart has no line for {sku}")
        return line

    @staticmethod
    def _check_quantity(quantity: int) -> None:
        if not 1 <= quantity <= MAX_QUANTITY:
            raise UnacceptableError(f"a line holds 1 to {MAX_QUANTITY} units, not {quantity}")
