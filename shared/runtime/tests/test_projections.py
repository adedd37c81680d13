"""Read models follow the store, survive restarts without double counting, and rebuild."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from eventsourcing.domain import event
from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.projections import Projections, ReadModel, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

metadata = MetaData()
counters = Table(
    "test_counters",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String),
    Column("n", Integer),
)


class Counter(TracedAggregate):
    @event("Named")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Bumped")
    def bump(self) -> None:
        pass


class Counts(ReadModel):
    name: ClassVar[str] = "test.counts"
    metadata: ClassVar[MetaData] = metadata

    def project(self, domain_event: Any, conn: Connection) -> None:
        key = str(domain_event.originator_id)
        if isinstance(domain_event, Counter.Named):  # type: ignore[attr-defined]
            conn.execute(counters.insert().values(id=key, name=domain_event.name, n=0))
        elif isinstance(domain_event, Counter.Bumped):  # type: ignore[attr-defined]
            bump = counters.update().where(counters.c.id == key).values(n=counters.c.n + 1)
            conn.execute(bump)


def read(projections: Projections) -> dict[str, int]:
    with projections.engine.connect() as conn:
        return {name: n for name, n in conn.execute(select(counters.c.name, counters.c.n))}


def test_read_model_follows_the_store_and_rebuilds(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="counting", data_dir=tmp_path)
    app = EventStoreApplication(settings)
    a, b = Counter("a"), Counter("b")
    a.bump()
    a.bump()
    b.bump()
    app.save(a, b)
    model = Counts()
    projections = Projections(app, [model], read_model_engine(settings))

    # catch_up applies what was stored; a second catch_up applies nothing again
    assert projections.catch_up() == 5
    assert projections.catch_up() == 0
    assert read(projections) == {"a": 2, "b": 1}

    # a new process (new Projections) resumes from the saved position
    b.bump()
    app.save(b)
    projections = Projections(app, [Counts()], read_model_engine(settings))
    assert projections.catch_up() == 1
    assert read(projections) == {"a": 2, "b": 2}

    # rebuild drops the tables and refills them from the store: same result
    assert projections.rebuild() == 6
    assert read(projections) == {"a": 2, "b": 2}
    assert projections.positions() == {"test.counts": app.max_notification_id()}


def test_replicas_sharing_read_models_never_apply_an_event_twice(
    postgres_url_factory: Any,
) -> None:
    # Given one store and read models on PostgreSQL, and four replicas' projections
    settings = ServiceSettings(service_name="counting", database_url=postgres_url_factory())
    app = EventStoreApplication(settings)
    counters_ = [Counter(f"c{i}") for i in range(20)]
    for _ in range(10):
        for counter in counters_:
            counter.bump()
    app.save(*counters_)
    replicas = [
        Projections(app, [Counts()], read_model_engine(settings), batch_size=7) for _ in range(4)
    ]

    # When they all catch up at the same time
    with ThreadPoolExecutor(max_workers=4) as pool:
        applied = sum(pool.map(lambda p: p.catch_up(), replicas))

    # Then every event was applied once between them
    assert applied == 220
    assert read(replicas[0]) == {f"c{i}": 10 for i in range(20)}
