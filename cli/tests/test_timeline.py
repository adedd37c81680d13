"""Causal order of a timeline, dead letters in it, and the archive on SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orderflow_cli.archive_db import engine_for, insert_rows
from orderflow_cli.records import RecordView, to_row
from orderflow_cli.timeline import archive_timeline, as_dicts, causal_order

T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    id: str
    time: datetime
    causation_id: str | None = None


def at(seconds: int) -> datetime:
    return T + timedelta(seconds=seconds)


def test_causes_come_first_then_time() -> None:
    steps = [
        Step("placed", at(0)),
        Step("shipped", at(10), "reserved"),
        Step("committed", at(5), "shipped"),  # its clock is behind the shipper's
        Step("reserved", at(2), "placed"),
        Step("unrelated", at(3)),
    ]
    order = [s.id for s in causal_order(steps)]
    assert order == ["placed", "reserved", "unrelated", "shipped", "committed"]


def test_a_causation_cycle_or_a_missing_cause_does_not_hang() -> None:
    steps = [Step("a", at(1), "b"), Step("b", at(2), "a"), Step("c", at(0), "gone")]
    assert sorted(s.id for s in causal_order(steps)) == ["a", "b", "c"]


def view(offset: int, topic: str, headers: dict[str, str]) -> RecordView:
    return RecordView(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp_ms=0,
        key=b"order-1",
        value=b"{}",
        headers=tuple((k, v.encode()) for k, v in headers.items()),
    )


def envelope(event_id: str, ce_type: str, seconds: int, cause: str | None) -> dict[str, str]:
    headers = {
        "ce_id": event_id,
        "ce_type": ce_type,
        "ce_source": f"/services/{ce_type.split('.')[0]}",
        "ce_time": at(seconds).isoformat(),
        "ce_correlationid": "order-1",
    }
    return headers | ({"ce_causationid": cause} if cause else {})


def test_the_archive_drops_copies_and_shows_dead_letters_after_their_event(
    tmp_path: Path,
) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'a.sqlite'}")
    placed = envelope("e1", "orders.placed.v1", 0, None)
    authorized = envelope("e2", "payment.authorized.v1", 1, "e1")
    letter = authorized | {"dlq_consumer": "cart", "dlq_reason": "handler_failed"}
    letter |= {"dlq_failed_at": at(3).isoformat()}
    rows = [
        to_row(view(0, "orders.events", placed)),
        to_row(view(0, "payment.events", authorized)),
        to_row(view(1, "payment.events", authorized)),  # the relay published it again
        to_row(view(0, "payment.events.dlq", letter)),
    ]
    assert insert_rows(engine, rows) == 3
    assert insert_rows(engine, rows) == 0  # a batch read again after a crash

    steps = as_dicts(archive_timeline(engine, "order-1"))
    assert [(s["type"], bool(s["dead_letter"])) for s in steps] == [
        ("orders.placed.v1", False),
        ("payment.authorized.v1", False),
        ("payment.authorized.v1", True),
    ]
    assert steps[1]["caused_by_type"] == "orders.placed.v1"
    assert steps[1]["since_cause_ms"] == 1000
    assert steps[2]["since_cause_ms"] == 2000
    assert archive_timeline(engine, "order-1", namespace="other.") == []
