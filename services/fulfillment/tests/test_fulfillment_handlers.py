"""The handlers on a real store and unit of work: catalog, order and reservation events in,
Shipped out once a shipment knows both its order and its reservation."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

from orderflow_events import Money, Shipped, StockLine
from orderflow_fulfillment.domain import Shipment, ShipmentStatus

if TYPE_CHECKING:
    from conftest import Harness


def test_an_order_with_its_reservation_ships_with_the_cheapest_carrier(harness: Harness) -> None:
    # Given a product of 180 g, and an express order of 2 units to GB (world zone)
    order = harness.order("express")
    harness.deliver(harness.listed(grams=180), order)
    assert harness.published(Shipped) == []  # no reservation yet

    # When its stock is reserved
    harness.deliver(harness.reserved(order.order_id))

    # Then it ships: 2 x 180 g + 150 g packaging = 510 g, swiftship express (35.00 < 39.00)
    [shipped] = harness.published(Shipped)
    assert shipped.order_id == order.order_id
    assert shipped.shipment_id == Shipment.create_id(order.order_id)
    assert (shipped.carrier, shipped.service_level) == ("swiftship", "express")
    assert re.fullmatch(r"SW\d{12}", shipped.tracking_number)
    assert shipped.lines == [StockLine(sku="TSHIRT-RED-M", quantity=2)]
    assert shipped.shipping_cost == Money.of("35.00", "EUR")
    assert harness.app.shipment(order.order_id).weight_grams == 510  # type: ignore[union-attr]


def test_a_standard_order_ships_with_the_cheapest_standard_service(harness: Harness) -> None:
    order = harness.order("standard", country="FR")
    harness.deliver(harness.listed(grams=180), order, harness.reserved(order.order_id))
    [shipped] = harness.published(Shipped)
    assert (shipped.carrier, shipped.service_level) == ("parcelco", "standard")
    assert shipped.shipping_cost == Money.of("9.50", "EUR")
    assert re.fullmatch(r"PC\d{12}", shipped.tracking_number)


def test_a_reservation_before_the_order_ships_when_the_order_arrives(harness: Harness) -> None:
    order = harness.order("standard", country="DE")
    harness.deliver(harness.listed(), harness.reserved(order.order_id))
    assert harness.published(Shipped) == []
    harness.deliver(order)
    [shipped] = harness.published(Shipped)
    assert (shipped.carrier, shipped.shipping_cost) == ("parcelco", Money.of("4.20", "EUR"))


def test_redelivered_events_ship_once(harness: Harness) -> None:
    order = harness.order()
    reserved = harness.reserved(order.order_id)
    harness.deliver(harness.listed(), order, reserved, order, reserved)
    assert len(harness.published(Shipped)) == 1


def test_the_label_is_the_same_when_a_failed_batch_is_rerun(harness: Harness) -> None:
    first, second = harness.order(), harness.order()
    for order in (first, second):
        harness.deliver(order, harness.reserved(order.order_id))
    numbers = [shipped.tracking_number for shipped in harness.published(Shipped)]
    assert len(set(numbers)) == 2  # derived from the shipment id: one per order, stable
    assert numbers[0].endswith(f"{Shipment.create_id(first.order_id).int % 10**12:012d}")


def test_a_cancel_before_shipping_stops_the_shipment_for_good(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.cancelled(order.order_id))
    harness.deliver(harness.reserved(order.order_id))
    assert harness.published(Shipped) == []
    view = harness.app.shipment(order.order_id)
    assert view is not None
    assert (view.status, view.note) == (ShipmentStatus.CANCELLED, "customer")


def test_a_cancel_after_shipping_changes_nothing(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(order, harness.reserved(order.order_id), harness.cancelled(order.order_id))
    assert len(harness.published(Shipped)) == 1
    assert harness.app.shipment(order.order_id).status is ShipmentStatus.SHIPPED  # type: ignore[union-attr]


def test_an_unknown_product_weighs_the_fallback(harness: Harness) -> None:
    order = harness.order("standard", country="DE")
    harness.deliver(order, harness.reserved(order.order_id))  # no ProductListed heard
    [shipped] = harness.published(Shipped)
    assert harness.app.shipment(order.order_id).weight_grams == 2 * 500 + 150  # type: ignore[union-attr]
    assert shipped.shipping_cost == Money.of("6.90", "EUR")  # the 1-5 kg band


def test_an_updated_weight_counts_for_later_shipments(harness: Harness) -> None:
    order = harness.order("standard", country="DE")
    harness.deliver(harness.listed(grams=180), harness.listed(grams=2_000), order)
    harness.deliver(harness.reserved(order.order_id))
    assert harness.app.shipment(order.order_id).weight_grams == 4_150  # type: ignore[union-attr]


def test_a_parcel_no_carrier_takes_is_stuck_and_can_still_be_cancelled(harness: Harness) -> None:
    order = harness.order("standard", country="DE")
    harness.deliver(harness.listed(grams=20_000), order, harness.reserved(order.order_id))
    assert harness.published(Shipped) == []
    assert harness.app.shipment(order.order_id).status is ShipmentStatus.STUCK  # type: ignore[union-attr]
    harness.deliver(harness.cancelled(order.order_id))
    assert harness.app.shipment(order.order_id).status is ShipmentStatus.CANCELLED  # type: ignore[union-attr]


def test_state_rebuilt_from_the_events_equals_the_live_state(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(harness.listed(), order, harness.reserved(order.order_id))
    live = harness.app.repository.get(Shipment.create_id(order.order_id))
    harness.app.forget([live.id])
    stored = harness.app.repository.event_store.get(live.id)
    rebuilt = None
    for domain_event in stored:
        rebuilt = domain_event.mutate(rebuilt)
    assert vars(rebuilt) == vars(live)
    assert live.cost == Decimal("35.00")
