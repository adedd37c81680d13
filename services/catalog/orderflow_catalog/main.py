"""The catalog's composition root: settings -> store, read model, API -> ServiceSpec."""

from __future__ import annotations

from orderflow_events import CATALOG_EVENTS
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.service import ServiceSpec, run_service
from orderflow_runtime.settings import ServiceSettings

from orderflow_catalog.api import create_api
from orderflow_catalog.application import CatalogApplication
from orderflow_catalog.mapping import to_integration
from orderflow_catalog.projections import ProductsReadModel
from orderflow_catalog.settings import CatalogSettings


def build(settings: ServiceSettings) -> ServiceSpec:
    """Wire the catalog; it publishes `catalog.events` and consumes nothing."""
    app = CatalogApplication(settings)
    projections = Projections(app, [ProductsReadModel()], read_model_engine(settings))
    return ServiceSpec(
        app,
        output_topic=CATALOG_EVENTS,
        to_integration=to_integration,
        api=create_api(app, projections, settings.admin_api_key),
        projections=projections,
    )


def main() -> None:
    run_service(CatalogSettings(service_name="catalog"), build)
