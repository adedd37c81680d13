"""Kafka records as the tools see them: decoded, JSON-able, and back again (no I/O here).

A `RecordView` is one record with its coordinates, key, headers and value. It becomes
a JSON Lines export line (`to_line`/`from_line`) or a row of the archive (`to_row`).
Keys and header values are UTF-8 text; a header value that is not UTF-8 travels in
`binary_headers` (base64); a value that is not JSON travels as `value_text` (or
`value_b64` when it is not even UTF-8), so that an export never loses a poison record.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderflow_events.envelope import parse_time

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class RecordView:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers

    def header(self, name: str) -> str | None:
        """The last value of header `name`, decoded (invalid UTF-8 replaced)."""
        found = None
        for key, value in self.headers:
            if key.lower() == name:
                found = value.decode("utf-8", "replace")
        return found

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def view_of(record: Any) -> RecordView:
    """A RecordView of an aiokafka ConsumerRecord."""
    return RecordView(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((name, value or b"") for name, value in record.headers),
    )


def iso_ms(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def to_line(view: RecordView) -> dict[str, Any]:
    """The JSON Lines export object of a record."""
    line: dict[str, Any] = {
        "topic": view.topic,
        "partition": view.partition,
        "offset": view.offset,
        "timestamp": iso_ms(view.timestamp_ms),
        "key": None if view.key is None else view.key.decode("utf-8", "replace"),
        "headers": {},
    }
    binary: dict[str, str] = {}
    for name, value in view.headers:
        try:
            line["headers"][name] = value.decode()
        except UnicodeDecodeError:
            binary[name] = base64.b64encode(value).decode()
    if binary:
        line["binary_headers"] = binary
    line.update(_value_fields(view.value))
    return line


def _value_fields(value: bytes | None) -> dict[str, Any]:
    if value is None:
        return {"value": None}
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return {"value": None, "value_b64": base64.b64encode(value).decode()}
    try:
        return {"value": json.loads(text)}
    except ValueError:
        return {"value": None, "value_text": text}


def from_line(line: dict[str, Any]) -> RecordView:
    """The record an export line describes (the value re-encoded as compact JSON)."""
    headers = [(name, str(value).encode()) for name, value in line.get("headers", {}).items()]
    for name, encoded in line.get("binary_headers", {}).items():
        headers.append((name, base64.b64decode(encoded)))
    if "value_b64" in line:
        value: bytes | None = base64.b64decode(line["value_b64"])
    elif "value_text" in line:
        value = str(line["value_text"]).encode()
    elif line.get("value") is None:
        value = None
    else:
        value = json.dumps(line["value"], separators=(",", ":"), ensure_ascii=False).encode()
    key = line.get("key")
    return RecordView(
        topic=str(line["topic"]),
        partition=int(line.get("partition", 0)),
        offset=int(line.get("offset", -1)),
        timestamp_ms=_timestamp_ms(line.get("timestamp")),
        key=None if key is None else str(key).encode(),
        value=value,
        headers=tuple(headers),
    )


def _timestamp_ms(text: Any) -> int:
    if not text:
        return 0
    return int(parse_time(str(text)).timestamp() * 1000)


def to_row(view: RecordView) -> dict[str, Any]:
    """The archive row of a record (see archive_db.events)."""
    sequence = view.header("ce_sequence")
    return {
        "ce_id": view.header("ce_id"),
        "type": view.header("ce_type"),
        "source": view.header("ce_source"),
        "time": _event_time(view),
        "subject": view.header("ce_subject"),
        "correlation_id": view.header("ce_correlationid") or view.header("ce_subject"),
        "causation_id": view.header("ce_causationid"),
        "sequence": int(sequence) if sequence and sequence.isdigit() else None,
        "topic": view.topic,
        "partition": view.partition,
        "offset": view.offset,
        "timestamp_ms": view.timestamp_ms,
        "key": None if view.key is None else _text(view.key),
        "headers": {name: _text(value) for name, value in view.headers},
        "value": None if view.value is None else _text(view.value),
    }


def _event_time(view: RecordView) -> datetime:
    """ce_time; the broker's timestamp when it is missing or malformed."""
    text = view.header("ce_time")
    if text:
        try:
            return parse_time(text)
        except ValueError:
            pass
    return datetime.fromtimestamp(view.timestamp_ms / 1000, UTC)


def _text(data: bytes) -> str:
    """UTF-8 text PostgreSQL accepts (no NUL), invalid bytes replaced."""
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")
