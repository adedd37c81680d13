"""Pure parts of the store tools: JSON-safe values, aggregate attributes, and diffs.

`json_safe` turns what aggregates and read models hold (Decimal, UUID, datetime, enums,
dataclasses, pydantic models, sets, tuples) into JSON values, so that the same value
compares equal whichever store or backend it came from. `diff_values` compares two such
values path by path; `diff_tables` compares read-model rows key by key.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

MISSING = "<missing>"
"""Shown for the side of a difference that has no such value, row or aggregate."""

AGGREGATE_INTERNALS = {"_id": "id", "_version": "version"}
"""eventsourcing's own attributes shown under a plain name (the timestamps are apart)."""
STORE_TIMESTAMPS = ("_created_on", "_modified_on")


def json_safe(value: Any) -> Any:
    """A JSON value for `value`: Decimal/UUID/datetime as text, containers recursively."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, Sequence):
        return [json_safe(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: json_safe(v) for k, v in vars(value).items() if not k.startswith("__")}
    return repr(value)


def aggregate_attributes(aggregate: Any, *, timestamps: bool = True) -> dict[str, Any]:
    """An aggregate's state as JSON: id, version, (created_on, modified_on,) its attributes.

    Private attributes of eventsourcing (`_pending_events`, ...) are left out; the
    aggregate's own attributes, public or with one leading underscore, are kept.
    """
    state = vars(aggregate)
    result: dict[str, Any] = {
        plain: json_safe(state.get(raw)) for raw, plain in AGGREGATE_INTERNALS.items()
    }
    if timestamps:
        for raw in STORE_TIMESTAMPS:
            result[raw.lstrip("_")] = json_safe(state.get(raw))
    for name, value in sorted(state.items()):
        if name in AGGREGATE_INTERNALS or name in STORE_TIMESTAMPS or name.startswith("__"):
            continue
        if name == "_pending_events":
            continue
        result[name] = json_safe(value)
    return result


@dataclass(frozen=True)
class Difference:
    """One value that differs: where (a path like `lines[0].quantity`), and each side."""

    path: str
    left: Any
    right: Any


def diff_values(
    left: Any, right: Any, *, path: str = "", ignore: Iterable[str] = ()
) -> list[Difference]:
    """Every leaf where two JSON values differ; keys named in `ignore` are skipped at any depth."""
    ignored = frozenset(ignore)
    found: list[Difference] = []
    _diff(left, right, path, ignored, found)
    return found


def _diff(
    left: Any, right: Any, path: str, ignored: frozenset[str], found: list[Difference]
) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            if key in ignored:
                continue
            sub = f"{path}.{key}" if path else str(key)
            _diff(left.get(key, MISSING), right.get(key, MISSING), sub, ignored, found)
        return
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            _diff(a, b, f"{path}[{index}]", ignored, found)
        return
    if left != right or (type(left) is not type(right) and not _same_number(left, right)):
        found.append(Difference(path or "<value>", left, right))


def _same_number(left: Any, right: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
        and left == right
    )


@dataclass(frozen=True)
class RowDifference:
    """A read-model cell that differs; `column` is `<row>` when a whole row is missing."""

    table: str
    key: dict[str, Any]
    column: str
    live: Any
    rebuilt: Any

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


ROW = "<row>"


def diff_tables(
    table: str,
    key_columns: Sequence[str],
    live: Iterable[Mapping[str, Any]],
    rebuilt: Iterable[Mapping[str, Any]],
) -> list[RowDifference]:
    """Row by row, keyed by `key_columns`: missing rows, extra rows, then differing cells."""
    live_rows = _keyed(key_columns, live)
    rebuilt_rows = _keyed(key_columns, rebuilt)
    found: list[RowDifference] = []
    for key in sorted(set(live_rows) | set(rebuilt_rows), key=repr):
        key_dict = dict(zip(key_columns, key, strict=True))
        a, b = live_rows.get(key), rebuilt_rows.get(key)
        if a is None or b is None:
            found.append(
                RowDifference(
                    table,
                    key_dict,
                    ROW,
                    MISSING if a is None else "present",
                    MISSING if b is None else "present",
                )
            )
            continue
        for column in sorted(set(a) | set(b)):
            x, y = a.get(column, MISSING), b.get(column, MISSING)
            if x != y:
                found.append(RowDifference(table, key_dict, column, x, y))
    return found


def _keyed(
    key_columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    keyed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        safe = {str(k): json_safe(v) for k, v in row.items()}
        keyed[tuple(safe[c] for c in key_columns)] = safe
    return keyed
