from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from orderflow_events import (
    ALL_TOPICS,
    EVENT_TYPES,
    TOPIC_SERVICE,
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentMethod,
    StockLevelLow,
    StockRestocked,
    UnknownEventType,
    contains_card_number,
    dlq_topic,
    event_type,
)
from orderflow_events.samples import ORDER_ID, SKU, T0, sample_events, sample_order_placed
from pydantic import ValidationError

PAN = "4111111111111111"  # a well-known test card number: passes the Luhn check


def test_every_event_type_has_a_sample_and_the_samples_are_valid() -> None:
    samples = sample_events()

    assert sorted(event.ce_type for event in samples) == sorted(EVENT_TYPES)
    for event in samples:
        assert type(event).model_validate_json(event.model_dump_json()) == event


def test_ce_types_name_their_topic_and_source() -> None:
    assert PaymentAuthorized.ce_type == "payment.authorized.v1"
    assert OrderPlaced.ce_type == "orders.placed.v1"
    assert OrderPlaced.source == "/services/cart"
    for ce_type, cls in EVENT_TYPES.items():
        assert cls.topic in ALL_TOPICS
        assert ce_type.startswith(cls.topic.removesuffix("events"))
        assert cls.source == f"/services/{TOPIC_SERVICE[cls.topic]}"


def test_event_type_looks_up_the_registry() -> None:
    assert event_type("orders.cancelled.v1") is OrderCancelled
    with pytest.raises(UnknownEventType, match=r"orders\.cancelled\.v9"):
        event_type("orders.cancelled.v9")


def test_order_events_are_keyed_by_order_and_stock_levels_by_sku() -> None:
    keys = {event.ce_type: (event.partition_key(), event.subject()) for event in sample_events()}

    assert keys["orders.placed.v1"] == (str(ORDER_ID), str(ORDER_ID))
    assert keys["catalog.product_listed.v1"] == (SKU, None)
    assert keys["inventory.stock_level_low.v1"] == (SKU, None)
    assert keys["inventory.reorder_requested.v1"] == (SKU, None)
    assert keys["inventory.stock_restocked.v1"] == (str(ORDER_ID), str(ORDER_ID))
    assert StockLevelLow.key_field == "sku"


def test_a_restock_from_a_goods_receipt_is_keyed_by_its_sku() -> None:
    event = StockRestocked.model_validate(
        {
            "origin": "receipt",
            "receipt_id": "GR-1",
            "lines": [{"sku": SKU, "quantity": 10}],
            "restocked_at": T0,
        }
    )

    assert (event.partition_key(), event.subject()) == (SKU, None)
    with pytest.raises(ValidationError, match="needs order_id and return_id"):
        StockRestocked.model_validate({**event.model_dump(), "origin": "return"})


def test_dlq_topic() -> None:
    assert dlq_topic("orders.events") == "orders.events.dlq"


def test_consumers_ignore_fields_added_by_newer_producers() -> None:
    event = OrderCancelled(order_id=ORDER_ID, reason="customer", cancelled_at=T0)
    data = event.model_dump(mode="json") | {"added_later": {"x": 1}}

    assert OrderCancelled.model_validate(data) == event


def test_cancel_reasons_are_a_closed_set() -> None:
    with pytest.raises(ValidationError):
        OrderCancelled(order_id=ORDER_ID, reason="bored", cancelled_at=T0)  # type: ignore[arg-type]


def test_times_must_be_aware_and_are_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    event = OrderCancelled(
        order_id=ORDER_ID, reason="expired", cancelled_at=datetime(2025, 3, 1, 13, tzinfo=paris)
    )

    assert event.cancelled_at == T0
    assert event.cancelled_at.tzinfo == UTC
    assert '"cancelled_at":"2025-03-01T12:00:00Z"' in event.model_dump_json()
    with pytest.raises(ValidationError):
        OrderCancelled(order_id=ORDER_ID, reason="expired", cancelled_at=datetime(2025, 3, 1))


def test_quantities_are_positive_integers() -> None:
    data = sample_order_placed().model_dump()
    for quantity in (0, -1, 1.5, "2"):
        data["lines"][0]["quantity"] = quantity
        with pytest.raises(ValidationError):
            OrderPlaced.model_validate(data)


def test_order_amounts_must_add_up() -> None:
    data = sample_order_placed().model_dump()
    data["total"] = {"amount": "53.20", "currency": "EUR"}

    with pytest.raises(ValidationError, match="total"):
        OrderPlaced.model_validate(data)


def test_order_amounts_share_one_currency() -> None:
    data = sample_order_placed().model_dump()
    data["tax"] = {"amount": "8.49", "currency": "USD"}

    with pytest.raises(ValidationError, match="EUR with USD"):
        OrderPlaced.model_validate(data)


@pytest.mark.parametrize(
    "text", [PAN, "4111 1111 1111 1111", "tok_4111-1111-1111-1111", "5500005555555559"]
)
def test_card_numbers_are_detected(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize("text", ["tok_9f8e7d6c5b4a", "4111111111111112", "123456789012", "A1B2C3"])
def test_other_strings_are_not_card_numbers(text: str) -> None:
    assert not contains_card_number(text)


def test_a_card_number_as_payment_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        PaymentMethod(token=PAN, brand="visa", last4="1111")

    assert "looks like a card number" in str(caught.value)
    assert PAN not in str(caught.value)
    assert PAN not in repr(caught.value.errors(include_input=False))


def test_a_card_number_in_any_payment_event_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="'detail' looks like a card number"):
        PaymentDeclined(
            order_id=ORDER_ID,
            payment_id=uuid4(),
            reason="card_declined",
            detail=f"card {PAN} declined",
            declined_at=T0,
        )
    with pytest.raises(ValidationError, match="'auth_code'"):
        PaymentAuthorized(
            order_id=ORDER_ID,
            payment_id=uuid4(),
            amount={"amount": "1", "currency": "EUR"},
            auth_code=PAN,
            brand="visa",
            last4="1111",
            authorized_at=T0,
        )


@pytest.mark.parametrize("last4", ["123", "12345", "abcd", "4111111111111111"])
def test_last4_is_exactly_four_digits(last4: str) -> None:
    with pytest.raises(ValidationError):
        PaymentMethod(token="tok_1", brand="visa", last4=last4)


def test_events_are_immutable() -> None:
    event: IntegrationEvent = sample_order_placed()

    with pytest.raises(ValidationError):
        event.order_id = ORDER_ID  # type: ignore[attr-defined]
