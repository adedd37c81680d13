"""Read models kept from a service's own stored events (SQLAlchemy tables).

A `ReadModel` declares its tables and how one domain event changes them.
`Projections` follows the store's notification log and applies each new event to
each read model, committing the tables' changes and the read model's position in
one transaction, so a crash never applies an event twice or skips one. A read model
can be rebuilt from the store at any time (`rebuild`), and an endpoint that must
see its own write calls `catch_up()` first.

Tables live beside the store: in the same PostgreSQL database, or in a
`<service>-read.sqlite` file next to the SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import orjson
from eventsourcing.persistence import Notification, ProcessRecorder
from eventsourcing.utils import get_topic
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError

from orderflow_runtime.logs import get_logger
from orderflow_runtime.parallel_rebuild import UNFINISHED_REBUILD, can_fork, rebuild_in_shares
from orderflow_runtime.read_model_schema import create_schema
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication, ShareSelecting
from orderflow_runtime.waiting import sleep_unless

log = get_logger(__name__)
_positions_metadata = MetaData()
positions_table = Table(
    "projection_positions",
    _positions_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
BatchListener = Callable[[int, int], None]
"""`on_batch(events_read, position)`: called after each committed batch."""


class ReadModel(ABC):
    """Tables plus a projector. `name` keys the position; `metadata` holds the tables."""

    name: ClassVar[str]
    metadata: ClassVar[MetaData]
    event_types: ClassVar[tuple[type, ...] | None] = None
    """The stored event classes `project` cares about (exact classes); None: every event.

    When every read model of a `Projections` names its classes, the others are neither
    read from the store nor decoded (a `topic IN (...)` filter on the notification log).
    """
    per_aggregate: ClassVar[bool] = False
    """True when each row follows the events of one aggregate only, in their order (never
    another aggregate's, nor the order of events across aggregates: no running number,
    no total): a rebuild may then project disjoint sets of aggregates in parallel
    processes (`Projections.project_share`)."""

    @abstractmethod
    def project(self, domain_event: Any, conn: Connection) -> None:
        """Apply one stored domain event (ignore those the model does not care about)."""

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        """Apply events in order. Override to batch the SQL; the result must be the same
        as calling `project` for each event in turn."""
        for domain_event in domain_events:
            self.project(domain_event, conn)

    @contextlib.contextmanager
    def filling_empty_tables(self) -> Iterator[None]:
        """Within it, the model's tables were empty at the start and this process alone
        writes the rows of the events it projects (a worker of a parallel rebuild, on its
        share of the aggregates): a model may remember what it wrote instead of reading
        it back. By default, nothing changes."""
        yield


def events_of(aggregate_class: type[Any]) -> tuple[type, ...]:
    """Every event class `aggregate_class` defines itself (its `@event` methods, `Created`;
    not those of a base aggregate): the `event_types` of a read model that follows each
    event of that aggregate, for instance to move a version on."""
    base = aggregate_class.Event
    return tuple(
        value
        for value in vars(aggregate_class).values()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    )


def read_model_engine(settings: ServiceSettings) -> Engine:
    """The engine of the service's read models, beside its event store."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.data_dir / f"{settings.service_name}-read.sqlite"
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        sqlalchemy_event.listen(engine, "connect", _write_ahead_log)
        return engine
    url = settings.database_url.get_secret_value()
    url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    # No ping per checkout (a round trip each): after a database restart the first
    # statement on a dead connection fails, SQLAlchemy drops the pool, the caller retries.
    return create_engine(url, pool_size=5, max_overflow=5, json_serializer=dump_json_column)


_JSON_COLUMN_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def dump_json_column(value: Any) -> bytes | str:
    """A JSON column's text on PostgreSQL: orjson's. With the stdlib's `json.dumps` (the
    default) copying a catalog rebuild's rows took 7.9 µs per event, with orjson 5.5
    (measured). Whatever orjson does not write as `json.dumps` would (a datetime, a
    dataclass, a subclass of str or int, an int beyond 64 bits) goes to `json.dumps`, so
    the same values are accepted."""
    try:
        return orjson.dumps(value, option=_JSON_COLUMN_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """SQLite read models journal ahead and sync at checkpoints, not at each commit: a
    crash cannot corrupt the file, and a power cut loses at most the last transactions,
    positions with their rows (projected again). Readers no longer wait for a writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Projections:
    def __init__(
        self,
        app: EventStoreApplication,
        models: Sequence[ReadModel],
        engine: Engine,
        *,
        batch_size: int = 1000,
    ) -> None:
        self.app = app
        self.models = list(models)
        self.engine = engine
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._stop: int | None = None
        self._last_position = 0
        self._topics = _topics_of(self.models)
        names = [model.name for model in self.models]
        self._lock_positions = (  # built once: a statement costs more to build than to run
            sql_select(positions_table).where(positions_table.c.name.in_(names)).with_for_update()
        )
        self.setup()

    def setup(self) -> None:
        _positions_metadata.create_all(self.engine)
        for model in self.models:
            create_schema(model.metadata, self.engine)
        self._ensure_position_rows()

    def _ensure_position_rows(self) -> None:
        """A row per read model, so that a batch can lock it (FOR UPDATE) before reading."""
        for model in self.models:
            try:
                with self.engine.begin() as conn:
                    conn.execute(positions_table.insert().values(name=model.name, position=0))
            except IntegrityError:
                pass  # already there (or another replica just made it)

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sql_select(positions_table)).all()
        known = {name: position for name, position in rows}
        return {model.name: known.get(model.name, 0) for model in self.models}

    def catch_up(
        self,
        *,
        stop: int | None = None,
        batch_size: int | None = None,
        on_batch: BatchListener | None = None,
    ) -> int:
        """Apply every stored event not yet projected; returns how many were read.

        `stop`: project no further than this notification id. `batch_size`: events per
        transaction (default: the constructor's). `on_batch(read, position)` is called
        after each committed batch (progress bars).
        """
        with self._lock:
            size, self._stop = self._batch_size, stop
            self._batch_size = batch_size or size
            try:
                total = 0
                while read := self._project_or_restart():
                    total += max(read, 0)
                    if on_batch is not None:
                        on_batch(max(read, 0), self._last_position)
                    if read < self._batch_size:
                        break  # a partial batch: it reached the head it read
                return total
            finally:
                self._batch_size, self._stop = size, None

    def rebuild(
        self,
        *,
        stop: int | None = None,
        batch_size: int | None = None,
        on_batch: BatchListener | None = None,
        workers: int = 1,
    ) -> int:
        """Drop and refill every read model from the store; returns the events read.

        `workers` > 1: in as many processes, one share of the aggregates each, when every
        read model is `per_aggregate` (else, or where processes cannot fork, in this one).
        """
        if workers > 1 and self.per_aggregate and can_fork():
            head = self.app.max_notification_id()
            return rebuild_in_shares(
                self,
                workers=workers,
                stop=head if stop is None else min(stop, head),
                batch_size=batch_size,
                on_batch=on_batch,
            )
        self.reset()
        return self.catch_up(stop=stop, batch_size=batch_size, on_batch=on_batch)

    @property
    def per_aggregate(self) -> bool:
        """Whether every read model can be rebuilt in shares of aggregates (see ReadModel)."""
        return all(model.per_aggregate for model in self.models)

    def project_share(
        self,
        share: int,
        shares: int,
        *,
        stop: int,
        batch_size: int | None = None,
        recorder: ProcessRecorder | None = None,
        on_batch: BatchListener | None = None,
    ) -> int:
        """Project the stored events up to `stop` of the aggregates in share `share` of
        `shares`, leaving the positions alone; returns the events read.

        One of the parallel workers of a rebuild (each in its own process, on tables just
        reset): when all shares are done, the caller records `stop` with
        `set_positions`. Only for read models that are `per_aggregate`. `recorder`: the
        store's, on other connections (a forked worker's); default: the application's.
        """
        if not self.per_aggregate:
            raise ValueError("only read models that are per_aggregate can be built in shares")
        recorder = recorder or self.app.process_recorder
        assert isinstance(recorder, ShareSelecting)
        # Each query covers a window of ids holding about `batch_size` events of this
        # share: a small index range, whatever plan stale table statistics suggest.
        window = (batch_size or self._batch_size) * shares
        start, total = 0, 0
        unprojected = {model.name: 0 for model in self.models}
        with contextlib.ExitStack() as filling:
            for model in self.models:
                filling.enter_context(model.filling_empty_tables())
            while start < stop:
                end = min(stop, start + window)
                notifications = recorder.select_share(start, end, self._topics, share, shares)
                if notifications:
                    with self.engine.begin() as conn:
                        self._project(notifications, unprojected, conn)
                start = end
                total += len(notifications)
                if on_batch is not None:
                    on_batch(len(notifications), start)
        return total

    def set_positions(self, position: int) -> None:
        """Record every read model as projected up to `position` (after `project_share`)."""
        with self._lock, self.engine.begin() as conn:
            _save_positions(conn, [model.name for model in self.models], position)
            self._last_position = position

    def reset(self) -> None:
        """Empty every read model's tables and positions (the start of a rebuild)."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._last_position = 0
        for model in self.models:
            model.metadata.drop_all(self.engine)
            create_schema(model.metadata, self.engine)
        with self.engine.begin() as conn:
            conn.execute(
                positions_table.delete().where(
                    positions_table.c.name.in_([m.name for m in self.models])
                )
            )
        self._ensure_position_rows()

    def _project_or_restart(self) -> int:
        try:
            return self._project_next_batch()
        except _UnfinishedRebuildError:
            log.warning("read models left by an unfinished rebuild: rebuilding them")
            self._reset()
            return self._project_next_batch()

    def _project_next_batch(self) -> int:
        """Project one batch; returns the events read (-1: none, but the position moved).

        The head of the log is what this process saved last when that is past the
        position (a save woke us: no query needed), else it is queried (the saves of
        other processes, an idle poll)."""
        head = self.app.last_saved_id
        if head <= self._last_position:
            head = self.app.max_notification_id()
        if self._stop is not None:
            head = min(head, self._stop)
        if head <= self._last_position:
            return 0  # nothing stored past what this process projected: no transaction
        with self.engine.begin() as conn:
            # Lock the positions: replicas sharing the read models take turns, and each
            # sees what the previous one projected (no event is applied twice).
            rows = conn.execute(self._lock_positions).all()
            known = {name: position for name, position in rows}
            positions = {model.name: known.get(model.name, 0) for model in self.models}
            start = min(positions.values(), default=0)
            if start == UNFINISHED_REBUILD:
                raise _UnfinishedRebuildError
            if head <= start:
                self._last_position = max(self._last_position, start)
                return 0
            notifications = self.app.process_recorder.select_notifications(
                start=start,
                limit=self._batch_size,
                stop=head,
                topics=self._topics,
                inclusive_of_start=False,
            )
            if notifications and len(notifications) == self._batch_size:
                last = notifications[-1].id
            else:
                last = head  # nothing else (of interest) up to the head
            self._project(notifications, positions, conn)
            _save_positions(conn, [name for name, at in positions.items() if at < last], last)
        self._last_position = last
        return len(notifications) or -1

    def _project(
        self, notifications: Sequence[Notification], positions: dict[str, int], conn: Connection
    ) -> None:
        """Decode each wanted event once; give each read model its own in one call."""
        decoded: dict[int, Any] = {}
        to_domain_event = self.app.mapper.to_domain_event
        for model in self.models:
            wanted = _topics_of([model])
            after = positions[model.name]
            events = []
            for notification in notifications:
                if notification.id <= after or (wanted and notification.topic not in wanted):
                    continue
                domain_event = decoded.get(notification.id)
                if domain_event is None:
                    domain_event = decoded[notification.id] = to_domain_event(notification)
                events.append(domain_event)
            if events:
                model.project_batch(events, conn)

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self, stop: asyncio.Event, idle_poll_s: float = 0.5, gather_s: float = 0.05
    ) -> None:
        """Keep the read models current until `stop` is set.

        Woken by a save, it waits `gather_s` before reading, so that the saves of a busy
        moment are projected in one transaction rather than one each (a read that must
        see its own write calls `catch_up()` itself and does not wait for this loop).
        A catch-up reads up to the head, so the next one waits for a save (or the idle
        poll: the saves of other processes) rather than asking again at once.
        """
        while not stop.is_set():
            self._wake.clear()  # before reading: a save from now on wakes the next sleep
            try:
                await asyncio.to_thread(self.catch_up)
            except Exception as error:  # keep projecting after a failure; positions are safe
                log.warning("projection failed, retrying", error=repr(error))
                await sleep_unless(stop, 1.0)
                continue
            await sleep_unless(stop, idle_poll_s, self._wake)
            if self._wake.is_set():
                await sleep_unless(stop, gather_s)


class _UnfinishedRebuildError(Exception):
    """The positions say a rebuild in shares did not finish."""


def _topics_of(models: Sequence[ReadModel]) -> tuple[str, ...]:
    """The stored event topics the models need; () when one of them needs every event."""
    topics: dict[str, None] = {}
    for model in models:
        if model.event_types is None:
            return ()
        topics.update((get_topic(cls), None) for cls in model.event_types)
    return tuple(topics)


_update_positions = (
    positions_table.update()
    .where(positions_table.c.name.in_(bindparam("names", expanding=True)))
    .values(position=bindparam("position"))
)


def _save_positions(conn: Connection, names: Sequence[str], position: int) -> None:
    """Record the read models `names` as projected up to `position`: one statement."""
    if not names:
        return
    updated = conn.execute(_update_positions, {"names": list(names), "position": position})
    if updated.rowcount == len(names):
        return
    stored = set(
        conn.scalars(sql_select(positions_table.c.name).where(positions_table.c.name.in_(names)))
    )
    for name in names:
        if name not in stored:
            conn.execute(positions_table.insert().values(name=name, position=position))
