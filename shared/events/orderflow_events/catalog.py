"""Events of the catalog service on `catalog.events`, keyed by sku."""

from typing import Annotated, ClassVar

from pydantic import Field, Strict

from orderflow_events.base import SkuEvent
from orderflow_events.common import Count, UtcDateTime
from orderflow_events.money import Money
from orderflow_events.topics import CATALOG_EVENTS

Grams = Annotated[int, Strict(), Field(gt=0, le=1_000_000)]
"""A positive weight in grams (up to a tonne)."""

HttpUrlText = Annotated[str, Field(pattern=r"^https?://\S{1,2000}$")]
"""An http(s) URL kept as text."""


class CatalogEvent(SkuEvent):
    topic: ClassVar[str] = CATALOG_EVENTS


class ProductListed(CatalogEvent):
    """A product became available for sale; inventory creates its stock item."""

    type_stem: ClassVar[str] = "catalog.product_listed"

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    description: str = Field(default="", max_length=5000, description="Long description.")
    category: str = Field(min_length=1, max_length=100, description="Category, e.g. 'apparel'.")
    image_urls: list[HttpUrlText] = Field(
        default_factory=list, max_length=20, description="Product images, first is the main one."
    )
    weight_grams: Grams = Field(description="Shipping weight of one unit, in grams.")
    price: Money = Field(description="Unit price, tax included or not as the shop is set up.")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Variant attributes, e.g. {'size': 'M'}."
    )
    reorder_point: Count | None = Field(
        default=None, description="Stock level at which inventory reorders; None: its default."
    )
    listed_at: UtcDateTime = Field(description="When the product was listed.")


class ProductUpdated(CatalogEvent):
    """Details changed, as now in full (the price changes with PriceChanged)."""

    type_stem: ClassVar[str] = "catalog.product_updated"

    name: str = Field(min_length=1, max_length=200, description="Display name, as now.")
    description: str = Field(default="", max_length=5000, description="Long description, as now.")
    category: str = Field(min_length=1, max_length=100, description="Category, e.g. 'apparel'.")
    image_urls: list[HttpUrlText] = Field(
        default_factory=list, max_length=20, description="Product images, first is the main one."
    )
    weight_grams: Grams = Field(description="Shipping weight of one unit, in grams.")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Variant attributes, as now (the full set)."
    )
    updated_at: UtcDateTime = Field(description="When the product was updated.")


class PriceChanged(CatalogEvent):
    """The unit price of a product changed; orders already placed keep their price."""

    type_stem: ClassVar[str] = "catalog.price_changed"

    price: Money = Field(description="The new unit price.")
    previous_price: Money = Field(description="The unit price before this change.")
    changed_at: UtcDateTime = Field(description="When the new price took effect.")


class ProductDelisted(CatalogEvent):
    """The product can no longer be ordered."""

    type_stem: ClassVar[str] = "catalog.product_delisted"

    delisted_at: UtcDateTime = Field(description="When the product was delisted.")
