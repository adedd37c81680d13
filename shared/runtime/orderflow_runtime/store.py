"""The event store of a service: an eventsourcing Application on SQLite or PostgreSQL.

SQLite (a file under `data_dir`) is the embedded default; a `database_url` switches
to PostgreSQL. The store is also the outbox (its notification log) and the inbox's
position table (tracking records), so that an event's effects and the position of
the event that caused them commit in one transaction.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from eventsourcing.application import Application, LRUCache, Repository
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    ProcessRecorder,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import Environment, get_topic, retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from orderflow_runtime.aggregate_cache import NewestVersionCache
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.transcoder import FastJSONTranscoder, FastMapper

RELAY_TRACKING_NAME = "outbox-relay"
STORE_ID_TRACKING_NAME = "store-id"
"""The tracking record holding the store's id (see `EventStoreApplication.store_id`)."""


@runtime_checkable
class ShareSelecting(Protocol):
    def select_share(
        self, start: int, stop: int, topics: Sequence[str], share: int, shares: int
    ) -> list[Notification]:
        """Notifications after `start` up to `stop`, in order, of the aggregates in share
        `share` of `shares` (a fixed split by originator id: every event of one aggregate
        falls in the same share); only `topics` unless empty."""


def notifications_of(rows: Iterable[tuple[int, Any, int, str, bytes]]) -> list[Notification]:
    """Notifications of `(id, originator_id, originator_version, topic, state)` rows, each
    made without the frozen dataclass's `__init__` (an `object.__setattr__` per field):
    1.9 against 2.8 µs a row, measured here, and a rebuild makes one per stored event."""
    notifications: list[Notification] = []
    append, new, set_attribute = notifications.append, object.__new__, object.__setattr__
    for notification_id, originator_id, originator_version, topic, state in rows:
        notification = new(Notification)
        set_attribute(
            notification,
            "__dict__",
            {
                "originator_id": originator_id,
                "originator_version": originator_version,
                "topic": topic,
                "state": state,
                "id": notification_id,
            },
        )
        append(notification)
    return notifications


class BatchPostgresProcessRecorder(PostgresProcessRecorder):
    """Accepts `trackings=[...]`: several inbox positions in one transaction.

    A save is one statement: a call of the store's save function (created with the tables),
    which records the positions (each must move forward, else the whole save is refused
    as an IntegrityError), locks the events table (so that ids are committed in their
    order) and inserts the events from four arrays, sent in binary. On an autocommit
    connection the call is its own transaction: one round trip, no BEGIN, no pipeline.
    eventsourcing's own insert pipelines six statements and dumps the events as a text
    array of a composite type: py-spy put that at a fifth of the busiest service's CPU.

    No NOTIFY either: nothing here LISTENs (the relay and the read models are woken
    in-process, and poll for other replicas' saves). PostgreSQL puts every notification
    of the server in one queue, in commit order, so notifying commits of all databases
    are ordered against each other; what that cost here was not measured on its own.
    """

    _call: str | None = None

    def create_table(self) -> None:
        """Create the tables, types and functions, under an advisory lock: replicas starting
        together otherwise race to create the types ('duplicate key ... pg_type') and to
        replace the functions ('tuple concurrently updated'), and all but one fail."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", [_CREATE_TABLE_LOCK])
            try:
                super().create_table()
                with self.datastore.transaction(commit=True) as curs:
                    curs.execute(self._save_function())
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [_CREATE_TABLE_LOCK])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        trackings: list[Tracking] = [*kwargs.get("trackings", ())]
        if kwargs.get("tracking") is not None:
            trackings.append(kwargs["tracking"])
        if not stored_events and not trackings:
            return None
        params = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
            [tracking.application_name for tracking in trackings],
            [tracking.notification_id for tracking in trackings],
        )
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            assert conn.autocommit  # the call is its own transaction
            curs.execute(self._save_call(curs), params, prepare=True, binary=True)
            notification_ids = [row[0] for row in curs.fetchall()]
        return notification_ids if stored_events else None

    def _save_call(self, curs: Any) -> str:
        if self._call is None:
            self._call = (
                SQL(
                    "SELECT * FROM {schema}.{function}(%b::{id_type}[], %b::bigint[], "
                    "%b::text[], %b::bytea[], %b::text[], %b::bigint[])"
                )
                .format(
                    schema=Identifier(self.datastore.schema),
                    function=Identifier(self._save_function_name),
                    id_type=SQL(self.datastore.originator_id_type),
                )
                .as_string(curs)
            )
        return self._call

    @property
    def _save_function_name(self) -> str:
        return f"orderflow_save_{self.events_table_name}"

    def _save_function(self) -> Composed:
        return SQL(_SAVE_FUNCTION).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self._save_function_name),
            events=Identifier(self.events_table_name),
            tracking=Identifier(self.tracking_table_name),
            id_type=SQL(self.datastore.originator_id_type),
            lock_timeout=Literal(f"{self.datastore.lock_timeout}s"),
        )

    def select_share(
        self, start: int, stop: int, topics: Sequence[str], share: int, shares: int
    ) -> list[Notification]:
        """See `ShareSelecting`: split by the last byte of the originator id."""
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s "
            "AND get_byte(uuid_send(originator_id), 15) %% %s = %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        params: list[Any] = [start, stop, shares, share]
        if topics:
            statement += SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        statement += SQL(" ORDER BY notification_id")
        # Tuples in binary: no hex text for each event's state, no dict per row.
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params, prepare=True, binary=True)
            return notifications_of(curs)


_CREATE_TABLE_LOCK = 7_146_232_001
"""The advisory lock (per database) under which a store's tables are created."""

_SAVE_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{function}(
    ids {id_type}[], versions bigint[], topics text[], states bytea[],
    tracking_names text[], tracking_ids bigint[]
) RETURNS SETOF bigint LANGUAGE plpgsql AS $save$
BEGIN
    FOR i IN 1 .. coalesce(array_length(tracking_names, 1), 0) LOOP
        INSERT INTO {schema}.{tracking} AS t (application_name, notification_id)
        VALUES (tracking_names[i], tracking_ids[i])
        ON CONFLICT (application_name) DO UPDATE SET notification_id = EXCLUDED.notification_id
        WHERE t.notification_id < EXCLUDED.notification_id;
        IF NOT FOUND THEN
            RAISE unique_violation USING MESSAGE = format(
                'Failed to record tracking for %s %s', tracking_names[i], tracking_ids[i]);
        END IF;
    END LOOP;
    IF coalesce(array_length(ids, 1), 0) > 0 THEN
        PERFORM set_config('lock_timeout', {lock_timeout}, true);
        LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE;
        RETURN QUERY
            INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)
            SELECT * FROM unnest(ids, versions, topics, states)
            RETURNING notification_id;
    END IF;
END
$save$
"""
"""A save in one statement; see `BatchPostgresProcessRecorder`."""


class BatchSQLiteProcessRecorder(SQLiteProcessRecorder):
    """Accepts `trackings=[...]`: several inbox positions in one transaction."""

    def _insert_events(self, c: Any, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        returning = super()._insert_events(c, stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        return returning

    def select_share(
        self, start: int, stop: int, topics: Sequence[str], share: int, shares: int
    ) -> list[Notification]:
        """See `ShareSelecting`: split by the last character of the originator id."""
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid > ? AND rowid <= ? "
            "AND unicode(substr(originator_id, -1)) % ? = ?"
        )
        params: list[Any] = [start, stop, shares, share]
        if topics:
            statement += f" AND topic IN ({','.join('?' * len(topics))})"
            params += topics
        statement += " ORDER BY rowid"
        convert = self.convert_originator_id
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return notifications_of(
                (row[0], convert(row[1]), row[2], row[3], row[4]) for row in c.fetchall()
            )


CODEC_ENV = {
    "TRANSCODER_TOPIC": get_topic(FastJSONTranscoder),
    "MAPPER_TOPIC": get_topic(FastMapper),
}
"""eventsourcing's JSON format, read and written with orjson (see `transcoder`)."""


def persistence_env(settings: ServiceSettings) -> dict[str, str]:
    """The eventsourcing environment for this service's store."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            **CODEC_ENV,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "PROCESS_RECORDER_TOPIC": get_topic(BatchSQLiteProcessRecorder),
        }
    url = urlsplit(settings.database_url.get_secret_value())
    if url.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"unsupported database URL scheme {url.scheme!r}: use postgresql://")
    return {
        **CODEC_ENV,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "5",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # No ping before each transaction (a round trip each): a connection broken by a
        # database restart fails its operation, which eventsourcing retries on another.
        "POSTGRES_PRE_PING": "n",
        "PROCESS_RECORDER_TOPIC": get_topic(BatchPostgresProcessRecorder),
    }


class EventStoreApplication(Application[Any]):
    """Base class of a service's application: its store, outbox and inbox positions.

    Subclasses name themselves (`name`, also the table prefix) and add use cases.
    """

    name = "Service"

    def __init__(self, settings: ServiceSettings, **env: str) -> None:
        self.settings = settings
        self._saved_listeners: list[Callable[[], None]] = []
        self.last_saved_id = 0
        """The greatest notification id this process has saved: a lower bound of the head
        of the log that costs no query (other processes may have stored more)."""
        self._store_id: str | None = None
        cache = (
            {  # no cache at all when the size is 0 (eventsourcing reads 0 as unbounded)
                "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
                "AGGREGATE_CACHE_FASTFORWARD": "y" if settings.aggregate_cache_fastforward else "n",
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
            }
            if settings.aggregate_cache_size > 0
            else {}
        )
        super().__init__(env={**persistence_env(settings), **cache, **env})

    def construct_repository(self) -> Repository[Any]:
        """eventsourcing's repository, with a cache that never goes back to an older
        version of an aggregate (see aggregate_cache)."""
        repository = super().construct_repository()
        if isinstance(repository.cache, LRUCache):
            repository.cache = NewestVersionCache(repository.cache.maxsize)
        return repository

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save; if it fails, forget the cached copies, so a retry reloads them.

        The aggregate cache trusts itself (no fast-forward query per load) unless
        configured otherwise; a write by another process then surfaces here as a
        version conflict, and the retry works on fresh state. Any other failure is
        forgotten too: a connection lost at commit may have stored the events, and the
        cache (updated only after a save that returns) would then hold the old version.
        """
        try:
            return super().save(*objs, **kwargs)
        except Exception:
            self.forget(obj.id for obj in objs if hasattr(obj, "id"))
            raise

    def forget(self, aggregate_ids: Iterable[Any]) -> None:
        """Drop aggregates from the cache (they are reloaded from the store next time)."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the saving thread) after each save that stored events."""
        self._saved_listeners.append(listener)

    def _notify(self, recordings: list[Any]) -> None:
        if recordings:
            saved = max(recording.notification.id for recording in recordings)
            self.last_saved_id = max(self.last_saved_id, saved)
            for listener in self._saved_listeners:
                listener()  # wakes the relay and projections at once, not at their next poll

    def construct_recorder(self) -> ProcessRecorder:
        recorder = self.factory.process_recorder()
        assert isinstance(recorder, ProcessRecorder)
        return recorder

    def new_recorder(self) -> ProcessRecorder:
        """A recorder of this store on connections of its own (a forked worker process
        must not use the connections it inherited: they are its parent's). It does not
        create tables: they exist, and concurrent DDL from several workers would clash."""
        assert isinstance(self.env, Environment)
        no_tables = dict.fromkeys(self.env.create_keys("CREATE_TABLE"), "no")
        env = Environment(self.env.name, {**self.env, **no_tables})
        recorder = self.construct_factory(env).process_recorder()
        assert isinstance(recorder, ProcessRecorder)
        return recorder

    @property
    def process_recorder(self) -> ProcessRecorder:
        recorder = self.recorder
        assert isinstance(recorder, ProcessRecorder)
        return recorder

    def position(self, tracking_name: str) -> int:
        """The last notification id recorded under `tracking_name` (0 when none)."""
        return self.process_recorder.max_tracking_id(tracking_name) or 0

    def record_position(self, tracking: Tracking) -> None:
        self.process_recorder.insert_tracking(tracking)

    def max_notification_id(self) -> int:
        return self.process_recorder.max_notification_id() or 0

    def store_id(self) -> str:
        """This store's id, 16 hex digits: the relay's `ce_storeid`.

        Kept in the store itself (a tracking record), so a wiped or new store, whose
        notification ids start again at 1, gets a new one and consumers track its
        `ce_sequence` apart from the old store's. Made up at the first call: a random odd
        number of 39 bits (12 digits at most, so that no scan mistakes it for a card
        number). Replicas racing to make it up leave the greatest in the store, since a
        tracking record only moves up (a smaller one is refused with IntegrityError); one
        that re-read its own before a greater one landed would keep the smaller, but only
        the relay's leader asks, so that takes two leaders at once.
        """
        if self._store_id is None:
            number = self.position(STORE_ID_TRACKING_NAME)
            if number == 0:
                made_up = Tracking(STORE_ID_TRACKING_NAME, secrets.randbits(39) | 1)
                with contextlib.suppress(IntegrityError):  # a replica recorded a greater one
                    self.record_position(made_up)
                number = self.position(STORE_ID_TRACKING_NAME)
            self._store_id = f"{number:016x}"
        return self._store_id
