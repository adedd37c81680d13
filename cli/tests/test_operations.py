"""Pure parts of the operator commands: sandbox names, DLQ selections, lag, stuck orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from orderflow_cli.dead_letters import DeadLetter, dlq_name, parse_coordinates
from orderflow_cli.export import sandbox_prefix, sandbox_topic
from orderflow_cli.lag import partition_lag
from orderflow_cli.records import RecordView
from orderflow_cli.stuck import stuck_orders


def test_a_sandbox_is_a_prefix_and_never_the_live_topics() -> None:
    assert sandbox_prefix("replay1", "") == "replay1."
    assert sandbox_prefix("replay-", "") == "replay-"
    assert sandbox_topic("replay1.", "prod.", "prod.orders.events") == "replay1.orders.events"
    assert sandbox_topic("replay1.", "", "orders.events") == "replay1.orders.events"
    for refused, live in (("", ""), ("  ", ""), ("prod", "prod.")):
        with pytest.raises(typer.Exit):
            sandbox_prefix(refused, live)


def test_dead_letter_selections() -> None:
    assert dlq_name("", "payment.events") == "payment.events.dlq"
    assert dlq_name("t1.", "payment.events.dlq") == "t1.payment.events.dlq"
    assert dlq_name("t1.", "t1.payment.events") == "t1.payment.events.dlq"
    assert parse_coordinates(["payment.events", "0", "7"], "") == [("payment.events.dlq", 0, 7)]
    with pytest.raises(ValueError, match="triples"):
        parse_coordinates(["payment.events", "0"], "")
    with pytest.raises(ValueError, match="numbers"):
        parse_coordinates(["payment.events", "x", "1"], "")


def test_a_redriven_record_keeps_its_headers_but_not_the_dead_letter_ones() -> None:
    headers = (
        ("ce_id", b"e1"),
        ("dlq_reason", b"handler_failed"),
        ("dlq_original_topic", b"payment.events"),
        ("dlq_original_partition", b"2"),
        ("orderflow_redriven", b"old"),
    )
    letter = DeadLetter(RecordView("payment.events.dlq", 1, 9, 0, b"k", b"{}", headers))
    assert letter.redrive_headers() == [
        ("ce_id", b"e1"),
        ("orderflow_redriven", b"payment.events.dlq:1:9"),
    ]
    assert (letter.original_topic, letter.original_partition) == ("payment.events", 2)


def test_lag_counts_from_the_log_start_when_nothing_was_committed() -> None:
    assert partition_lag("t", 0, None, 10, 15)["lag"] == 5
    assert partition_lag("t", 0, 12, 10, 15)["lag"] == 3
    assert partition_lag("t", 0, 3, 10, 15)["lag"] == 5  # committed before retention removed it


def test_stuck_orders_accept_both_shapes_most_overdue_first() -> None:
    now = datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
    items = [
        {"order_id": "a", "status": "placed", "deadline_at": "2025-03-01T12:30:00Z"},
        {"order_id": "b", "status": "shipped", "deadline_at": "2025-03-01T12:00:00+00:00"},
    ]
    for body in (items, {"items": items}):
        orders = stuck_orders(body, now)
        assert [(o["order_id"], o["overdue_s"]) for o in orders] == [("b", 3600), ("a", 1800)]
        assert orders[0]["expired"] is False
