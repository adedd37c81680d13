"""The six services as the store tools see them: settings from the environment, and the
service's own `build(settings)` for its application, handlers, input topics and read models.

Nothing is wired twice: `load(name)` reads `<NAME>_*` exactly as `python -m orderflow_<name>`
would (plus the `--database-url` / `--data-dir` overrides) and calls the service's `build`.
The service packages are imported only when a command asks for one of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from orderflow_runtime.service import ServiceSpec
from orderflow_runtime.settings import ServiceSettings
from pydantic import SecretStr

SERVICES = ("catalog", "cart", "payment", "inventory", "fulfillment", "notification")


@dataclass(frozen=True)
class ServiceInfo:
    """How to build one service and how to find its aggregates by an order id or sku."""

    name: str
    settings_class: str
    """`module:Class` of its settings."""
    ids_of_order: tuple[str, ...] = ()
    """`module:function` deriving an aggregate id from an order id (`state` tries them)."""
    ids_of_sku: tuple[str, ...] = ()
    """`module:function` deriving an aggregate id from a sku."""
    ignored: frozenset[str] = field(default_factory=frozenset)
    """Attributes `replay` does not compare by default: stamped with the clock of the
    moment they were applied (so a replay always differs), not decided from the events."""
    outside_events: frozenset[str] = field(default_factory=frozenset)
    """Event classes (`Aggregate.Event` qualnames) that no handler makes: a background task
    or the API does. Their causation stamp may name an input event all the same (the
    dispatcher stamps a notice's sends with the event that asked for it), so `replay`
    does not take them for the handlers' work."""

    @property
    def build(self) -> Callable[..., ServiceSpec]:
        build: Callable[..., ServiceSpec] = _resolve(f"orderflow_{self.name}.main:build")
        return build

    def settings(self, **overrides: Any) -> ServiceSettings:
        """The settings the service would read from its environment, with `overrides`."""
        cls = _resolve(self.settings_class)
        settings = cls(**{"service_name": self.name, **overrides})  # kwargs win over the env
        assert isinstance(settings, ServiceSettings)
        return settings

    def candidate_ids(self, text: str) -> list[UUID]:
        """Aggregate ids `text` may stand for: itself (a UUID), or one derived from it."""
        ids: list[UUID] = []
        try:
            given = UUID(text)
        except ValueError:
            given = None
        if given is not None:
            ids.append(given)
            ids.extend(_resolve(f)(given) for f in self.ids_of_order)
        ids.extend(_resolve(f)(text) for f in self.ids_of_sku)
        return list(dict.fromkeys(ids))


REGISTRY: Mapping[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo(
            "catalog",
            "orderflow_catalog.settings:CatalogSettings",
            ids_of_sku=("orderflow_catalog.domain:product_id",),
        ),
        ServiceInfo(
            "cart",
            "orderflow_cart.settings:CartSettings",
            ignored=frozenset({"status_since"}),
        ),
        ServiceInfo(
            "payment",
            "orderflow_payment.settings:PaymentSettings",
            ids_of_order=("orderflow_payment.domain:payment_id_of",),
        ),
        ServiceInfo(
            "inventory",
            "orderflow_inventory.settings:InventorySettings",
            ids_of_sku=("orderflow_inventory.domain:stock_id",),
        ),
        ServiceInfo(
            "fulfillment",
            "orderflow_fulfillment.settings:FulfillmentSettings",
            ids_of_order=("orderflow_fulfillment.domain:shipment_id_of",),
            ids_of_sku=("orderflow_fulfillment.domain:product_id_of",),
            ignored=frozenset({"shipped_at", "stopped_at", "authorized_at", "rejected_at"}),
        ),
        ServiceInfo(
            "notification",
            "orderflow_notification.settings:NotificationSettings",
            ignored=frozenset({"traceparent"}),  # a new span per handling, not a decision
            outside_events=frozenset({"Notice.Claimed", "Notice.Sent", "Notice.Failed"}),
        ),
    )
}


class UnknownServiceError(ValueError):
    pass


def info(name: str) -> ServiceInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(SERVICES)
        raise UnknownServiceError(f"unknown service {name!r}: one of {known}") from None


def overrides(database_url: str | None, data_dir: Path | None) -> dict[str, Any]:
    """Settings the command line overrides (`--database-url`, `--data-dir`)."""
    values: dict[str, Any] = {}
    if database_url is not None:
        values["database_url"] = SecretStr(database_url) if database_url else None
    if data_dir is not None:
        values["data_dir"] = data_dir
    return values


def load(name: str, **settings: Any) -> tuple[ServiceSettings, ServiceSpec]:
    """The service's settings (environment + overrides) and its `build(settings)`.

    No HTTP server, relay, inbox or background task runs: those start only in
    `run_service`. `build` creates the read-model tables if they are missing.
    """
    service = info(name)
    resolved = service.settings(**settings)
    return resolved, service.build(resolved)


def close(spec: ServiceSpec) -> None:
    if spec.projections is not None:
        spec.projections.engine.dispose()
    spec.app.close()


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def describe(names: Iterable[str] = SERVICES) -> list[str]:
    return [f"{n}: {REGISTRY[n].settings_class}" for n in names]
