"""Copying aggregate state: equal to `copy.deepcopy`, and as independent of the original."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import uuid4

import pytest
from orderflow_runtime.probe import PlacedOrder, ProbeSink, Tally
from orderflow_runtime.state_copy import copy_state


class Colour(StrEnum):
    RED = "red"


class Opaque:
    """A type `copy_state` does not know: left to `copy.deepcopy`."""

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.items == self.items


def sample_state() -> dict[str, Any]:
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    return {
        "id": uuid4(),
        "total": Decimal("27.70"),
        "at": at,
        "colour": Colour.RED,
        "lines": [{"sku": "MUG-1", "quantity": 2, "attributes": {"size": "L"}}],
        "history": [{"at": at, "status": Colour.RED}],
        "tags": {"gift", "express"},
        "pair": (1, [2]),
        "opaque": Opaque([1, 2]),
        "nothing": None,
    }


def test_a_copy_equals_what_deepcopy_makes() -> None:
    state = sample_state()

    assert copy_state(state, {}) == copy.deepcopy(state) == state


def test_containers_are_new_and_immutable_values_are_shared() -> None:
    state = sample_state()

    copied = copy_state(state, {})

    assert copied["lines"] is not state["lines"]
    assert copied["lines"][0]["attributes"] is not state["lines"][0]["attributes"]
    assert copied["tags"] is not state["tags"]
    assert copied["pair"][1] is not state["pair"][1]
    assert copied["opaque"] is not state["opaque"]
    for immutable in ("id", "total", "at", "colour"):
        assert copied[immutable] is state[immutable]


def test_changing_the_copy_leaves_the_original_as_it_was() -> None:
    state = sample_state()
    copied = copy_state(state, {})

    copied["lines"][0]["attributes"]["size"] = "S"
    copied["history"].append({"at": None})
    copied["tags"].add("fragile")
    copied["opaque"].items.append(3)

    assert state == sample_state() | {"id": state["id"]}


def test_a_value_referenced_twice_is_copied_once() -> None:
    shared: dict[str, Any] = {"n": 1}
    state = {"a": shared, "b": [shared], "c": {"d": shared}}

    copied = copy_state(state, {})

    assert copied["a"] is copied["b"][0] is copied["c"]["d"]
    assert copied["a"] is not shared


def test_a_cycle_is_copied_as_a_cycle() -> None:
    state: dict[str, Any] = {"items": []}
    state["items"].append(state)

    copied = copy_state(state, {})

    assert copied["items"][0] is copied


def test_a_traced_aggregate_copies_into_an_independent_aggregate_of_its_class() -> None:
    order = PlacedOrder({"order_id": "o-1", "lines": [{"sku": "MUG-1", "quantity": 1}]})

    copied = copy.deepcopy(order)

    assert type(copied) is PlacedOrder
    assert copied.__dict__ == order.__dict__
    copied.order["lines"][0]["quantity"] = 5
    assert order.order["lines"][0]["quantity"] == 1


def test_a_command_that_fails_half_way_leaves_the_cached_aggregate_untouched(
    sink: ProbeSink,
) -> None:
    # Given a saved tally, cached by the repository
    sink.save(Tally(7))
    tally_id = Tally.create_id(7)
    assert sink.repository.get(tally_id).count == 0

    # When a command changes a copy from the cache and then fails before the save
    def failing_command() -> None:
        tally = sink.repository.get(tally_id)
        tally.count_one("e1", "o1", 1)
        raise RuntimeError("the command fails")

    with pytest.raises(RuntimeError):
        failing_command()

    # Then the next command gets the tally as stored
    again = sink.repository.get(tally_id)
    assert (again.count, again.version) == (0, 1)
