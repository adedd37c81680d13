"""The Product aggregate and the events the relay publishes from it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from orderflow_catalog.domain import (
    CurrencyChangeError,
    Product,
    ProductDelistedError,
    ProductDetails,
    product_id,
)
from orderflow_catalog.mapping import to_integration
from orderflow_events import (
    Money,
    PriceChanged,
    ProductDelisted,
    ProductListed,
    ProductUpdated,
    from_record,
    to_record,
)

DETAILS = ProductDetails(
    name="Mug",
    category="kitchen",
    weight_grams=350,
    description="Stoneware, 300 ml.",
    attributes={"colour": "blue"},
    image_urls=["https://img.example.com/mug.jpg"],
)


def new_product(price: str = "8.50", currency: str = "EUR") -> Product:
    return Product.new("MUG-001", DETAILS, Money.of(price, currency), reorder_point=4)


def test_a_product_id_is_derived_from_its_sku() -> None:
    assert new_product().id == product_id("MUG-001")
    assert product_id("MUG-001") != product_id("MUG-002")


def test_price_changes_keep_the_currency_and_skip_the_same_price() -> None:
    product = new_product()

    assert product.change_price(Money.of("9.00", "EUR")) is True
    assert product.change_price(Money.of("9.00", "EUR")) is False
    with pytest.raises(CurrencyChangeError):
        product.change_price(Money.of("9.00", "USD"))

    assert product.price == Money.of("9.00", "EUR")
    assert len(product.collect_events()) == 2  # listed, one price change


def test_an_update_with_the_same_details_stores_nothing() -> None:
    product = new_product()
    product.collect_events()

    assert product.update(DETAILS) is False
    assert product.update(ProductDetails(name="Big mug", category="kitchen", weight_grams=500))
    assert [type(e).__name__ for e in product.collect_events()] == ["Updated"]
    assert product.details.attributes == {}


def test_a_delisted_product_refuses_changes_and_delists_once() -> None:
    product = new_product()

    assert product.delist() is True
    assert product.delist() is False
    with pytest.raises(ProductDelistedError):
        product.update(DETAILS)
    with pytest.raises(ProductDelistedError):
        product.change_price(Money.of("1.00", "EUR"))


def test_every_stored_event_maps_to_a_valid_public_event() -> None:
    # Given a product listed, updated, repriced and delisted
    product = new_product()
    product.update(ProductDetails(name="Big mug", category="kitchen", weight_grams=500))
    product.change_price(Money.of("10.00", "EUR"))
    product.delist()

    # When the relay maps its stored events and they travel as Kafka records
    events = [to_integration(e) for e in product.collect_events()]
    parsed = []
    for event in events:
        assert event is not None
        record = to_record(event, event_id=str(uuid4()), time=datetime.now(UTC), sequence=1)
        assert record.key == b"MUG-001"
        parsed.append(from_record(record.key, record.value, record.headers).data)

    # Then each is the public event with the values of the change
    listed, updated, repriced, delisted = parsed
    assert isinstance(listed, ProductListed)
    assert listed.price == Money.of("8.50", "EUR")
    assert listed.reorder_point == 4
    assert listed.attributes == {"colour": "blue"}
    assert isinstance(updated, ProductUpdated)
    assert (updated.name, updated.weight_grams, updated.attributes) == ("Big mug", 500, {})
    assert isinstance(repriced, PriceChanged)
    assert repriced.price.amount == Decimal("10.00")
    assert repriced.previous_price == Money.of("8.50", "EUR")
    assert isinstance(delisted, ProductDelisted)


def test_other_stored_objects_map_to_nothing() -> None:
    assert to_integration(object()) is None
