"""The pure parts of `state`, `rebuild --verify` and `replay`: JSON-safe values and diffs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from orderflow_cli.replay import Bound, _pairs
from orderflow_cli.store_diff import (
    MISSING,
    ROW,
    Difference,
    RowDifference,
    aggregate_attributes,
    diff_tables,
    diff_values,
    json_safe,
)
from orderflow_events import Money
from orderflow_runtime.context import TracedAggregate

ID = UUID("8d0c7c0e-0a51-4c7a-9d4e-1f0f3a5b9e21")
T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Colour(enum.Enum):
    BLUE = "blue"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


def test_json_safe_turns_store_values_into_json() -> None:
    value = {
        "amount": Decimal("12.50"),
        "id": ID,
        "at": T,
        "colour": Colour.BLUE,
        "lines": (Line("MUG-1", 2),),
        "tags": {"b", "a"},
        "money": Money(amount=Decimal("1.00"), currency="EUR"),
        ID: None,
    }
    assert json_safe(value) == {
        "amount": "12.50",
        "id": str(ID),
        "at": "2025-03-01T12:00:00+00:00",
        "colour": "blue",
        "lines": [{"sku": "MUG-1", "quantity": 2}],
        "tags": ["a", "b"],
        "money": {"amount": "1.00", "currency": "EUR"},
        str(ID): None,
    }


class Thing(TracedAggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = Decimal("3.10")
        self._parked = [ID]


def test_aggregate_attributes_show_the_state_without_eventsourcing_internals() -> None:
    thing = Thing("mug")
    attributes = aggregate_attributes(thing)
    assert attributes["id"] == str(thing.id)
    assert attributes["version"] == 1
    assert attributes["created_on"] == thing.created_on.isoformat()
    assert {k: attributes[k] for k in ("name", "total", "_parked")} == {
        "name": "mug",
        "total": "3.10",
        "_parked": [str(ID)],
    }
    assert "_pending_events" not in attributes
    assert "created_on" not in aggregate_attributes(thing, timestamps=False)


def test_diff_values_names_each_differing_leaf() -> None:
    live = {"status": "captured", "lines": [{"q": 1}, {"q": 2}], "a": 1, "gone": True}
    replayed = {"status": "declined", "lines": [{"q": 1}, {"q": 3}], "a": 1.0, "new": 0}
    assert diff_values(live, replayed) == [
        Difference("gone", True, MISSING),
        Difference("lines[1].q", 2, 3),
        Difference("new", MISSING, 0),
        Difference("status", "captured", "declined"),
    ]


def test_diff_values_ignores_named_keys_at_any_depth_and_compares_types() -> None:
    live = {"at": 1, "history": [{"at": 2, "fact": "x"}], "flag": True, "lines": [1]}
    replayed = {"at": 5, "history": [{"at": 6, "fact": "x"}], "flag": 1, "lines": [1, 2]}
    assert diff_values(live, replayed, ignore={"at"}) == [
        Difference("flag", True, 1),
        Difference("lines", [1], [1, 2]),
    ]
    assert diff_values({"a": [1]}, {"a": [1]}) == []


def test_diff_tables_reports_missing_extra_and_changed_rows_by_key() -> None:
    live = [
        {"order_id": "a", "status": "placed", "total": Decimal("1.00")},
        {"order_id": "b", "status": "shipped", "total": Decimal("2.00")},
        {"order_id": "c", "status": "delivered", "total": Decimal("3.00")},
    ]
    rebuilt = [
        {"order_id": "a", "status": "delivered", "total": Decimal("1.00")},
        {"order_id": "c", "status": "delivered", "total": Decimal("3.00")},
        {"order_id": "d", "status": "placed", "total": Decimal("4.00")},
    ]
    assert diff_tables("orders", ["order_id"], live, rebuilt) == [
        RowDifference("orders", {"order_id": "a"}, "status", "placed", "delivered"),
        RowDifference("orders", {"order_id": "b"}, ROW, "present", MISSING),
        RowDifference("orders", {"order_id": "d"}, ROW, MISSING, "present"),
    ]
    assert diff_tables("orders", ["order_id"], live, list(reversed(live))) == []


def test_diff_tables_with_a_composite_key() -> None:
    live = [{"a": 1, "b": 2, "v": "x"}]
    rebuilt = [{"a": 1, "b": 2, "v": "y"}]
    (difference,) = diff_tables("t", ["a", "b"], live, rebuilt)
    assert difference.as_json() == {
        "table": "t",
        "key": {"a": 1, "b": 2},
        "column": "v",
        "live": "x",
        "rebuilt": "y",
    }


def test_replay_bounds_are_times_or_offsets() -> None:
    assert Bound.parse("42") == Bound(offset=42)
    assert Bound.parse("2025-03-01T12:00:00Z") == Bound(time=T)
    assert Bound.parse("2025-03-01T12:00:00") == Bound(time=T)  # no offset: UTC
    with pytest.raises(ValueError, match="not a time or an offset"):
        Bound.parse("yesterday")


def test_replay_settings_pairs() -> None:
    assert _pairs(["GATEWAY_ATTEMPTS=1", "x=a=b"]) == [("gateway_attempts", "1"), ("x", "a=b")]
    with pytest.raises(ValueError, match="KEY=VALUE"):
        _pairs(["nothing"])


@pytest.mark.parametrize("service", ["cart", "payment", "inventory", "fulfillment", "notification"])
def test_the_sandbox_is_the_live_service_on_a_temporary_sqlite_store_without_side_effects(
    service: str, tmp_path: Path
) -> None:
    from orderflow_cli import services
    from orderflow_cli.replay import sandbox_settings_of

    info = services.info(service)
    live = info.settings(database_url="postgresql://u:p@db/shop", topic_namespace="blue.")
    sandbox = sandbox_settings_of(info, live, tmp_path, {"inbox_max_records": "7"})
    assert type(sandbox) is type(live)
    assert sandbox.database_url is None
    assert sandbox.data_dir == tmp_path
    assert (sandbox.topic_namespace, sandbox.http_port, sandbox.inbox_max_records) == (
        "blue.",
        0,
        7,
    )
    assert getattr(sandbox, "side_effects", False) is False


def test_a_surrogate_numbered_by_the_database_is_not_compared() -> None:
    from types import SimpleNamespace

    from orderflow_cli.store_tools import compare_read_models, comparison_keys
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

    metadata = MetaData()
    table = Table(
        "index",
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("order_id", String(36), nullable=False, unique=True),
        Column("status", String(20), nullable=False),
    )
    assert comparison_keys(table) == (["order_id"], {"seq"})
    live, rebuilt = create_engine("sqlite://"), create_engine("sqlite://")
    for engine in (live, rebuilt):
        metadata.create_all(engine)
    with live.begin() as conn:  # a rolled-back insert left a gap in the live numbering
        conn.execute(table.insert(), [
            {"seq": 1, "order_id": "a", "status": "open"},
            {"seq": 3, "order_id": "b", "status": "open"},
        ])  # fmt: skip
    with rebuilt.begin() as conn:
        conn.execute(table.insert(), [
            {"seq": 1, "order_id": "a", "status": "open"},
            {"seq": 2, "order_id": "b", "status": "closed"},
        ])  # fmt: skip
    model = SimpleNamespace(metadata=metadata)

    differences = compare_read_models(
        SimpleNamespace(models=[model], engine=live),  # type: ignore[arg-type]
        SimpleNamespace(models=[model], engine=rebuilt),  # type: ignore[arg-type]
    )

    assert [(d.key, d.column, d.live, d.rebuilt) for d in differences] == [
        ({"order_id": "b"}, "status", "open", "closed")
    ]
