"""Helpers shared by the generated documents (AsyncAPI, events reference): the package
version, the event types per topic, the key of each event type, and a small YAML writer.

The YAML writer exists so that generating the docs needs nothing beyond pydantic: it
writes block-style YAML for plain data (dicts, lists, str, int, bool, None), quoting
with JSON escapes whenever a plain scalar could be misread.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from orderflow_events.base import EVENT_TYPES, IntegrationEvent, OrderEvent, SkuEvent
from orderflow_events.envelope import CONTENT_TYPE, SPEC_VERSION
from orderflow_events.topics import ALL_TOPICS

DISTRIBUTION: Final = "orderflow-events"


def package_version() -> str:
    """The version in the repository's pyproject.toml, else the installed distribution's."""
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == DISTRIBUTION and isinstance(project.get("version"), str):
            return str(project["version"])
    return metadata.version(DISTRIBUTION)


def events_by_topic() -> dict[str, list[type[IntegrationEvent]]]:
    """Topic (in ALL_TOPICS order) -> its event classes, in the order they are defined."""
    grouped: dict[str, list[type[IntegrationEvent]]] = {topic: [] for topic in ALL_TOPICS}
    for cls in EVENT_TYPES.values():
        grouped[cls.topic].append(cls)
    return grouped


KEY_NOTES: Final[Mapping[str, str]] = {
    "inventory.stock_restocked.v1": (
        "The order id for a restock from a return; the sku for a restock from a goods receipt."
    ),
}
"""The record key of event types whose key is not simply their `key_field`."""


def key_description(cls: type[IntegrationEvent]) -> str:
    """What the Kafka record key of `cls` holds, in words."""
    if cls.ce_type in KEY_NOTES:
        return KEY_NOTES[cls.ce_type]
    if cls.partition_key is not IntegrationEvent.partition_key:
        raise ValueError(f"{cls.ce_type} computes its key: describe it in docs.KEY_NOTES")
    if issubclass(cls, OrderEvent) or cls.key_field == "order_id":
        return "The order id (UUID)."
    if issubclass(cls, SkuEvent) or cls.key_field == "sku":
        return "The sku."
    return f"The value of `{cls.key_field}`."


def key_summary(cls: type[IntegrationEvent]) -> str:
    """The key in a word or two: `order id`, `sku`, or `order id or sku`."""
    if cls.ce_type in KEY_NOTES:
        return "order id or sku"
    return {"order_id": "order id"}.get(cls.key_field, cls.key_field)


def first_paragraph(text: str | None) -> str:
    """The docstring's first paragraph on one line."""
    paragraphs = re.split(r"\n\s*\n", (text or "").strip())
    return " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""


def docstring(cls: type[Any]) -> str:
    """The class's own docstring, paragraphs kept, lines of a paragraph joined."""
    text = cls.__dict__.get("__doc__") or ""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


@dataclass(frozen=True)
class Header:
    """One Kafka record header of the CloudEvents binary mode, as documented."""

    name: str
    description: str
    required: bool
    schema: Mapping[str, str] = field(default_factory=dict)
    """JSON Schema keywords beyond `type: string` (const, format, pattern)."""


HEADERS: Final[tuple[Header, ...]] = (
    Header("ce_specversion", "CloudEvents version: `1.0`.", True, {"const": SPEC_VERSION}),
    Header("ce_id", "UUID, unique per event: **deduplicate on it**.", True, {"format": "uuid"}),
    Header(
        "ce_source",
        "The producing service, `/services/<service>`.",
        True,
        {"pattern": r"^/services/[a-z]+$"},
    ),
    Header(
        "ce_type",
        "`<topic prefix>.<event>.v<N>`, e.g. `payment.authorized.v1`.",
        True,
        {"pattern": r"^[a-z]+\.[a-z][a-z0-9_]*\.v[0-9]+$"},
    ),
    Header(
        "ce_time",
        "When it happened, RFC 3339 UTC, e.g. `2025-03-01T12:00:00Z`.",
        True,
        {"format": "date-time"},
    ),
    Header("ce_subject", "The order id, when the event belongs to an order.", False),
    Header("content-type", "`application/json`.", True, {"const": CONTENT_TYPE}),
    Header("ce_correlationid", "The order id (one saga, one correlation).", False),
    Header(
        "ce_causationid", "`ce_id` of the event that caused this one.", False, {"format": "uuid"}
    ),
    Header(
        "ce_sequence",
        "The producer's store position (increases per producer and `ce_storeid`).",
        False,
        {"pattern": "^[0-9]+$"},
    ),
    Header(
        "ce_storeid",
        "Identifies the producer's event store: a new one (e.g. after a wipe) starts"
        " `ce_sequence` again at 1.",
        False,
        {"pattern": "^[0-9a-f-]{1,64}$"},
    ),
    Header(
        "traceparent",
        "W3C trace context (`ce_traceparent` is accepted on read too).",
        False,
        {"pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
    ),
)
"""The headers `to_record` writes, in its order; the required ones are always present."""


# --- YAML -----------------------------------------------------------------------------

_PLAIN: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED: Final = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029\ufeff]")


def to_yaml(document: Mapping[str, Any]) -> str:
    """Block-style YAML of plain data; keys keep their order. Ends with a newline."""
    return "\n".join(_node(document, 0)) + "\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block(value: Any) -> bool:
    """Whether a string is written as a literal block (`|-`)."""
    return (
        isinstance(value, str)
        and "\n" in value
        and not value.endswith("\n")
        and not value.startswith((" ", "\n"))
        and not _CONTROL.search(value)
        and "\t" not in value
        and all(line == line.rstrip() for line in value.split("\n"))
    )


def _node(value: Any, indent: int) -> list[str]:
    """Lines of a dict or list at `indent` spaces."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"YAML keys must be strings, not {key!r}")
            lines += _entry(f"{pad}{_scalar(key)}:", item, indent)
        return lines
    for item in value:
        nested = _entry(f"{pad}-", item, indent)
        if isinstance(item, Mapping | list) and item:
            # The first line of a nested block moves up beside its dash.
            first = nested[1].lstrip(" ")
            nested = [f"{pad}- {first}", *nested[2:]]
        lines += nested
    return lines


def _entry(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, Mapping | list) and not isinstance(item, str):
        if not item:
            return [f"{head} {'{}' if isinstance(item, Mapping) else '[]'}"]
        return [head, *_node(item, indent + 2)]
    if _block(item):
        body = " " * (indent + 2)
        return [f"{head} |-", *(f"{body}{line}" if line else "" for line in item.split("\n"))]
    return [f"{head} {_scalar(item)}"]


def to_json(document: Mapping[str, Any] | Sequence[Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
