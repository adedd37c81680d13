"""Catalog unit-test fixtures: the application on a SQLite store in tmp_path, the API."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from orderflow_catalog.api import create_api
from orderflow_catalog.application import CatalogApplication
from orderflow_catalog.projections import ProductsReadModel
from orderflow_catalog.settings import CatalogSettings
from orderflow_runtime.projections import Projections, read_model_engine

ADMIN = {"X-API-Key": "secret-admin-key"}


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's CATALOG_* variables."""
    for name in list(os.environ):
        if name.startswith("CATALOG_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> CatalogSettings:
    return CatalogSettings(data_dir=tmp_path, admin_api_key=ADMIN["X-API-Key"])


@pytest.fixture
def app(settings: CatalogSettings) -> Iterator[CatalogApplication]:
    application = CatalogApplication(settings)
    yield application
    application.close()


@pytest.fixture
def projections(app: CatalogApplication, settings: CatalogSettings) -> Iterator[Projections]:
    projections = Projections(app, [ProductsReadModel()], read_model_engine(settings))
    yield projections
    projections.engine.dispose()


@pytest.fixture
def client(
    app: CatalogApplication, projections: Projections, settings: CatalogSettings
) -> Iterator[TestClient]:
    with TestClient(create_api(app, projections, settings.admin_api_key)) as test_client:
        yield test_client


BodyFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers of an admin request."""
    return dict(ADMIN)


@pytest.fixture
def product_body() -> BodyFactory:
    """`product_body(sku, **overrides)`: a valid POST /products body."""
    return _product_body


def _product_body(sku: str = "TSHIRT-RED-M", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": sku,
        "name": "T-shirt",
        "description": "Organic cotton, red.",
        "category": "apparel",
        "attributes": {"size": "M", "colour": "red"},
        "image_urls": ["https://img.example.com/tshirt-red.jpg"],
        "price": {"amount": "19.90", "currency": "EUR"},
        "weight_grams": 180,
    }
    body.update(overrides)
    return body
