"""The catalog's HTTP API: admin writes (API key) and public reads from the read model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from orderflow_events import Money
from orderflow_events.catalog import Grams, HttpUrlText
from orderflow_events.common import Count, Sku
from orderflow_runtime.http import service_api
from orderflow_runtime.problems import NotFound, install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.security import require_api_key
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from orderflow_catalog.application import CatalogApplication
from orderflow_catalog.domain import ProductDetails
from orderflow_catalog.projections import ProductRow, find_product, search_products

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, description="The product's sku.")]
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=50)]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class DetailsIn(Request):
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    description: str = Field(default="", max_length=5000, description="Long description.")
    category: str = Field(min_length=1, max_length=100, description="Category, e.g. 'apparel'.")
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict, max_length=20, description="Variant attributes, e.g. {'size': 'M'}."
    )
    image_urls: list[HttpUrlText] = Field(
        default_factory=list, max_length=20, description="http(s) image URLs, main one first."
    )
    weight_grams: Grams = Field(description="Shipping weight of one unit, 1..1,000,000 g.")

    def details(self) -> ProductDetails:
        return ProductDetails(
            name=self.name,
            description=self.description,
            category=self.category,
            attributes=dict(self.attributes),
            image_urls=list(self.image_urls),
            weight_grams=self.weight_grams,
        )


class PriceIn(Request):
    price: Money = Field(
        description="Unit price: a decimal string and an active ISO 4217 currency, "
        "e.g. {'amount': '19.90', 'currency': 'EUR'}; never a JSON number."
    )

    @field_validator("price")
    @classmethod
    def _positive(cls, price: Money) -> Money:
        if price.amount <= 0:
            raise ValueError("a price must be more than zero")
        return price


class ProductIn(DetailsIn, PriceIn):
    sku: Sku = Field(description="Stock keeping unit: 1-64 letters, digits, '.', '_', '-'.")
    reorder_point: Count | None = Field(
        default=None, le=1_000_000, description="Inventory's reorder point; None: its default."
    )


class ProductOut(BaseModel):
    sku: str = Field(description="Stock keeping unit.")
    name: str = Field(description="Display name.")
    description: str = Field(description="Long description.")
    category: str = Field(description="Category.")
    attributes: dict[str, str] = Field(description="Variant attributes.")
    image_urls: list[str] = Field(description="Image URLs, main one first.")
    price: Money = Field(description="Unit price.")
    weight_grams: int = Field(description="Shipping weight of one unit, in grams.")
    active: bool = Field(description="False once delisted.")

    @classmethod
    def of(cls, row: ProductRow) -> ProductOut:
        return cls(**row.__dict__)


class ProductPage(BaseModel):
    items: list[ProductOut] = Field(description="The products of this page.")
    total: int = Field(description="Products matching, over all pages.")
    page: int = Field(description="This page's number, from 1.")
    size: int = Field(description="Page size asked for.")


def create_api(
    app: CatalogApplication, projections: Projections, admin_api_key: SecretStr | None
) -> FastAPI:
    """The catalog API; admin endpoints need `admin_api_key` (X-API-Key)."""
    api = service_api("orderflow catalog")
    install_problem_handlers(api)
    # Depends(require_api_key(...)) is what api_key_dependency() returns; spelled out
    # because that helper is typed `object`, which FastAPI's `dependencies` refuses.
    admin_router = APIRouter(tags=["admin"], dependencies=[Depends(require_api_key(admin_api_key))])
    engine = projections.engine

    def current(sku: str) -> ProductOut:
        projections.catch_up()  # the next read, this one included, sees the write
        with engine.connect() as conn:
            row = find_product(conn, sku)
        if row is None:
            raise NotFound(f"no product {sku}", sku=sku)
        return ProductOut.of(row)

    @admin_router.post("/products", status_code=201, response_model=ProductOut)
    def list_product(body: ProductIn) -> ProductOut:
        """List a new product (-> ProductListed); 409 when the sku exists."""
        app.list_product(body.sku, body.details(), body.price, body.reorder_point)
        return current(body.sku)

    @admin_router.put("/products/{sku}", response_model=ProductOut)
    def update_product(sku: SkuPath, body: DetailsIn) -> ProductOut:
        """Replace a product's details (-> ProductUpdated when something changed)."""
        app.update_product(sku, body.details())
        return current(sku)

    @admin_router.put("/products/{sku}/price", response_model=ProductOut)
    def change_price(sku: SkuPath, body: PriceIn) -> ProductOut:
        """Change the price, same currency (-> PriceChanged with the previous price)."""
        app.change_price(sku, body.price)
        return current(sku)

    @admin_router.delete("/products/{sku}", status_code=204)
    def delist_product(sku: SkuPath) -> Response:
        """Delist a product (-> ProductDelisted); delisting again changes nothing."""
        app.delist_product(sku)
        projections.catch_up()
        return Response(status_code=204)

    @api.get("/products", response_model=ProductPage, tags=["products"])
    def products(
        category: Annotated[str | None, Query(max_length=100)] = None,
        q: Annotated[str | None, Query(max_length=200, description="Text to find")] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ProductPage:
        """Active products, by category and text in name or description (name first)."""
        with engine.connect() as conn:
            rows, total = search_products(conn, category=category, text=q, page=page, size=size)
        return ProductPage(
            items=[ProductOut.of(row) for row in rows], total=total, page=page, size=size
        )

    @api.get("/products/{sku}", response_model=ProductOut, tags=["products"])
    def product(sku: SkuPath) -> ProductOut:
        """One product (delisted ones too, with active false); 404 when unknown."""
        with engine.connect() as conn:
            row = find_product(conn, sku)
        if row is None:
            raise NotFound(f"no product {sku}", sku=sku)
        return ProductOut.of(row)

    api.include_router(admin_router)
    return api
