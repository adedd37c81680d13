"""The stores' JSON transcoder and mapper: eventsourcing's formats, read and written faster.

eventsourcing's `JSONTranscoder` decodes with the stdlib `json` module and an
`object_hook` called for every JSON object; decoding was half the cost of a read-model
rebuild and a large share of each relay round. `FastJSONTranscoder` reads and writes
the same bytes format (`{"_type_": name, "_data_": ...}` for UUID, Decimal, datetime
and any registered transcoding) with orjson, and falls back to the stdlib path for
what orjson refuses (integers beyond 64 bits), so stores written before or by either
transcoder read the same.

`FastMapper` skips the per-event lookups of eventsourcing's `Mapper.to_domain_event`
(topic resolution, id converter) by caching them per topic; it keeps its checks:
ciphers, compressors and class-version upcasting behave as in eventsourcing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, cast
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

_CONTAINERS = (dict, list)


class FastUUIDAsHex(UUIDAsHex):
    """`UUIDAsHex`, decoding the 32 hex digits it writes without `UUID.__init__`'s
    handling of every other spelling (1.44 against 1.63 µs a UUID, measured here); any
    other string goes through `UUID` as before."""

    def decode(self, data: str) -> UUID:
        if type(data) is not str or len(data) != 32:
            return super().decode(data)
        try:
            number = int(data, 16)
        except ValueError:
            raise ValueError("badly formed hexadecimal UUID string") from None  # as UUID's
        uuid = _new_object(UUID)
        _set_attribute(uuid, "int", number)
        _set_attribute(uuid, "is_safe", SafeUUID.unknown)
        return uuid


_new_object = object.__new__
_set_attribute = object.__setattr__


class FastJSONTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s format, with orjson doing the parsing and the writing."""

    def register(self, transcoding: Transcoding) -> None:
        if type(transcoding) is UUIDAsHex:
            transcoding = FastUUIDAsHex()
        super().register(transcoding)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tag(obj), option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return super().encode(obj)  # e.g. an int beyond 64 bits; same format

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)  # e.g. an int beyond 64 bits; or a real error
        return self._untag(parsed)

    def _tag(self, value: Any) -> Any:
        """`value` with each non-JSON object replaced by its `_type_`/`_data_` form.

        orjson writes UUIDs and datetimes itself (as plain strings, which would read
        back as strings), so every object that is not a plain JSON value goes through
        the registered transcodings here, as the stdlib encoder's `default` does.
        """
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        if kind is dict:
            return {key: self._tag(item) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [self._tag(item) for item in value]
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError("NaN or infinity")  # orjson would write null: the stdlib path
        if isinstance(value, str | int | float):  # and their subclasses, as json does
            return value
        if isinstance(value, dict):
            return {key: self._tag(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._tag(item) for item in value]
        try:
            transcoding = self.types[kind]
        except KeyError:
            raise TranscodingNotRegisteredError(
                f"Object of type {kind} is not serializable. Please define and register "
                "a custom transcoding for this type."
            ) from None
        return {"_type_": transcoding.name, "_data_": self._tag(transcoding.encode(value))}

    def _untag(self, value: Any) -> Any:
        """The parsed JSON with each `{"_type_", "_data_"}` object decoded, inside out
        (the order in which the stdlib decoder calls its `object_hook`)."""
        kind = type(value)
        if kind is dict:
            return self._untag_dict(value)
        if kind is list:
            self._untag_list(value)
        return value

    def _untag_dict(self, value: dict[str, Any]) -> Any:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            transcoding = self.names.get(value["_type_"])
            if transcoding is None:
                return self._decode_obj(value)  # raises TranscodingNotRegisteredError
            return transcoding.decode(self._untag(value["_data_"]))
        for key, item in value.items():
            kind = type(item)
            if kind is dict:
                value[key] = self._untag_dict(item)
            elif kind is list:
                self._untag_list(item)
        return value

    def _untag_list(self, value: list[Any]) -> None:
        for index, item in enumerate(value):
            kind = type(item)
            if kind is dict:
                value[index] = self._untag_dict(item)
            elif kind is list:
                self._untag_list(item)


_Convert = Callable[[Any], Any]


class FastMapper(Mapper[UUID]):
    """eventsourcing's `Mapper`, with the per-topic lookups of decoding cached."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: dict[str, tuple[type[Any], int]] = {}
        self._converters: dict[tuple[type[Any], type[Any]], _Convert] = {}

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        topic = stored_event.topic
        try:
            cls, class_version = self._classes[topic]
        except KeyError:
            cls = resolve_topic(topic)
            class_version = getattr(cls, "class_version", 1)
            self._classes[topic] = cls, class_version
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event_state: dict[str, Any] = self.transcoder.decode(state)
        except Exception as error:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic '{topic}', "
                f"originator_id '{stored_event.originator_id}' and "
                f"originator_version {stored_event.originator_version}: {error}"
            ) from error
        originator_id = stored_event.originator_id
        key = (cls, type(originator_id))
        convert = self._converters.get(key)
        if convert is None:
            convert = self._converters[key] = find_id_convertor(
                cast(Hashable, cls), cast(Hashable, type(originator_id))
            )
        event_state["originator_id"] = convert(originator_id)
        event_state["originator_version"] = stored_event.originator_version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event  # type: ignore[no-any-return]
