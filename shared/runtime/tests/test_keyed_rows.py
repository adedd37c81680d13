"""A `KeyedRowsModel` projects a batch as it would project its events one at a time: the
rows of many aggregates in batches of any size, several events of a key in one batch in
their order, events it ignores or that change nothing, rows that already exist across
more than one `IN (...)` chunk, and a rebuild in worker processes. On SQLite and
(marked `integration`) PostgreSQL, where a batch of new rows is copied."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.domain import event
from orderflow_runtime.bulk import COPY_FROM_ROWS
from orderflow_runtime.context import TracedAggregate
from orderflow_runtime.keyed_rows import KeyedRowsModel, Row
from orderflow_runtime.parallel_rebuild import rebuild_in_shares
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from pydantic import SecretStr
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy import (
    event as sql_event,
)


class Tally(TracedAggregate):
    @event("Created")
    def __init__(self, label: str) -> None:
        self.label = label
        self.total = 0
        self.history: list[str] = []

    @event("Added")
    def add(self, amount: int) -> None:
        self.total += amount
        self.history.append(f"+{amount}")

    @event("Renamed")
    def rename(self, label: str) -> None:
        self.label = label
        self.history.append(f"={label}")

    @event("Peeked")
    def peek(self) -> None:
        pass


Created: type[Any] = Tally.Created
Added: type[Any] = Tally.Added  # type: ignore[attr-defined]
Renamed: type[Any] = Tally.Renamed  # type: ignore[attr-defined]
Peeked: type[Any] = Tally.Peeked  # type: ignore[attr-defined]
metadata = MetaData()
tallies = Table(
    "test_tallies",
    metadata,
    Column("tally_id", String(36), primary_key=True),
    Column("label", String(40), nullable=False),
    Column("total", Integer, nullable=False),
    Column("history", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)


class TallyRows(KeyedRowsModel):
    """A row per tally; `Peeked` is no row's business; a version guard skips repeats."""

    name: ClassVar[str] = "test.tallies"
    metadata: ClassVar[MetaData] = metadata
    table: ClassVar[Table] = tallies
    per_aggregate: ClassVar[bool] = True

    def key_of(self, domain_event: Any) -> str | None:
        return None if isinstance(domain_event, Peeked) else str(domain_event.originator_id)

    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        assert not isinstance(domain_event, Peeked), "key_of ignores it"
        version = domain_event.originator_version
        if isinstance(domain_event, Created):
            if row is not None:
                return None  # applied before
            return {
                **self.empty_row(),
                "tally_id": key,
                "label": domain_event.label,
                "total": 0,
                "history": [],
                "version": version,
            }
        if row is None or row["version"] >= version:
            return None  # a tally this model never saw created, or an event applied before
        if isinstance(domain_event, Added):
            row["total"] += domain_event.amount
            row["history"] = [*row["history"], f"+{domain_event.amount}"]
        elif isinstance(domain_event, Renamed):
            row["label"] = domain_event.label
            row["history"] = [*row["history"], f"={domain_event.label}"]
        row["version"] = version
        return row


TALLIES = 300  # created in one batch: more than COPY_FROM_ROWS new rows


def stored_tallies(settings: ServiceSettings) -> tuple[EventStoreApplication, list[Tally]]:
    """Tallies created over two saves, with rounds of events of some of them between
    and after: the events of different tallies interleave in the log."""
    app = EventStoreApplication(settings)
    rng = random.Random(20261124)
    items = [Tally(f"tally-{n}") for n in range(TALLIES)]
    app.save(*items[: TALLIES // 2])
    for round_ in range(5):
        if round_ == 2:
            app.save(*items[TALLIES // 2 :])
        created = items if round_ >= 2 else items[: TALLIES // 2]
        chosen = rng.sample(created, len(created) // 2)
        for number, tally in enumerate(chosen):
            for _ in range(1 + number % 3):
                kind = rng.randrange(4)
                if kind == 0:
                    tally.rename(f"{tally.label.split('/')[0]}/{round_}-{number}")
                elif kind == 1:
                    tally.peek()
                else:
                    tally.add(rng.randint(1, 9))
        app.save(*chosen)
    return app, items


def stored_events(app: EventStoreApplication) -> list[Any]:
    notifications = app.process_recorder.select_notifications(
        start=1, limit=app.max_notification_id()
    )
    return [app.mapper.to_domain_event(n) for n in notifications]


def table_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(tallies).order_by(tallies.c.tally_id))]


def rows_of(items: Sequence[Tally]) -> list[tuple[Any, ...]]:
    """What the rows must hold (but the version), from the aggregates themselves."""
    return sorted((str(t.id), t.label, t.total, t.history) for t in items)


@pytest.fixture
def statements() -> Iterator[Callable[[Engine], list[str]]]:
    """`statements(engine)`: the SQL the engine sends from now on (not COPY's)."""
    listening: list[tuple[Engine, Callable[..., None]]] = []

    def listen(engine: Engine) -> list[str]:
        sent: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            sent.append(" ".join(statement.split()))

        sql_event.listen(engine, "before_cursor_execute", record)
        listening.append((engine, record))
        return sent

    yield listen
    for engine, record in listening:
        sql_event.remove(engine, "before_cursor_execute", record)


Backend = Callable[[Path], ServiceSettings]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    def sqlite(tmp_path: Path) -> ServiceSettings:
        return ServiceSettings(service_name="tallies", data_dir=tmp_path)

    if request.param == "sqlite":
        return sqlite
    make_url: Callable[[], str] = request.getfixturevalue("postgres_url_factory")

    def postgres(tmp_path: Path) -> ServiceSettings:
        url = SecretStr(make_url())
        return ServiceSettings(service_name="tallies", data_dir=tmp_path, database_url=url)

    return postgres


def test_an_empty_row_has_every_column_none() -> None:
    assert TallyRows.empty_row() == {
        "tally_id": None,
        "label": None,
        "total": None,
        "history": None,
        "version": None,
    }


def test_batches_of_any_size_give_the_rows_of_one_event_at_a_time(
    backend: Backend, tmp_path: Path, statements: Callable[[Engine], list[str]]
) -> None:
    settings = backend(tmp_path)
    app, items = stored_tallies(settings)
    events = stored_events(app)
    assert len(events) == app.max_notification_id()
    model = TallyRows()
    engine = read_model_engine(settings)
    projections = Projections(app, [model], engine)
    with engine.begin() as conn:
        for domain_event in events:
            model.project(domain_event, conn)
    one_at_a_time = table_rows(engine)
    assert [row[:4] for row in one_at_a_time] == rows_of(items)
    for batch_size in (1, 7, 5000):
        sent = statements(engine)
        assert projections.rebuild(batch_size=batch_size) == len(events)
        assert table_rows(engine) == one_at_a_time, f"batches of {batch_size}"
    # The last rebuild created every tally in one batch: COPY on PostgreSQL, no INSERT.
    assert TALLIES >= COPY_FROM_ROWS
    inserts = [s for s in sent if s.startswith("INSERT INTO test_tallies")]
    assert len(inserts) == (0 if engine.dialect.name == "postgresql" else 1)


def test_the_events_of_a_key_in_one_batch_apply_in_their_order(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="tallies", data_dir=tmp_path)
    app = EventStoreApplication(settings)
    tally, other = Tally("first"), Tally("other")
    tally.add(1)
    other.add(10)
    tally.add(2)
    tally.rename("second")
    tally.add(3)
    app.save(tally, other)
    head = app.max_notification_id()
    tally.add(4)
    tally.rename("third")
    other.add(20)
    tally.add(5)
    app.save(tally, other)
    engine = read_model_engine(settings)
    projections = Projections(app, [TallyRows()], engine, batch_size=1000)
    assert projections.catch_up(stop=head) == head  # one batch: new rows
    key, other_key = str(tally.id), str(other.id)
    first = {key: (key, "second", 6, ["+1", "+2", "=second", "+3"], 5)}
    first[other_key] = (other_key, "other", 10, ["+10"], 2)
    assert table_rows(engine) == sorted(first.values())
    assert projections.catch_up() == 4  # one batch: rows already stored
    history = ["+1", "+2", "=second", "+3", "+4", "=third", "+5"]
    last = {
        key: (key, "third", 15, history, 8),
        other_key: (other_key, "other", 30, ["+10", "+20"], 3),
    }
    assert table_rows(engine) == sorted(last.values())


def test_ignored_events_and_events_applied_before_write_nothing(
    tmp_path: Path, statements: Callable[[Engine], list[str]]
) -> None:
    settings = ServiceSettings(service_name="tallies", data_dir=tmp_path)
    app = EventStoreApplication(settings)
    kept, unseen = Tally("kept"), Tally("unseen")
    kept.peek()
    kept.add(2)
    kept.peek()
    unseen.add(3)
    app.save(kept, unseen)
    events = stored_events(app)
    # `unseen` is never created in this model: its Added finds no row to change.
    batch = [e for e in events if e.originator_id == kept.id or isinstance(e, Added)]
    assert [type(e) for e in batch] == [Created, Peeked, Added, Peeked, Added]
    engine = read_model_engine(settings)
    metadata.create_all(engine)
    model = TallyRows()
    with engine.begin() as conn:
        model.project_batch(batch, conn)
    projected = table_rows(engine)
    assert projected == [(str(kept.id), "kept", 2, ["+2"], 3)]
    sent = statements(engine)
    with engine.begin() as conn:
        model.project_batch(batch, conn)  # again: `apply` returns None for each
        model.project_batch([e for e in batch if isinstance(e, Peeked)], conn)
    projecting = list(sent)
    assert [s for s in projecting if s.startswith(("INSERT", "UPDATE"))] == []
    assert len([s for s in projecting if "FROM test_tallies" in s]) == 1  # none for the peeks
    assert table_rows(engine) == projected


def test_a_batch_updates_every_stored_row_it_loads(
    backend: Backend, tmp_path: Path, statements: Callable[[Engine], list[str]]
) -> None:
    settings = backend(tmp_path)
    app = EventStoreApplication(settings)
    count = 1200  # keys: three IN (...) chunks of at most 500 on SQLite, one array on PG
    items = [Tally(f"tally-{n}") for n in range(count)]
    app.save(*items)
    engine = read_model_engine(settings)
    projections = Projections(app, [TallyRows()], engine, batch_size=5000)
    assert projections.catch_up() == count
    for number, tally in enumerate(items):
        tally.add(number + 1)
    app.save(*items)
    sent = statements(engine)
    assert projections.catch_up() == count  # one batch
    loads = [s for s in sent if s.startswith("SELECT") and "FROM test_tallies" in s]
    updates = [s for s in sent if s.startswith("UPDATE test_tallies")]
    deletes = [s for s in sent if s.startswith("DELETE FROM test_tallies")]
    if engine.dialect.name == "postgresql":
        assert len(loads) == 1  # the keys as one array
        assert (len(updates), len(deletes)) == (0, 1)  # rewritten: deleted, copied back
    else:
        assert len(loads) == 3
        assert (len(updates), len(deletes)) == (1, 0)  # one executemany
    rows = table_rows(engine)
    assert [row[:4] for row in rows] == rows_of(items)
    assert {row[4] for row in rows} == {2}


def test_a_rebuild_in_worker_processes_builds_what_one_process_builds(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = backend(tmp_path)
    app, items = stored_tallies(settings)
    head = app.max_notification_id()
    engine = read_model_engine(settings)
    projections = Projections(app, [TallyRows()], engine)
    assert projections.rebuild(workers=1) == head
    one_process = table_rows(engine)
    assert [row[:4] for row in one_process] == rows_of(items)
    in_shares: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> int:
        in_shares.append(kwargs["workers"])
        return rebuild_in_shares(*args, **kwargs)

    monkeypatch.setattr("orderflow_runtime.projections.rebuild_in_shares", spy)
    assert projections.rebuild(workers=2, batch_size=50) == head
    assert in_shares == [2]
    assert table_rows(engine) == one_process
    assert projections.positions() == {"test.tallies": head}
    assert projections.catch_up() == 0


def test_filling_empty_tables_loads_only_the_keys_written_before(
    backend: Backend, tmp_path: Path, statements: Callable[[Engine], list[str]]
) -> None:
    settings = backend(tmp_path)
    app = EventStoreApplication(settings)
    first, second = Tally("first"), Tally("second")
    first.add(1)
    app.save(first)
    second.add(2)
    first.add(3)
    app.save(second, first)
    events = stored_events(app)
    engine = read_model_engine(settings)
    metadata.create_all(engine)
    model = TallyRows()
    sent = statements(engine)

    def loads() -> list[str]:
        return [s for s in sent if s.startswith("SELECT") and "FROM test_tallies" in s]

    with model.filling_empty_tables():
        with engine.begin() as conn:
            model.project_batch(events[:2], conn)  # `first` created: no key to load
        assert loads() == []
        with engine.begin() as conn:
            model.project_batch(events[2:], conn)  # `second` is new, `first` is loaded
        assert len(loads()) == 1
    assert model._written is None
    assert [row[:4] for row in table_rows(engine)] == rows_of([first, second])
    assert {row[0]: row[4] for row in table_rows(engine)} == {
        str(first.id): 3,
        str(second.id): 2,
    }


def test_filling_past_the_keys_it_remembers_loads_every_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, statements: Callable[[Engine], list[str]]
) -> None:
    settings = ServiceSettings(service_name="tallies", data_dir=tmp_path)
    app, items = stored_tallies(settings)
    events = stored_events(app)
    engine = read_model_engine(settings)
    metadata.create_all(engine)
    model = TallyRows()
    monkeypatch.setattr("orderflow_runtime.keyed_rows.REMEMBERED_KEYS", 10)
    sent = statements(engine)

    def loads() -> int:
        return len([s for s in sent if s.startswith("SELECT") and "FROM test_tallies" in s])

    assert all(isinstance(e, Created) for e in events[:85])  # the first save's tallies
    with model.filling_empty_tables():
        with engine.begin() as conn:
            model.project_batch(events[:5], conn)  # five tallies created: remembered
        assert model._written is not None
        with engine.begin() as conn:
            model.project_batch(events[5:45], conn)  # 45 keys: past the 10 it remembers
        assert (model._written, loads()) == (None, 0)  # forgotten; nothing loaded yet
        with engine.begin() as conn:
            model.project_batch(events[45:85], conn)  # new keys only, and yet loaded
        assert loads() == 1
        for start in range(85, len(events), 40):
            with engine.begin() as conn:
                model.project_batch(events[start : start + 40], conn)
        assert model._written is None
    assert loads() >= (len(events) - 5) // 40  # a load per batch once forgotten
    assert [row[:4] for row in table_rows(engine)] == rows_of(items)
