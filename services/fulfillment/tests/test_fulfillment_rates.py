"""Rate shopping over the default sandbox carriers: zones, bands, levels, the cheapest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from orderflow_events import ShippingMethod
from orderflow_fulfillment.rates import (
    CarrierRates,
    Quote,
    RateBand,
    Zone,
    cheapest,
    default_carriers,
    zone_of,
)
from orderflow_fulfillment.settings import FulfillmentSettings

STANDARD, EXPRESS = ShippingMethod.STANDARD, ShippingMethod.EXPRESS


@pytest.mark.parametrize(
    ("destination", "zone"),
    [("DE", Zone.DOMESTIC), ("FR", Zone.EU), ("GB", Zone.WORLD), ("US", Zone.WORLD)],
)
def test_zones_from_a_german_warehouse(destination: str, zone: Zone) -> None:
    assert zone_of(destination, "DE") is zone


def test_standard_goes_with_parcelco_and_express_with_swiftship() -> None:
    carriers = default_carriers()
    assert cheapest(carriers, Zone.DOMESTIC, 510, STANDARD) == Quote(
        "parcelco", STANDARD, Decimal("4.20")
    )
    assert cheapest(carriers, Zone.DOMESTIC, 510, EXPRESS) == Quote(
        "swiftship", EXPRESS, Decimal("7.90")
    )


def test_the_weight_band_sets_the_price() -> None:
    carriers = default_carriers()
    assert cheapest(carriers, Zone.EU, 1_000, STANDARD).price == Decimal("9.50")  # type: ignore[union-attr]
    assert cheapest(carriers, Zone.EU, 1_001, STANDARD).price == Decimal("14.00")  # type: ignore[union-attr]


def test_a_parcel_too_heavy_for_every_carrier_has_no_quote() -> None:
    assert cheapest(default_carriers(), Zone.DOMESTIC, 30_001, STANDARD) is None


def test_an_express_service_meets_a_standard_order_but_not_the_reverse() -> None:
    only_express = CarrierRates(
        name="fastonly",
        tracking_prefix="FO",
        rates={EXPRESS: {Zone.WORLD: [RateBand(max_grams=5_000, price=Decimal("3.00"))]}},
    )
    only_standard = CarrierRates(
        name="slowonly",
        tracking_prefix="SO",
        rates={STANDARD: {Zone.WORLD: [RateBand(max_grams=5_000, price=Decimal("1.00"))]}},
    )
    assert cheapest([only_express], Zone.WORLD, 500, STANDARD) == Quote(
        "fastonly", EXPRESS, Decimal("3.00")
    )
    assert cheapest([only_standard], Zone.WORLD, 500, EXPRESS) is None


def test_carriers_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    table = '[{"name": "onlyone", "tracking_prefix": "OO", "rates": {"standard": {"domestic": [{"max_grams": 2000, "price": "3.10"}]}}}]'  # noqa: E501
    monkeypatch.setenv("FULFILLMENT_CARRIERS", table)
    monkeypatch.setenv("FULFILLMENT_DELIVERY_DELAY_S", "0")
    settings = FulfillmentSettings()
    assert settings.delivery_delay_s == 0
    assert cheapest(settings.carriers, Zone.DOMESTIC, 1_500, STANDARD) == Quote(
        "onlyone", STANDARD, Decimal("3.10")
    )
