"""Read models that name their event classes are given only those, in batches; a rebuild
can stop at a position and reports each batch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.projections import (
    Projections,
    ReadModel,
    positions_table,
    read_model_engine,
)
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


def counting_head_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[EventStoreApplication, Everything, Projections, list[int]]:
    """The lamps' store, an `Everything` model on it, and a list that grows by one for
    each query of the log's head."""
    app, settings = store(tmp_path)
    everything = Everything()
    projections = Projections(app, [everything], read_model_engine(settings))
    queries: list[int] = []
    query = app.max_notification_id
    monkeypatch.setattr(app, "max_notification_id", lambda: queries.append(1) or query())
    return app, everything, projections, queries


def test_after_a_save_in_this_process_the_head_is_known_without_a_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, everything, projections, queries = counting_head_queries(tmp_path, monkeypatch)

    assert projections.catch_up() == 7  # saved here before: the last saved id is the head
    assert queries == []
    assert projections.catch_up() == 0  # nothing saved since: the log is asked
    assert len(queries) == 1

    # another process's save is found by asking the log
    other = EventStoreApplication(app.settings)
    lamp = other.repository.get(app.process_recorder.select_notifications(1, 1)[0].originator_id)
    lamp.dust()
    other.save(lamp)
    assert projections.catch_up() == 1
    assert everything.seen[-1] == "Lamp.Dusted"
    other.close()


def test_the_positions_of_all_models_move_together_and_a_missing_row_is_made_again(
    tmp_path: Path,
) -> None:
    app, settings = store(tmp_path)
    projections = Projections(app, [Switches(), Everything()], read_model_engine(settings))
    assert projections.catch_up() == 7
    with projections.engine.begin() as conn:  # a row lost (say, an operator's cleanup)
        conn.execute(positions_table.delete().where(positions_table.c.name == "test.switches"))
    lamp = app.repository.get(app.process_recorder.select_notifications(1, 1)[0].originator_id)
    lamp.switch()
    app.save(lamp)

    # the lost row reads as 0: Switches is given every switch again, once, and both rows
    # are saved at the head
    assert projections.catch_up() == 8
    assert projections.positions() == {"test.switches": 8, "test.everything": 8}
    assert projections.catch_up() == 0


async def test_the_loop_waits_for_a_save_after_catching_up_rather_than_asking_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, everything, projections, queries = counting_head_queries(tmp_path, monkeypatch)
    stop = asyncio.Event()
    loop = asyncio.create_task(projections.run(stop, idle_poll_s=30, gather_s=0))
    try:
        await wait_until(lambda: len(everything.seen) == 7)
        await asyncio.sleep(0.3)
        assert queries == []  # the head it read up to was its own last save: no query

        lamp = app.repository.get(app.process_recorder.select_notifications(1, 1)[0].originator_id)
        lamp.dust()
        app.save(lamp)
        projections.wake()  # as the service's save listener does
        await wait_until(lambda: len(everything.seen) == 8)
        await asyncio.sleep(0.3)
        assert queries == []
    finally:
        stop.set()
        await loop


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
