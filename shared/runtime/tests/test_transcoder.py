"""The orjson transcoder reads and writes eventsourcing's JSON format exactly; the mapper
decodes stored events as eventsourcing's does."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from orderflow_runtime.transcoder import FastJSONTranscoder, FastMapper, FastUUIDAsHex


class Point:
    def __init__(self, x: int, tag: UUID) -> None:
        self.x, self.tag = x, tag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.tag) == (other.x, other.tag)


class PointAsDict(Transcoding):
    """A transcoding whose data holds another tagged value (decoded inside out)."""

    type = Point
    name = "point"

    def encode(self, obj: Point) -> dict[str, Any]:
        return {"x": obj.x, "tag": obj.tag}

    def decode(self, data: dict[str, Any]) -> Point:
        assert isinstance(data["tag"], UUID)
        return Point(data["x"], data["tag"])


class Colour(StrEnum):
    RED = "red"


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    made = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in made:
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), PointAsDict()):
            transcoder.register(transcoding)
    return made


STATE: dict[str, Any] = {
    "timestamp": datetime(2026, 11, 24, 6, 0, 1, 123456, tzinfo=UTC),
    "order_id": uuid4(),
    "amount": Decimal("1234.50"),
    "lines": [{"sku": "MUG-1", "unit": Decimal("9.90"), "ids": [uuid4(), uuid4()]}],
    "nested": {"deep": {"at": datetime(2026, 1, 1, tzinfo=UTC)}, "empty": {}},
    "point": Point(3, uuid4()),
    "text": 'Grüße \u2603 "quoted" \\ slash',
    "flags": [True, False, None],
    "count": 7,
    "ratio": 0.25,
    "like_a_tag": {"_type_": "x"},  # one key only: an ordinary object
}


def test_each_reads_what_the_other_wrote() -> None:
    stdlib, fast = transcoders()
    assert fast.decode(stdlib.encode(STATE)) == STATE
    assert stdlib.decode(fast.encode(STATE)) == STATE
    assert fast.decode(fast.encode(STATE)) == STATE
    assert fast.encode(STATE) == stdlib.encode(STATE)  # the same bytes, even


def test_what_orjson_refuses_goes_the_stdlib_way() -> None:
    stdlib, fast = transcoders()
    huge = {"n": 2**70, "at": datetime(2026, 1, 1, tzinfo=UTC)}
    assert fast.decode(fast.encode(huge)) == huge
    assert fast.encode(huge) == stdlib.encode(huge)
    not_a_number = fast.decode(fast.encode({"x": math.nan}))
    assert math.isnan(not_a_number["x"])  # orjson alone would have written null


def test_subclasses_of_json_types_are_written_as_json_does() -> None:
    stdlib, fast = transcoders()
    value = {"colour": Colour.RED, "pair": (1, 2)}
    assert fast.encode(value) == stdlib.encode(value) == b'{"colour":"red","pair":[1,2]}'


def test_unknown_types_are_refused_alike() -> None:
    stdlib, fast = transcoders()
    for transcoder in (stdlib, fast):
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.encode({"x": object()})
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.decode(b'{"x":{"_type_":"nope","_data_":1}}')


class Kettle(Aggregate):
    @event("Filled")
    def __init__(self, litres: Decimal) -> None:
        self.litres = litres

    class Boiled(Aggregate.Event):
        class_version = 2
        degrees: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["degrees"] = 100

    @event(Boiled)
    def boil(self, degrees: int) -> None:
        self.degrees = degrees


def test_uuids_decode_as_uuid_does() -> None:
    _, fast = transcoders()
    assert isinstance(fast.names["uuid_hex"], FastUUIDAsHex)  # registered in UUIDAsHex's place
    for value in (uuid4(), UUID(int=0), UUID(int=2**128 - 1)):
        decoded = fast.decode(fast.encode({"id": value}))["id"]
        assert (decoded, hash(decoded), str(decoded), type(decoded)) == (
            value,
            hash(value),
            str(value),
            UUID,
        )
    written = uuid4()
    for spelling in (str(written), "{" + str(written) + "}", written.hex.upper()):
        assert fast.names["uuid_hex"].decode(spelling) == written  # other spellings: UUID's way
    for bad in ("g" * 32, "abc", ""):
        with pytest.raises(ValueError, match="badly formed hexadecimal UUID string"):
            fast.names["uuid_hex"].decode(bad)


def test_the_mapper_decodes_as_eventsourcings_does(tmp_path: Path) -> None:
    app = EventStoreApplication(ServiceSettings(service_name="kettles", data_dir=tmp_path))
    assert isinstance(app.mapper, FastMapper)
    assert isinstance(app.mapper.transcoder, FastJSONTranscoder)
    kettle = Kettle(Decimal("1.5"))
    kettle.boil(degrees=90)
    app.save(kettle)
    reference = Mapper(transcoder=app.mapper.transcoder)
    stored = app.process_recorder.select_notifications(start=1, limit=10)
    assert [vars(app.mapper.to_domain_event(n)) for n in stored] == [
        vars(reference.to_domain_event(n)) for n in stored
    ]
    assert app.repository.get(kettle.id).degrees == 90


def test_the_mapper_upcasts_old_versions(tmp_path: Path) -> None:
    app = EventStoreApplication(ServiceSettings(service_name="kettles", data_dir=tmp_path))
    kettle = Kettle(Decimal("1.5"))
    kettle.boil(degrees=90)
    stored = [app.mapper.to_stored_event(e) for e in kettle.collect_events()]
    old_state = app.mapper.transcoder.decode(stored[1].state)
    del old_state["class_version"], old_state["degrees"]  # as version 1 stored it
    old = type(stored[1])(
        originator_id=stored[1].originator_id,
        originator_version=stored[1].originator_version,
        topic=stored[1].topic,
        state=app.mapper.transcoder.encode(old_state),
    )
    assert app.mapper.to_domain_event(old).degrees == 100  # type: ignore[attr-defined]
