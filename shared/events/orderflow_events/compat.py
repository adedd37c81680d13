"""Breaking changes between two versions of an event's JSON Schema.

Consumers on an older package must keep parsing what producers publish, so these
break the contract: a removed property, a property whose type changed (also inside
$defs), a new required property, a removed enum value, and a removed event type.
Adding optional properties, enum values or whole event types does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Every way `new_schema` breaks readers or writers of `old_schema`; empty if compatible."""
    changes: list[str] = []
    _compare(_Node(old_schema, old_schema), _Node(new_schema, new_schema), "$", changes, set())
    return changes


def catalog_breaking_changes(old: Mapping[str, Schema], new: Mapping[str, Schema]) -> list[str]:
    """Breaking changes between two catalogs (ce_type -> schema), removed event types included."""
    changes = [f"{ce_type}: event type removed" for ce_type in sorted(set(old) - set(new))]
    for ce_type in sorted(set(old) & set(new)):
        changes += [
            f"{ce_type}: {change}" for change in breaking_changes(old[ce_type], new[ce_type])
        ]
    return changes


class _Node:
    """A sub-schema together with the document its $refs resolve in."""

    def __init__(self, schema: Schema, root: Schema) -> None:
        self.root = root
        self.schema = self._resolve(schema)

    def _resolve(self, schema: Schema) -> Schema:
        seen: set[str] = set()
        while "$ref" in schema and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            schema = target
        return schema

    def child(self, schema: Schema) -> _Node:
        return _Node(schema, self.root)

    def types(self) -> frozenset[str]:
        """The JSON types the node admits ("any" when unconstrained)."""
        schema = self.schema
        if "type" in schema:
            kind = schema["type"]
            return frozenset([kind] if isinstance(kind, str) else kind)
        branches = schema.get("anyOf", schema.get("oneOf"))
        if branches:
            return frozenset().union(*(self.child(branch).types() for branch in branches))
        values = schema.get("enum", [schema["const"]] if "const" in schema else None)
        if values is not None:
            return frozenset(_json_type(value) for value in values)
        return frozenset(["any"])

    def without_null(self) -> _Node:
        """The single non-null branch of an `anyOf [X, null]`, else the node itself."""
        branches = [
            branch
            for branch in self.schema.get("anyOf", [])
            if self.child(branch).types() != {"null"}
        ]
        return self.child(branches[0]) if len(branches) == 1 else self


def _compare(old: _Node, new: _Node, path: str, out: list[str], seen: set[tuple[int, int]]) -> None:
    if (id(old.schema), id(new.schema)) in seen:  # recursive models
        return
    seen.add((id(old.schema), id(new.schema)))
    if old.types() != new.types() and "any" not in new.types():
        out.append(f"{path}: type changed from {_names(old.types())} to {_names(new.types())}")
        return
    old, new = old.without_null(), new.without_null()
    _compare_enums(old.schema, new.schema, path, out)
    old_props, new_props = old.schema.get("properties", {}), new.schema.get("properties", {})
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: property removed")
        else:
            _compare(
                old.child(old_props[name]), new.child(new_props[name]), f"{path}.{name}", out, seen
            )
    for name in sorted(set(new.schema.get("required", [])) - set(old.schema.get("required", []))):
        out.append(f"{path}.{name}: new required property")
    for keyword in ("items", "additionalProperties"):
        old_sub, new_sub = old.schema.get(keyword), new.schema.get(keyword)
        if isinstance(old_sub, Mapping) and isinstance(new_sub, Mapping):
            _compare(old.child(old_sub), new.child(new_sub), f"{path}[]", out, seen)


def _compare_enums(old: Schema, new: Schema, path: str, out: list[str]) -> None:
    old_values = _enum_values(old)
    new_values = _enum_values(new)
    if old_values is None or new_values is None:
        return
    for value in old_values:
        if value not in new_values:
            out.append(f"{path}: enum value {value!r} removed")


def _enum_values(schema: Schema) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    return [schema["const"]] if "const" in schema else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", list: "array", dict: "object"}.get(type(value), "any")


def _names(types: frozenset[str]) -> str:
    return "|".join(sorted(types))
