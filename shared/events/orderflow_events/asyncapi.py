"""The AsyncAPI 3.0 document of every orderflow topic, generated from the event models.

`python -m orderflow_events asyncapi --out docs/asyncapi.yaml` writes it; a test keeps
the committed file current and validates it against the AsyncAPI 3.0.0 JSON Schema.

Layout: one channel per topic (address = topic name) listing every event type on it,
one generic channel for the dead-letter topics (`{topic}.dlq`), one `send` operation
per producing service, and in `components`: one message per event type (name =
ce_type, CloudEvents binary-mode headers, payload, Kafka key) and the payload schemas,
which are the generated JSON Schemas with their `$defs` moved to `components/schemas`.
The output depends only on the models: the same package writes the same bytes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final
from uuid import NAMESPACE_URL, uuid5

from orderflow_events.base import IntegrationEvent, OrderEvent
from orderflow_events.consumers import consumers_of
from orderflow_events.docs import (
    HEADERS,
    KEY_NOTES,
    docstring,
    events_by_topic,
    first_paragraph,
    key_description,
    key_summary,
    package_version,
    to_json,
    to_yaml,
)
from orderflow_events.envelope import CONTENT_TYPE, headers_dict, to_record
from orderflow_events.samples import T0, sample_events
from orderflow_events.schemas import event_schema
from orderflow_events.topics import DLQ_SUFFIX, TOPIC_SERVICE

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
HEADERS_SCHEMA: Final = "CloudEventsHeaders"
DLQ_CHANNEL: Final = "deadLetters"
REGENERATE_HINT: Final = (
    "run `python -m orderflow_events asyncapi --out docs/asyncapi.yaml` and commit the result"
)

_EXAMPLE_TRACEPARENT: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_EXAMPLE_STOREID: Final = "3f9c2a61d07be845"
_EXAMPLE_IDS: Final = uuid5(NAMESPACE_URL, "urn:orderflow:asyncapi:examples")

_DESCRIPTION: Final = """\
orderflow's public events on Kafka: one topic per producing service, named
`<service>.events`, each carrying the event types of one service.

Every record follows the CloudEvents 1.0 Kafka protocol binding in binary mode:
the attributes are `ce_`-prefixed headers (UTF-8), the value is the event as
compact JSON and the key is the order id (the sku for catalog and stock-level
events), so all events of one order on one topic keep their order. Events on
different topics have no order between them.

- Deduplicate on `ce_id`: delivery is at least once.
- Skip unknown `ce_type`s: they are newer event types or versions.
- Money is `{"amount": "12.50", "currency": "EUR"}`, the amount a decimal
  string with the currency's minor-unit decimals, never a JSON number.
- Times are RFC 3339 in UTC; ids are UUID strings unless named otherwise.
- Within a version fields are only added, never removed, renamed or retyped; a
  breaking change is a new version (`payment.authorized.v2`) published alongside.
- Deployments may prefix every topic name with a namespace (e.g. `staging.`).

The Python package `orderflow-events` parses and validates these records
(`from_record`); `schemas/` in it holds the same JSON Schemas as below."""

_SERVER_DESCRIPTION: Final = (
    "The Kafka cluster the orderflow services use (plain JSON values, no schema registry)."
)


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0.0 document as plain data."""
    grouped = events_by_topic()
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {HEADERS_SCHEMA: _headers_schema()}
    for classes in grouped.values():
        for cls in classes:
            payload, definitions = _payload_schema(cls)
            for name, definition in definitions.items():
                if schemas.setdefault(name, definition) != definition:
                    raise ValueError(f"two different models are both named {name}")
            schemas[cls.ce_type] = payload
            messages[cls.ce_type] = _message(cls)
    messages["DeadLetter"] = _dead_letter_message()
    schemas["DeadLetterHeaders"] = _dead_letter_headers()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:orderflow:events",
        "info": {
            "title": "orderflow events",
            "version": package_version(),
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "title": "orderflow Kafka",
                "description": _SERVER_DESCRIPTION,
                "variables": {
                    "bootstrap": {
                        "default": "localhost:9092",
                        "description": "A bootstrap server, host:port "
                        "(KAFKA_BOOTSTRAP_SERVERS of the services).",
                    }
                },
            }
        },
        "channels": {
            **{topic: _channel(topic, classes) for topic, classes in grouped.items()},
            DLQ_CHANNEL: _dlq_channel(list(grouped)),
        },
        "operations": {
            **{_operation_id(topic): _operation(topic, grouped[topic]) for topic in grouped},
            "sendDeadLetter": _dlq_operation(),
        },
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render(fmt: str = "yaml") -> str:
    """The document as YAML (default) or JSON text."""
    document = asyncapi_document()
    return to_json(document) if fmt == "json" else to_yaml(document)


def format_of(path: Path) -> str:
    return "json" if path.suffix == ".json" else "yaml"


def write(path: Path) -> bool:
    """Write the document to `path` (format from its suffix); True when it changed."""
    content = render(format_of(path))
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True


def is_current(path: Path) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render(format_of(path))


# --- channels and operations ----------------------------------------------------------


def _channel(topic: str, classes: list[type[IntegrationEvent]]) -> dict[str, Any]:
    producer = TOPIC_SERVICE[topic]
    return {
        "address": topic,
        "title": topic,
        "summary": f"Events published by the {producer} service.",
        "description": (
            f"Every event type the {producer} service publishes, keyed by "
            f"{_keys(classes)}. Records of one key keep their order. Deduplicate on "
            "`ce_id`; skip `ce_type`s you do not know."
        ),
        "messages": {cls.ce_type: _ref("components", "messages", cls.ce_type) for cls in classes},
    }


def _keys(classes: list[type[IntegrationEvent]]) -> str:
    keys = {part for cls in classes for part in key_summary(cls).split(" or ")}
    return " or ".join(sorted(keys))


def _operation_id(topic: str) -> str:
    return f"{TOPIC_SERVICE[topic]}.send.{topic}"


def _operation(topic: str, classes: list[type[IntegrationEvent]]) -> dict[str, Any]:
    producer = TOPIC_SERVICE[topic]
    receivers: dict[str, list[str]] = {}
    for cls in classes:
        for consumer in consumers_of(cls.ce_type):
            receivers.setdefault(consumer, []).append(cls.ce_type)
    lines = [f"- {name}: {', '.join(f'`{t}`' for t in types)}" for name, types in receivers.items()]
    return {
        "action": "send",
        "channel": _ref("channels", topic),
        "title": f"{producer} publishes {topic}",
        "summary": f"The {producer} service publishes its events to {topic}.",
        "description": "\n".join(
            [
                f"Only the {producer} service writes to `{topic}` (through its outbox relay, "
                "after the change is stored: at least once, in store order per key).",
                "",
                "Received by:",
                "",
                *lines,
            ]
        ),
        "messages": [_ref("channels", topic, "messages", cls.ce_type) for cls in classes],
    }


def _dlq_channel(topics: list[str]) -> dict[str, Any]:
    return {
        "address": "{topic}" + DLQ_SUFFIX,
        "title": "Dead-letter topics",
        "summary": "Records a consumer could not process, one dead-letter topic per topic.",
        "description": (
            "When a consumer cannot apply a record of `<topic>` (an invalid record, or a "
            "handler that keeps failing), it publishes the record to `<topic>.dlq` with "
            "its original key, value and headers plus `dlq_*` headers saying which "
            "consumer failed, why and how often. The value may be anything the original "
            "topic carried, including invalid JSON."
        ),
        "parameters": {
            "topic": {
                "description": "The topic whose records failed.",
                "enum": topics,
            }
        },
        "messages": {"DeadLetter": _ref("components", "messages", "DeadLetter")},
    }


def _dlq_operation() -> dict[str, Any]:
    return {
        "action": "send",
        "channel": _ref("channels", DLQ_CHANNEL),
        "title": "Consumers dead-letter records",
        "summary": "Any consuming service publishes the records it gave up on.",
        "description": (
            "Every service that consumes a topic writes the records it could not "
            "process to that topic's `.dlq`; operators inspect and replay them "
            "(`orderflow dlq`)."
        ),
        "messages": [_ref("channels", DLQ_CHANNEL, "messages", "DeadLetter")],
    }


# --- messages ---------------------------------------------------------------------------


def _message(cls: type[IntegrationEvent]) -> dict[str, Any]:
    consumers = ", ".join(consumers_of(cls.ce_type))
    message: dict[str, Any] = {
        "name": cls.ce_type,
        "title": cls.__name__,
        "summary": first_paragraph(cls.__doc__),
        "description": (
            f"{docstring(cls)}\n\nProduced by {TOPIC_SERVICE[cls.topic]} on `{cls.topic}`; "
            f"consumed by {consumers}. Key: {key_description(cls)}"
        ),
        "contentType": CONTENT_TYPE,
        "headers": _message_headers(cls),
        "payload": _ref("components", "schemas", cls.ce_type),
    }
    if issubclass(cls, OrderEvent):
        message["correlationId"] = {
            "description": "The order id: every event of one order's saga shares it.",
            "location": "$message.header#/ce_correlationid",
        }
    message["bindings"] = {
        "kafka": {"key": _key_schema(cls), "bindingVersion": KAFKA_BINDING_VERSION}
    }
    message["examples"] = [_example(cls)]
    return message


def _message_headers(cls: type[IntegrationEvent]) -> dict[str, Any]:
    specific: dict[str, Any] = {
        "type": "object",
        "properties": {
            "ce_source": {"type": "string", "const": cls.source},
            "ce_type": {"type": "string", "const": cls.ce_type},
        },
    }
    if issubclass(cls, OrderEvent):
        specific["properties"]["ce_subject"] = {"type": "string", "format": "uuid"}
        specific["required"] = ["ce_subject", "ce_correlationid"]
    return {"allOf": [_ref("components", "schemas", HEADERS_SCHEMA), specific]}


def _key_schema(cls: type[IntegrationEvent]) -> dict[str, Any]:
    key: dict[str, Any] = {"type": "string", "description": key_description(cls)}
    if cls.ce_type not in KEY_NOTES and cls.key_field == "order_id":
        key["format"] = "uuid"
    return key


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "CloudEvents Kafka headers (binary mode)",
        "description": "Kafka record headers, UTF-8 strings. Other headers may be present.",
        "properties": {
            header.name: {"type": "string", "description": header.description, **header.schema}
            for header in HEADERS
        },
        "required": [header.name for header in HEADERS if header.required],
    }


def _dead_letter_headers() -> dict[str, Any]:
    def text(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    digits = {"pattern": r"^[0-9]+$"}
    return {
        "type": "object",
        "title": "Dead-letter headers",
        "description": "The original record's headers (as far as it had any) plus these.",
        "properties": {
            "dlq_consumer": text("The consumer (service) that gave up on the record."),
            "dlq_reason": text(
                "Why: an `InvalidRecord` reason (e.g. `validation_failed`, `unknown_type`) "
                "or the failure of the handler."
            ),
            "dlq_error": text("The error, at most 500 characters, without payload data."),
            "dlq_attempts": text("How often the consumer tried.", **digits),
            "dlq_original_topic": text("The topic the record came from."),
            "dlq_original_partition": text("Its partition there.", **digits),
            "dlq_original_offset": text("Its offset there.", **digits),
            "dlq_failed_at": text("When the consumer gave up, RFC 3339.", format="date-time"),
            "dlq_truncated": text("`true` when the value was cut to 64 KiB.", const="true"),
        },
        "required": ["dlq_consumer", "dlq_reason", "dlq_attempts", "dlq_original_topic"],
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record of `<topic>` that a consumer could not process.",
        "description": (
            "Key and value as in the original record (the value possibly truncated); "
            "headers as in the original plus `dlq_*`."
        ),
        "headers": _ref("components", "schemas", "DeadLetterHeaders"),
        "payload": {"description": "The original record's value, unchanged."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _example(cls: type[IntegrationEvent]) -> dict[str, Any]:
    event = next(e for e in sample_events() if type(e) is cls)
    record = to_record(
        event,
        event_id=str(uuid5(_EXAMPLE_IDS, cls.ce_type)),
        time=T0,
        causation_id=str(uuid5(_EXAMPLE_IDS, f"cause:{cls.ce_type}")),
        traceparent=_EXAMPLE_TRACEPARENT,
        sequence=42,
        storeid=_EXAMPLE_STOREID,
    )
    return {
        "name": "sample",
        "summary": f"A {cls.__name__} record (key {record.key.decode()}).",
        "headers": headers_dict(record.headers),
        "payload": json.loads(record.value),
    }


# --- payload schemas --------------------------------------------------------------------


def _payload_schema(cls: type[IntegrationEvent]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event's JSON Schema for `components/schemas`, and its `$defs` to put there too.

    `$schema` and `$id` go (an `$id` would move the base of the `$ref`s); every
    `#/$defs/X` becomes `#/components/schemas/X`.
    """
    schema = copy.deepcopy(event_schema(cls))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    definitions = schema.pop("$defs", {})
    moved = _move_refs(schema)
    return _sorted(moved), {name: _sorted(_move_refs(d)) for name, d in definitions.items()}


def _move_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/components/schemas/", 1)
                if key == "$ref" and isinstance(value, str)
                else _move_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_move_refs(item) for item in node]
    return node


def _sorted(node: Any) -> Any:
    """Keys sorted at every level, as in the committed JSON Schema files."""
    result: Any = json.loads(json.dumps(node, sort_keys=True))
    return result


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)}
