"""Pick, pack, rate-shop and buy a label: what turns a ready Shipment into a dispatched one.

The same sandbox carriers also sell the prepaid labels of returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID, uuid5

from orderflow_events import Money, ShippingMethod
from orderflow_runtime.logs import get_logger

from orderflow_fulfillment.domain import NAMESPACE, Lines, Shipment, ShipmentStateError
from orderflow_fulfillment.rates import CarrierRates, Quote, cheapest, zone_of
from orderflow_fulfillment.settings import FulfillmentSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Label:
    carrier: str
    service_level: str
    tracking_number: str
    cost: Money


@dataclass(frozen=True)
class ReturnSlip:
    """A prepaid label for a parcel coming back to the warehouse."""

    carrier: str
    tracking_number: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"carrier": self.carrier, "tracking_number": self.tracking_number, "url": self.url}


class Carrier(Protocol):
    name: str

    def buy_label(self, shipment_id: UUID, quote: Quote) -> Label: ...

    def buy_return_label(self, return_id: UUID) -> ReturnSlip: ...


class SandboxCarrier:
    """Sells labels at its rate table. The tracking number is its prefix and 12 digits
    derived from the shipment id, so buying again for a shipment gives the same label."""

    def __init__(self, rates: CarrierRates, currency: str) -> None:
        self.name = rates.name
        self._prefix = rates.tracking_prefix
        self._currency = currency

    def buy_label(self, shipment_id: UUID, quote: Quote) -> Label:
        return Label(
            carrier=self.name,
            service_level=str(quote.service_level),
            tracking_number=f"{self._prefix}{shipment_id.int % 10**12:012d}",
            cost=Money.of(quote.price, self._currency),
        )

    def buy_return_label(self, return_id: UUID) -> ReturnSlip:
        """Same return, same label: the number is derived from the return id."""
        digits = uuid5(NAMESPACE, f"return-label:{return_id}").int % 10**12
        tracking_number = f"{self._prefix}{digits:012d}"
        return ReturnSlip(
            carrier=self.name,
            tracking_number=tracking_number,
            url=f"https://labels.{self.name}.example/{tracking_number}",
        )


class Dispatcher:
    """Packs a ready shipment, picks the cheapest carrier service that meets its method
    and buys the label; a parcel no carrier takes leaves the shipment stuck."""

    def __init__(
        self,
        carriers: Sequence[CarrierRates],
        *,
        warehouse_country: str,
        currency: str,
        packaging_grams: int,
        fallback_item_grams: int,
    ) -> None:
        self._rates = list(carriers)
        self._carriers: dict[str, Carrier] = {c.name: SandboxCarrier(c, currency) for c in carriers}
        self._warehouse = warehouse_country
        self._packaging = packaging_grams
        self._fallback = fallback_item_grams

    @classmethod
    def from_settings(cls, settings: FulfillmentSettings) -> Dispatcher:
        return cls(
            settings.carriers,
            warehouse_country=settings.warehouse_country,
            currency=settings.shipping_currency,
            packaging_grams=settings.packaging_grams,
            fallback_item_grams=settings.fallback_item_grams,
        )

    @property
    def carrier_names(self) -> list[str]:
        return list(self._carriers)

    def return_label(self, carrier: str | None, return_id: UUID) -> ReturnSlip:
        """A return label from `carrier` (the one that shipped); the first carrier
        configured when that one is not (any more)."""
        chosen = self._carriers.get(carrier or "")
        if chosen is None:
            chosen = next(iter(self._carriers.values()))
            log.warning("return label from another carrier", shipped_with=carrier, uses=chosen.name)
        return chosen.buy_return_label(return_id)

    def parcel_grams(self, lines: Lines, weights: Mapping[str, int | None]) -> int:
        """Packaging plus every unit's weight (a unit of an unknown sku: the fallback)."""
        total = self._packaging
        for line in lines:
            weight = weights.get(line["sku"])
            if weight is None:
                log.warning("no weight known; using the fallback", sku=line["sku"])
                weight = self._fallback
            total += weight * int(line["quantity"])
        return total

    def dispatch(self, shipment: Shipment, weights: Mapping[str, int | None]) -> None:
        address, method, lines = shipment.address, shipment.method, shipment.reserved
        if not shipment.ready_to_ship or address is None or method is None or lines is None:
            raise ShipmentStateError(f"shipment {shipment.id} is not ready to ship")
        grams = self.parcel_grams(lines, weights)
        zone = zone_of(address["country"], self._warehouse)
        quote = cheapest(self._rates, zone, grams, ShippingMethod(method))
        if quote is None:
            log.warning("no carrier takes the parcel", grams=grams, zone=str(zone))
            shipment.get_stuck(
                reason=f"no carrier service for {grams} g to {zone}", weight_grams=grams
            )
            return
        label = self._carriers[quote.carrier].buy_label(shipment.id, quote)
        shipment.dispatch(
            carrier=label.carrier,
            service_level=label.service_level,
            tracking_number=label.tracking_number,
            weight_grams=grams,
            cost=label.cost.amount,
            currency=label.cost.currency,
        )
        log.info("shipment dispatched", carrier=label.carrier, level=label.service_level)
