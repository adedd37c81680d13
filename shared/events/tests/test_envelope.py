import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from orderflow_events import (
    MAX_VALUE_BYTES,
    IntegrationEvent,
    InvalidRecord,
    KafkaRecord,
    OrderCancelled,
    from_record,
    headers_dict,
    to_record,
)
from orderflow_events.samples import ORDER_ID, SKU, T0, sample_events

EVENT_ID = "9d5bd1c5-6a4f-4a51-8c55-2f3f1b7a0001"
CAUSE_ID = "9d5bd1c5-6a4f-4a51-8c55-2f3f1b7a0002"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STORE_ID = "3f9c2a61d07be845"


def _record(event: IntegrationEvent | None = None, **kwargs: object) -> KafkaRecord:
    event = event or OrderCancelled(order_id=ORDER_ID, reason="customer", cancelled_at=T0)
    return to_record(event, event_id=EVENT_ID, time=T0, **kwargs)  # type: ignore[arg-type]


def _parse(record: KafkaRecord) -> object:
    return from_record(record.key, record.value, record.headers)


@pytest.mark.parametrize("event", sample_events(), ids=lambda event: event.ce_type)
def test_every_event_type_round_trips_through_a_record(event: IntegrationEvent) -> None:
    record = to_record(
        event,
        event_id=EVENT_ID,
        time=T0,
        causation_id=CAUSE_ID,
        traceparent=TRACEPARENT,
        sequence=42,
        storeid=STORE_ID,
    )

    envelope = from_record(record.key, record.value, record.headers)

    assert envelope.data == event
    assert type(envelope.data) is type(event)
    assert (envelope.id, envelope.type, envelope.source) == (EVENT_ID, event.ce_type, event.source)
    assert (envelope.time, envelope.sequence, envelope.storeid) == (T0, 42, STORE_ID)
    assert (envelope.causation_id, envelope.traceparent) == (CAUSE_ID, TRACEPARENT)
    assert envelope.subject == event.subject()
    assert envelope.correlation_id == event.subject()
    assert record.topic == event.topic
    assert record.key == event.partition_key().encode()


def test_headers_follow_the_cloudevents_kafka_binary_binding() -> None:
    paris = timezone(timedelta(hours=1))
    event = OrderCancelled(order_id=ORDER_ID, reason="customer", cancelled_at=T0)
    record = to_record(
        event,
        event_id=EVENT_ID,
        time=datetime(2025, 3, 1, 13, 0, 0, 500, tzinfo=paris),
        causation_id=CAUSE_ID,
        traceparent=TRACEPARENT,
        sequence=7,
        storeid=STORE_ID,
    )

    assert record.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", EVENT_ID.encode()),
        ("ce_source", b"/services/cart"),
        ("ce_type", b"orders.cancelled.v1"),
        ("ce_time", b"2025-03-01T12:00:00.000500Z"),
        ("ce_subject", str(ORDER_ID).encode()),
        ("content-type", b"application/json"),
        ("ce_correlationid", str(ORDER_ID).encode()),
        ("ce_causationid", CAUSE_ID.encode()),
        ("traceparent", TRACEPARENT.encode()),
        ("ce_sequence", b"7"),
        ("ce_storeid", STORE_ID.encode()),
    ]
    assert record.key == str(ORDER_ID).encode()
    assert json.loads(record.value)["reason"] == "customer"
    assert b" " not in record.value  # compact JSON


def test_optional_headers_are_left_out_and_correlation_can_be_given() -> None:
    listed = next(e for e in sample_events() if e.ce_type == "catalog.product_listed.v1")

    names = dict(to_record(listed, event_id=EVENT_ID, time=T0).headers)
    given = headers_dict(_record(correlation_id="saga-1").headers)

    assert set(names) == {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
    }
    assert given["ce_correlationid"] == "saga-1"
    assert to_record(listed, event_id=EVENT_ID, time=T0).key == SKU.encode()


def test_money_in_a_record_is_never_a_json_number() -> None:
    placed = next(e for e in sample_events() if e.ce_type == "orders.placed.v1")

    value = json.loads(to_record(placed, event_id=EVENT_ID, time=T0).value)

    assert value["total"] == {"amount": "53.19", "currency": "EUR"}
    assert value["lines"][0]["unit_price"]["amount"] == "19.90"


def test_to_record_refuses_naive_times_and_non_uuid_ids() -> None:
    event = OrderCancelled(order_id=ORDER_ID, reason="customer", cancelled_at=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        to_record(event, event_id=EVENT_ID, time=datetime(2025, 3, 1))
    with pytest.raises(ValueError, match="UUID"):
        to_record(event, event_id="not-a-uuid", time=T0)


def test_ce_traceparent_and_mixed_case_header_names_are_accepted() -> None:
    record = _record()
    headers = [(name.upper() if name == "content-type" else name, v) for name, v in record.headers]
    headers.append(("ce_traceparent", TRACEPARENT.encode()))

    envelope = from_record(None, record.value, headers)

    assert envelope.traceparent == TRACEPARENT
    assert envelope.sequence is None


def test_a_record_without_a_storeid_still_parses() -> None:
    record = _record(sequence=3)

    envelope = from_record(record.key, record.value, record.headers)

    assert "ce_storeid" not in headers_dict(record.headers)
    assert (envelope.sequence, envelope.storeid) == (3, None)


@pytest.mark.parametrize("storeid", ["0", "0123456789abcdef", "9d5bd1c5-6a4f-4a51", "a" * 64])
def test_any_storeid_of_hex_digits_and_dashes_round_trips(storeid: str) -> None:
    record = _record(sequence=1, storeid=storeid)

    assert from_record(record.key, record.value, record.headers).storeid == storeid


@pytest.mark.parametrize("storeid", ["", "ABCDEF", "a" * 65, "12 34", "store-1", "ab\n"])
def test_to_record_refuses_a_malformed_storeid(storeid: str) -> None:
    with pytest.raises(ValueError, match="storeid"):
        _record(storeid=storeid)


def _with(record: KafkaRecord, name: str, value: bytes | None) -> list[tuple[str, bytes]]:
    headers = [(n, v) for n, v in record.headers if n != name]
    return headers if value is None else [*headers, (name, value)]


@pytest.mark.parametrize(
    ("headers_change", "value", "reason"),
    [
        (("ce_type", None), None, "missing_header"),
        (("ce_id", b""), None, "missing_header"),
        (("ce_specversion", b"0.3"), None, "unsupported_specversion"),
        (("content-type", b"application/avro"), None, "unsupported_content_type"),
        (("ce_type", b"orders.cancelled.v9"), None, "unknown_type"),
        (("ce_source", b"/services/payment"), None, "source_mismatch"),
        (("ce_time", b"yesterday"), None, "bad_header"),
        (("ce_time", b"2025-03-01T12:00:00"), None, "bad_header"),
        (("ce_id", b"42"), None, "bad_header"),
        (("ce_sequence", b"x"), None, "bad_header"),
        (("ce_storeid", b""), None, "bad_header"),
        (("ce_storeid", b"3F9C2A61D07BE845"), None, "bad_header"),
        (("ce_storeid", b"a" * 65), None, "bad_header"),
        (("ce_storeid", b"store 1"), None, "bad_header"),
        (("ce_subject", b"\xff\xfe"), None, "bad_header"),
        (None, b'{"order_id": ', "malformed_json"),
        (None, b"\xff\xfe", "malformed_json"),
        (None, b'{"order_id": "1", "reason": "customer"}', "validation_failed"),
        (None, b"[]", "validation_failed"),
        (None, b" " * (MAX_VALUE_BYTES + 1), "too_large"),
    ],
)
def test_invalid_records_are_refused_with_a_reason(
    headers_change: tuple[str, bytes | None] | None, value: bytes | None, reason: str
) -> None:
    record = _record()
    headers = _with(record, *headers_change) if headers_change else record.headers

    with pytest.raises(InvalidRecord) as caught:
        from_record(record.key, value or record.value, headers)

    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"{reason}: ")


def test_a_record_without_value_is_refused() -> None:
    record = _record()
    with pytest.raises(InvalidRecord) as caught:
        from_record(record.key, None, record.headers)
    assert caught.value.reason == "missing_value"
    assert (caught.value.event_id, caught.value.event_type) == (EVENT_ID, "orders.cancelled.v1")


def test_error_messages_keep_payloads_and_card_numbers_out() -> None:
    record = _record()
    pan_json = b'{"order_id": "4111111111111111 ' + b"x" * 500
    with pytest.raises(InvalidRecord) as malformed:
        from_record(record.key, pan_json, record.headers)
    payment = next(e for e in sample_events() if e.ce_type == "payment.authorized.v1")
    data = json.loads(to_record(payment, event_id=EVENT_ID, time=T0).value)
    data["auth_code"] = "4111111111111111"
    bad = to_record(payment, event_id=EVENT_ID, time=T0)
    with pytest.raises(InvalidRecord) as invalid:
        from_record(bad.key, json.dumps(data).encode(), bad.headers)

    assert "4111111111111111" not in str(malformed.value)
    assert len(str(malformed.value)) < 200
    assert invalid.value.reason == "validation_failed"
    assert "4111111111111111" not in str(invalid.value)
    assert "auth_code" in str(invalid.value)


def test_a_received_time_is_returned_in_utc() -> None:
    record = _record()
    headers = _with(record, "ce_time", b"2025-03-01T13:00:00+01:00")

    assert from_record(None, record.value, headers).time == T0
    assert from_record(None, record.value, headers).time.tzinfo == UTC
