"""Records <-> export lines and archive rows: nothing of a record is lost on the way."""

from __future__ import annotations

from datetime import UTC, datetime

from orderflow_cli.records import RecordView, from_line, to_line, to_row
from orderflow_events import to_record
from orderflow_events.samples import sample_order_placed

T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EVENT_ID = "3f1c9a52-7a44-4f38-9d0e-2f1b8f6a0c01"


def placed_view(**changes: object) -> RecordView:
    record = to_record(
        sample_order_placed(), event_id=EVENT_ID, time=T, causation_id=None, sequence=7
    )
    fields = {
        "topic": "orders.events",
        "partition": 3,
        "offset": 42,
        "timestamp_ms": 1_740_830_400_000,
        "key": record.key,
        "value": record.value,
        "headers": tuple(record.headers),
    }
    fields.update(changes)
    return RecordView(**fields)  # type: ignore[arg-type]


def test_an_export_line_round_trips_to_the_same_record() -> None:
    view = placed_view()
    line = to_line(view)
    assert line["headers"]["ce_id"] == EVENT_ID
    assert line["value"]["total"] == {"amount": "53.19", "currency": "EUR"}
    assert line["timestamp"] == "2025-03-01T12:00:00Z"
    assert from_line(line) == view


def test_poison_values_and_binary_headers_survive_an_export() -> None:
    view = placed_view(
        value=b"not json {", headers=(("ce_id", b"x"), ("weird", b"\xff\xfe")), key=None
    )
    line = to_line(view)
    assert line["value"] is None
    assert line["value_text"] == "not json {"
    assert "weird" in line["binary_headers"]
    assert from_line(line) == view
    undecodable = placed_view(value=b"\xff\x00")
    assert from_line(to_line(undecodable)).value == b"\xff\x00"


def test_an_archive_row_has_the_envelope_in_columns() -> None:
    row = to_row(placed_view())
    assert row["ce_id"] == EVENT_ID
    assert row["type"] == "orders.placed.v1"
    assert row["source"] == "/services/cart"
    assert row["time"] == T
    assert row["correlation_id"] == row["subject"] == row["key"]
    assert row["sequence"] == 7
    assert (row["topic"], row["partition"], row["offset"]) == ("orders.events", 3, 42)
    assert row["headers"]["ce_type"] == "orders.placed.v1"


def test_a_row_without_ce_time_takes_the_broker_time_and_no_nul_reaches_the_database() -> None:
    row = to_row(placed_view(headers=(("ce_time", b"garbage"),), value=b"a\x00b"))
    assert row["time"] == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert row["ce_id"] is None
    assert "\x00" not in row["value"]
