"""Rate shopping: zones, the sandbox carriers' rate tables, and the cheapest fitting quote.

Pure functions over settings; no I/O. A service level meets a shipping method when
it is at least as fast: an express service also satisfies a standard order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from orderflow_events import ShippingMethod
from pydantic import BaseModel, ConfigDict, Field

EU_COUNTRIES: Final = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
SPEED: Final = {ShippingMethod.STANDARD: 0, ShippingMethod.EXPRESS: 1}


class Zone(StrEnum):
    DOMESTIC = "domestic"
    EU = "eu"
    WORLD = "world"


class RateBand(BaseModel):
    """The price of a parcel up to `max_grams` (bands are searched in ascending order)."""

    model_config = ConfigDict(frozen=True)

    max_grams: int = Field(gt=0, description="Heaviest parcel of this band, in grams.")
    price: Decimal = Field(ge=0, description="Label price, in the shipping currency.")


class CarrierRates(BaseModel):
    """One sandbox carrier: its name, tracking prefix and rates per service level and zone."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="e.g. 'parcelco'.")
    tracking_prefix: str = Field(pattern=r"^[A-Z]{2}$", description="e.g. 'PC'.")
    rates: dict[ShippingMethod, dict[Zone, list[RateBand]]] = Field(
        description="Rate bands by service level and zone; a missing entry: not offered."
    )


@dataclass(frozen=True)
class Quote:
    carrier: str
    service_level: ShippingMethod
    price: Decimal


def zone_of(destination: str, warehouse: str) -> Zone:
    if destination == warehouse:
        return Zone.DOMESTIC
    return Zone.EU if destination in EU_COUNTRIES else Zone.WORLD


def quotes(
    carriers: Sequence[CarrierRates], zone: Zone, grams: int, method: ShippingMethod
) -> list[Quote]:
    """Every offer that takes a parcel of `grams` to `zone` at least as fast as `method`."""
    found: list[Quote] = []
    for carrier in carriers:
        for level, zones in carrier.rates.items():
            if SPEED[level] < SPEED[method]:
                continue
            bands = sorted(zones.get(zone, []), key=lambda band: band.max_grams)
            band = next((b for b in bands if grams <= b.max_grams), None)
            if band is not None:
                found.append(Quote(carrier.name, level, band.price))
    return found


def cheapest(
    carriers: Sequence[CarrierRates], zone: Zone, grams: int, method: ShippingMethod
) -> Quote | None:
    """The cheapest offer; ties go to the slower service, then the carrier's name."""
    offers = quotes(carriers, zone, grams, method)
    return min(offers, key=lambda q: (q.price, SPEED[q.service_level], q.carrier), default=None)


def _bands(*pairs: tuple[int, str]) -> list[RateBand]:
    return [RateBand(max_grams=grams, price=Decimal(price)) for grams, price in pairs]


def _table(prices: dict[Zone, tuple[str, str, str]]) -> dict[Zone, list[RateBand]]:
    """Three bands per zone: up to 1 kg, 5 kg and 30 kg."""
    return {
        zone: _bands((1_000, small), (5_000, medium), (30_000, large))
        for zone, (small, medium, large) in prices.items()
    }


def default_carriers() -> list[CarrierRates]:
    """parcelco is the cheaper standard service, swiftship the cheaper express one."""
    standard, express = ShippingMethod.STANDARD, ShippingMethod.EXPRESS
    d, eu, w = Zone.DOMESTIC, Zone.EU, Zone.WORLD
    return [
        CarrierRates(
            name="parcelco",
            tracking_prefix="PC",
            rates={
                standard: _table(
                    {
                        d: ("4.20", "6.90", "12.50"),
                        eu: ("9.50", "14.00", "25.00"),
                        w: ("18.00", "32.00", "60.00"),
                    }
                ),
                express: _table(
                    {
                        d: ("9.90", "13.90", "24.00"),
                        eu: ("19.00", "27.00", "45.00"),
                        w: ("39.00", "59.00", "99.00"),
                    }
                ),
            },
        ),
        CarrierRates(
            name="swiftship",
            tracking_prefix="SW",
            rates={
                standard: _table({d: ("4.90", "7.50", "13.00"), eu: ("10.50", "15.00", "26.00")}),
                express: _table(
                    {
                        d: ("7.90", "11.50", "19.00"),
                        eu: ("15.90", "22.00", "39.00"),
                        w: ("35.00", "52.00", "89.00"),
                    }
                ),
            },
        ),
    ]
