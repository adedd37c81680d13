"""breaking_changes must catch each kind of break, or the compatibility test proves nothing."""

import copy
from typing import Any

import pytest
from orderflow_events import OrderPlaced
from orderflow_events.compat import breaking_changes, catalog_breaking_changes
from orderflow_events.schemas import event_schema

OLD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "format": "uuid"},
        "reason": {"$ref": "#/$defs/Reason"},
        "total": {"$ref": "#/$defs/Money"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["order_id", "reason", "total", "lines"],
    "$defs": {
        "Reason": {"enum": ["customer", "expired"], "type": "string"},
        "Money": {
            "type": "object",
            "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
            "required": ["amount", "currency"],
        },
        "Line": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
            "required": ["sku", "quantity"],
        },
    },
}


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(OLD)
    edit(new)
    return new


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(OLD, copy.deepcopy(OLD)) == []


def test_additions_are_compatible() -> None:
    def add(schema: dict[str, Any]) -> None:
        schema["properties"]["channel"] = {"type": "string"}
        schema["$defs"]["Reason"]["enum"].append("fraud")
        schema["$defs"]["Line"]["properties"]["name"] = {"type": "string"}

    assert breaking_changes(OLD, _changed(add)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["properties"].pop("note"), "$.note: property removed"),
        (
            lambda s: s["$defs"]["Line"]["properties"].pop("quantity"),
            "$.lines[].quantity: property removed",
        ),
        (
            lambda s: s["properties"]["order_id"].update(type="integer"),
            "$.order_id: type changed from string to integer",
        ),
        (
            lambda s: s["$defs"]["Money"]["properties"]["amount"].update(type="number"),
            "$.total.amount: type changed from string to number",
        ),
        (
            lambda s: s["properties"].update(note={"type": "string"}),
            "$.note: type changed from null|string to string",
        ),
        (
            lambda s: s["properties"].update(lines={"type": "object"}),
            "$.lines: type changed from array to object",
        ),
        (lambda s: s["required"].append("note"), "$.note: new required property"),
        (
            lambda s: (
                s["properties"].update(vip={"type": "boolean"}),
                s["required"].append("vip"),
            ),
            "$.vip: new required property",
        ),
        (
            lambda s: s["$defs"]["Reason"].update(enum=["customer"]),
            "$.reason: enum value 'expired' removed",
        ),
    ],
)
def test_each_kind_of_break_is_caught(edit: Any, expected: str) -> None:
    assert breaking_changes(OLD, _changed(edit)) == [expected]


def test_a_removed_event_type_is_a_break() -> None:
    old = {"orders.placed.v1": OLD, "orders.cancelled.v1": OLD}

    assert catalog_breaking_changes(old, {"orders.placed.v1": OLD}) == [
        "orders.cancelled.v1: event type removed"
    ]
    assert catalog_breaking_changes({"orders.placed.v1": OLD}, old) == []


def test_breaks_in_a_real_event_schema_are_caught() -> None:
    old = event_schema(OrderPlaced)
    new = copy.deepcopy(old)
    del new["$defs"]["Address"]["properties"]["postal_code"]
    new["$defs"]["ShippingMethod"]["enum"].remove("express")

    assert breaking_changes(old, new) == [
        "$.shipping_address.postal_code: property removed",
        "$.shipping_method: enum value 'express' removed",
    ]
