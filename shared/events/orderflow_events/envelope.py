"""The CloudEvents 1.0 Kafka protocol binding, binary mode: event <-> Kafka record.

Attributes travel as `ce_`-prefixed headers, the event's JSON is the value and the
partition key (order id or sku) the key. The W3C trace context goes in the plain
`traceparent` header, as Kafka tracing instrumentations expect; `ce_traceparent`
is accepted on read too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from pydantic import ValidationError

from orderflow_events.base import EVENT_TYPES, IntegrationEvent

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"
MAX_VALUE_BYTES: Final = 1024 * 1024
"""Larger values are refused as `too_large` (Kafka's default message limit is about 1 MB)."""

REQUIRED_HEADERS: Final = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time")
STORE_ID_PATTERN: Final = re.compile(r"[0-9a-f-]{1,64}")
"""What a `ce_storeid` may hold: 1 to 64 lower-case hex digits and dashes."""
_SNIPPET_CHARS: Final = 60
_LONG_DIGITS: Final = re.compile(r"\d[\d -]{11,}\d")


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope:
    """A received event with its CloudEvents attributes."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None
    correlation_id: str | None
    causation_id: str | None
    traceparent: str | None
    sequence: int | None
    data: IntegrationEvent
    storeid: str | None = None
    """The producer's event store incarnation: `sequence` increases within one storeid."""


class InvalidRecord(Exception):  # noqa: N818 (a name of the public contract)
    """A record that is not a valid orderflow event; `reason` is a short machine code.

    Reasons: missing_value, too_large, missing_header, bad_header,
    unsupported_specversion, unsupported_content_type, unknown_type,
    source_mismatch, malformed_json, validation_failed.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.event_id = event_id
        self.event_type = event_type


def to_record(
    event: IntegrationEvent,
    *,
    event_id: str,
    time: datetime,
    causation_id: str | None = None,
    correlation_id: str | None = None,
    traceparent: str | None = None,
    sequence: int | None = None,
    storeid: str | None = None,
) -> KafkaRecord:
    """The Kafka record of `event`; `correlation_id` defaults to its subject (the order id).

    `sequence` is the producer's position in its event store and `storeid` names that
    store (a new one, after a wipe, starts its sequence again at 1).
    """
    if time.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    if storeid is not None and not STORE_ID_PATTERN.fullmatch(storeid):
        raise ValueError(f"storeid must be 1-64 of [0-9a-f-], not {storeid!r}")
    subject = event.subject()
    attributes: list[tuple[str, str | None]] = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", str(UUID(event_id))),
        ("ce_source", event.source),
        ("ce_type", event.ce_type),
        ("ce_time", format_time(time)),
        ("ce_subject", subject),
        ("content-type", CONTENT_TYPE),
        ("ce_correlationid", correlation_id if correlation_id is not None else subject),
        ("ce_causationid", causation_id),
        ("traceparent", traceparent),
        ("ce_sequence", None if sequence is None else str(sequence)),
        ("ce_storeid", storeid),
    ]
    return KafkaRecord(
        topic=event.topic,
        key=event.partition_key().encode(),
        value=event.model_dump_json().encode(),
        headers=[(name, value.encode()) for name, value in attributes if value is not None],
    )


def from_record(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> Envelope:
    """Parse and validate a consumed record; raises InvalidRecord. The key is not needed."""
    attrs = _decoded_headers(headers)
    fail = _failure(attrs)
    cls = _event_class(attrs, fail)
    if value is None:
        raise fail("missing_value", "the record has no value")
    if len(value) > MAX_VALUE_BYTES:
        raise fail("too_large", f"value of {len(value)} bytes exceeds {MAX_VALUE_BYTES}")
    try:
        event_id = str(UUID(attrs["ce_id"]))
        time = parse_time(attrs["ce_time"])
        sequence = int(attrs["ce_sequence"]) if "ce_sequence" in attrs else None
    except ValueError:
        raise fail("bad_header", "ce_id, ce_time or ce_sequence is malformed") from None
    storeid = attrs.get("ce_storeid")
    if storeid is not None and not STORE_ID_PATTERN.fullmatch(storeid):
        raise fail("bad_header", f"ce_storeid {_snippet(storeid)} is malformed")
    return Envelope(
        id=event_id,
        source=attrs["ce_source"],
        type=attrs["ce_type"],
        time=time,
        subject=attrs.get("ce_subject"),
        correlation_id=attrs.get("ce_correlationid"),
        causation_id=attrs.get("ce_causationid"),
        traceparent=attrs.get("traceparent", attrs.get("ce_traceparent")),
        sequence=sequence,
        data=_parse_value(cls, value, fail),
        storeid=storeid,
    )


_Fail = Callable[[str, str], InvalidRecord]


def _failure(attrs: dict[str, str]) -> _Fail:
    """Builds InvalidRecords that carry the record's ce_id and ce_type, for dead letters."""

    def fail(reason: str, message: str) -> InvalidRecord:
        return InvalidRecord(
            reason, message, event_id=attrs.get("ce_id"), event_type=attrs.get("ce_type")
        )

    return fail


def _event_class(attrs: dict[str, str], fail: _Fail) -> type[IntegrationEvent]:
    """Check the CloudEvents headers; returns the event class named by ce_type."""
    missing = [name for name in REQUIRED_HEADERS if not attrs.get(name)]
    if missing:
        raise fail("missing_header", f"missing header(s) {', '.join(missing)}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise fail("unsupported_specversion", f"specversion {_snippet(attrs['ce_specversion'])}")
    content_type = attrs.get("content-type", CONTENT_TYPE).split(";")[0].strip().lower()
    if content_type != CONTENT_TYPE:
        raise fail("unsupported_content_type", f"content-type {_snippet(content_type)}")
    cls = EVENT_TYPES.get(attrs["ce_type"])
    if cls is None:
        raise fail("unknown_type", f"unknown ce_type {_snippet(attrs['ce_type'])}")
    if attrs["ce_source"] != cls.source:
        source = _snippet(attrs["ce_source"])
        raise fail("source_mismatch", f"{cls.ce_type} comes from {cls.source}, not {source}")
    return cls


def _parse_value(cls: type[IntegrationEvent], value: bytes, fail: _Fail) -> IntegrationEvent:
    try:
        return cls.model_validate_json(value)
    except ValidationError as error:
        errors = error.errors(include_input=False, include_url=False)
        if any(item["type"] == "json_invalid" for item in errors):
            snippet = _snippet(value.decode("utf-8", "replace"))
            raise fail("malformed_json", f"value is not JSON: {snippet}") from None
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or '<value>'}: {item['msg']}" for item in errors[:5]
        )
        raise fail("validation_failed", f"{len(errors)} error(s): {problems}") from None


def headers_dict(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """Header names (lower-cased) to UTF-8 values; a repeated header keeps its last value."""
    return {name.lower(): value.decode() for name, value in headers}


def _decoded_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    try:
        return headers_dict(headers)
    except UnicodeDecodeError:
        raise InvalidRecord("bad_header", "a header value is not UTF-8") from None


def format_time(time: datetime) -> str:
    """RFC 3339 in UTC with a 'Z', e.g. 2025-01-31T12:00:00.123456Z."""
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time with an offset; returns it in UTC."""
    time = datetime.fromisoformat(text)
    if time.tzinfo is None:
        raise ValueError("ce_time has no UTC offset")
    return time.astimezone(UTC)


def _snippet(text: str) -> str:
    """A short, card-number-free excerpt of untrusted input for error messages."""
    short = _LONG_DIGITS.sub("[digits]", text[: _SNIPPET_CHARS * 2])[:_SNIPPET_CHARS]
    return repr(short + ("..." if len(text) > _SNIPPET_CHARS else ""))
