"""A rebuild in worker processes, one share of the aggregates each, gives the same read
model as one process; a failed worker fails it and leaves nothing taken as current.
COPY and INSERT store the same rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.domain import event
from orderflow_runtime.bulk import COPY_FROM_ROWS, insert_rows
from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.parallel_rebuild import UNFINISHED_REBUILD, RebuildWorkerError
from orderflow_runtime.projections import Projections, ReadModel, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from pydantic import SecretStr
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    select,
)


class Lamp(TracedAggregate):
    @event("Installed")
    def __init__(self, room: str) -> None:
        self.room = room

    @event("Switched")
    def switch(self) -> None:
        pass


Installed: type[Any] = Lamp.Installed  # type: ignore[attr-defined]
metadata = MetaData()
lamps = Table(
    "test_lamps",
    metadata,
    Column("lamp_id", String(36), primary_key=True),
    Column("room", String(40), nullable=False),
    Column("switches", Integer, nullable=False),
    Column("on", Boolean, nullable=False),
    Column("history", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)


class LampRows(ReadModel):
    """A row per lamp: rows first inserted in bulk (COPY on PostgreSQL), then updated."""

    name: ClassVar[str] = "test.lamps"
    metadata: ClassVar[MetaData] = metadata
    per_aggregate: ClassVar[bool] = True
    broken_room: ClassVar[str | None] = None

    def project(self, domain_event: Any, conn: Connection) -> None:
        self.project_batch([domain_event], conn)

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        new: dict[str, dict[str, Any]] = {}
        for e in domain_events:
            key = str(e.originator_id)
            if isinstance(e, Installed):
                if e.room == self.broken_room:
                    raise RuntimeError(f"cannot project {e.room}")
                new[key] = {
                    "lamp_id": key,
                    "room": e.room,
                    "switches": 0,
                    "on": False,
                    "history": [e.originator_version],
                    "version": e.originator_version,
                }
                continue
            row = new.get(key)
            if row is None:
                found = conn.execute(select(lamps).where(lamps.c.lamp_id == key)).first()
                assert found is not None, "a lamp's own events come in its order"
                row = new[key] = {**found._mapping, "stored": True}
            row["switches"] += 1
            row["on"] = not row["on"]
            row["history"] = [*row["history"], e.originator_version]
            row["version"] = e.originator_version
        inserts = [row for row in new.values() if "stored" not in row]
        insert_rows(conn, lamps, inserts)
        for row in new.values():
            if "stored" in row:
                values = {k: v for k, v in row.items() if k not in ("stored", "lamp_id")}
                conn.execute(lamps.update().where(lamps.c.lamp_id == row["lamp_id"]), values)


class Ordered(LampRows):
    name: ClassVar[str] = "test.lamps.ordered"
    per_aggregate: ClassVar[bool] = False


LAMPS = 700


def stored_lamps(settings: ServiceSettings) -> EventStoreApplication:
    app = EventStoreApplication(settings)
    batch = []
    for number in range(LAMPS):
        lamp = Lamp(f"room-{number}")
        for _ in range(number % 4):
            lamp.switch()
        batch.append(lamp)
    app.save(*batch)
    return app


def table_rows(projections: Projections) -> list[tuple[Any, ...]]:
    with projections.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(lamps).order_by(lamps.c.lamp_id))]


Backend = Callable[[Path], ServiceSettings]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    def sqlite(tmp_path: Path) -> ServiceSettings:
        return ServiceSettings(service_name="lamps", data_dir=tmp_path)

    if request.param == "sqlite":
        return sqlite
    make_url: Callable[[], str] = request.getfixturevalue("postgres_url_factory")

    def postgres(tmp_path: Path) -> ServiceSettings:
        url = SecretStr(make_url())
        return ServiceSettings(service_name="lamps", data_dir=tmp_path, database_url=url)

    return postgres


def test_shares_in_processes_build_what_one_process_builds(
    backend: Backend, tmp_path: Path
) -> None:
    settings = backend(tmp_path)
    app = stored_lamps(settings)
    head = app.max_notification_id()
    projections = Projections(app, [LampRows()], read_model_engine(settings))
    assert projections.rebuild(workers=1) == head
    one_process = table_rows(projections)
    assert len(one_process) == LAMPS
    progress: list[tuple[int, int]] = []
    read = projections.rebuild(workers=3, batch_size=100, on_batch=lambda *a: progress.append(a))
    assert read == head
    assert table_rows(projections) == one_process
    assert projections.positions() == {"test.lamps": head}
    assert sum(r for r, _ in progress) == head
    assert progress[-1][1] == head
    assert projections.catch_up() == 0  # nothing left to project


def test_a_failed_worker_fails_the_rebuild_and_positions_stay_at_zero(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = backend(tmp_path)
    app = stored_lamps(settings)
    projections = Projections(app, [LampRows()], read_model_engine(settings))
    projections.rebuild(workers=1)
    monkeypatch.setattr(LampRows, "broken_room", "room-500")
    with pytest.raises(RebuildWorkerError, match="cannot project room-500"):
        projections.rebuild(workers=2, batch_size=100)
    assert projections.positions() == {"test.lamps": 0}
    assert table_rows(projections) == []  # the next catch-up starts over
    monkeypatch.setattr(LampRows, "broken_room", None)
    projections.catch_up()
    assert len(table_rows(projections)) == LAMPS


def test_models_that_are_not_per_aggregate_are_rebuilt_in_one_process(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="lamps", data_dir=tmp_path)
    app = stored_lamps(settings)
    projections = Projections(app, [Ordered()], read_model_engine(settings))
    assert projections.rebuild(workers=2) == app.max_notification_id()
    with pytest.raises(ValueError, match="per_aggregate"):
        projections.project_share(0, 2, stop=app.max_notification_id())


@pytest.mark.integration
def test_copy_stores_what_insert_stores(postgres_url_factory: Callable[[], str]) -> None:
    settings = ServiceSettings(
        service_name="copies", database_url=SecretStr(postgres_url_factory())
    )
    engine = read_model_engine(settings)
    kinds = MetaData()
    columns = lambda: [  # noqa: E731
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("text", String(50)),
        Column("flag", Boolean),
        Column("at", DateTime(timezone=True)),
        Column("data", JSON),
    ]
    copied, inserted = Table("t_copied", kinds, *columns()), Table("t_inserted", kinds, *columns())
    kinds.create_all(engine)
    moment = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    rows = [
        {
            "id": n,
            "text": None if n % 5 == 0 else f"tab\there, newline\nthere, back\\slash {n}",
            "flag": n % 2 == 0,
            "at": moment + timedelta(seconds=n),
            "data": None if n % 7 == 0 else {"n": n, "list": [1, "two"], "ü": "\u2603"},
        }
        for n in range(COPY_FROM_ROWS + 10)
    ]
    with engine.begin() as conn:
        insert_rows(conn, copied, rows)
        conn.execute(inserted.insert(), rows)
    with engine.connect() as conn:
        got = [conn.execute(select(t).order_by(t.c.id)).all() for t in (copied, inserted)]
    assert got[0] == got[1]
    assert len(got[0]) == len(rows)
    engine.dispose()


def test_a_rebuild_that_died_is_started_over(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="lamps", data_dir=tmp_path)
    app = stored_lamps(settings)
    projections = Projections(app, [LampRows()], read_model_engine(settings))
    projections.rebuild(workers=1)
    expected = table_rows(projections)
    projections.set_positions(UNFINISHED_REBUILD)  # as a killed rebuild leaves them
    assert projections.catch_up() == app.max_notification_id()
    assert table_rows(projections) == expected
