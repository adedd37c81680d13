"""Read models that name their event classes are given only those, in batches; a rebuild
can stop at a position and reports each batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.projections import Projections, ReadModel, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from sqlalchemy import Connection, MetaData


class Lamp(TracedAggregate):
    @event("Installed")
    def __init__(self, room: str) -> None:
        self.room = room
        self.on = False

    @event("Switched")
    def switch(self) -> None:
        self.on = not self.on

    @event("Dusted")
    def dust(self) -> None:
        pass


Switched: type[Any] = Lamp.Switched  # type: ignore[attr-defined]
Installed: type[Any] = Lamp.Installed  # type: ignore[attr-defined]


class Switches(ReadModel):
    """Counts switches in memory; records the batches it was given."""

    name: ClassVar[str] = "test.switches"
    metadata: ClassVar[MetaData] = MetaData()
    event_types: ClassVar[tuple[type, ...] | None] = (Switched,)

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def project(self, domain_event: Any, conn: Connection) -> None:
        raise AssertionError("project_batch is overridden")

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        self.batches.append([type(e).__qualname__ for e in domain_events])


class Everything(ReadModel):
    name: ClassVar[str] = "test.everything"
    metadata: ClassVar[MetaData] = MetaData()

    def __init__(self) -> None:
        self.seen: list[str] = []

    def project(self, domain_event: Any, conn: Connection) -> None:
        self.seen.append(type(domain_event).__qualname__)


def store(tmp_path: Path) -> tuple[EventStoreApplication, ServiceSettings]:
    settings = ServiceSettings(service_name="lamps", data_dir=tmp_path)
    app = EventStoreApplication(settings)
    lamp = Lamp("hall")
    for _ in range(3):
        lamp.dust()
        lamp.switch()
    app.save(lamp)  # 7 events: Installed, then Dusted/Switched three times
    return app, settings


def test_a_model_that_names_its_events_reads_only_those(tmp_path: Path) -> None:
    app, settings = store(tmp_path)
    model = Switches()
    projections = Projections(app, [model], read_model_engine(settings))

    # only the three Switched events are read and decoded, in one batch
    assert projections.catch_up() == 3
    assert model.batches == [["Lamp.Switched"] * 3]
    # the position is the head of the log, not the last Switched: nothing is re-scanned
    assert projections.positions() == {"test.switches": 7}
    assert projections.catch_up() == 0

    # events it does not care about move the position on without being given to it
    lamp = app.repository.get(app.process_recorder.select_notifications(1, 1)[0].originator_id)
    lamp.dust()
    app.save(lamp)
    assert projections.catch_up() == 0
    assert projections.positions() == {"test.switches": 8}
    assert model.batches == [["Lamp.Switched"] * 3]


def test_rebuild_in_batches_up_to_a_position_with_progress(tmp_path: Path) -> None:
    app, settings = store(tmp_path)
    everything, switches = Everything(), Switches()
    projections = Projections(app, [everything, switches], read_model_engine(settings))
    reports: list[tuple[int, int]] = []

    read = projections.rebuild(stop=5, batch_size=2, on_batch=lambda n, p: reports.append((n, p)))

    # a model without event_types needs every event, so nothing is filtered
    assert read == 5
    first_five = ["Lamp.Installed", "Lamp.Dusted", "Lamp.Switched", "Lamp.Dusted", "Lamp.Switched"]
    assert everything.seen == first_five
    assert switches.batches == [["Lamp.Switched"], ["Lamp.Switched"]]
    assert reports == [(2, 2), (2, 4), (1, 5)]
    assert projections.positions() == {"test.everything": 5, "test.switches": 5}

    # the rest follows on the next catch-up, in the default batch size
    assert projections.catch_up() == 2
    assert projections.positions() == {"test.everything": 7, "test.switches": 7}


def test_after_a_save_in_this_process_the_head_is_known_without_a_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, settings = store(tmp_path)
    everything = Everything()
    projections = Projections(app, [everything], read_model_engine(settings))
    queries: list[int] = []
    query = app.max_notification_id
    monkeypatch.setattr(app, "max_notification_id", lambda: queries.append(1) or query())

    assert projections.catch_up() == 7  # saved here before: the last saved id is the head
    assert queries == []
    assert projections.catch_up() == 0  # nothing saved since: the log is asked
    assert len(queries) == 1

    # another process's save is found by asking the log
    other = EventStoreApplication(settings)
    lamp = other.repository.get(app.process_recorder.select_notifications(1, 1)[0].originator_id)
    lamp.dust()
    other.save(lamp)
    assert projections.catch_up() == 1
    assert everything.seen[-1] == "Lamp.Dusted"
    other.close()
