"""The event store: where it lives, positions committed with events, the trusted cache."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import get_topic
from orderflow_runtime.probe import ProbeSettings, ProbeSink, Tally
from orderflow_runtime.store import STORE_ID_TRACKING_NAME, notifications_of, persistence_env

SettingsFactory = Callable[..., ProbeSettings]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def store_settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> ProbeSettings:
    """The sink's settings on a SQLite file, or on a fresh PostgreSQL database."""
    if request.param == "postgres":
        return make_settings("sink", database_url=request.getfixturevalue("postgres_url_factory")())
    return make_settings("sink")


@pytest.fixture
def store(store_settings: ProbeSettings) -> Iterator[ProbeSink]:
    app = ProbeSink(store_settings)
    yield app
    app.close()


# -- where the store lives ---------------------------------------------------------


def test_without_a_url_the_store_is_a_sqlite_file_under_data_dir(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("cart")
    assert not settings.data_dir.exists()

    env = persistence_env(settings)

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(settings.data_dir / "probe-cart.sqlite")
    assert settings.data_dir.is_dir()  # created, so that SQLite can create the file


def test_a_postgresql_url_is_split_and_unescaped(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        database_url="postgresql://shop%40eu:p%40ss%3Aw%2Frd%25@db.internal:6543/orders%2Dmain"
    )

    env = persistence_env(settings)

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_USER"] == "shop@eu"
    assert env["POSTGRES_PASSWORD"] == "p@ss:w/rd%"
    assert env["POSTGRES_HOST"] == "db.internal"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_DBNAME"] == "orders-main"


@pytest.mark.parametrize(
    "url", ["postgres://db.internal", "postgresql+psycopg://db.internal/"], ids=["heroku", "sqla"]
)
def test_a_postgresql_url_without_port_user_or_db_gets_defaults(
    make_settings: SettingsFactory, url: str
) -> None:
    env = persistence_env(make_settings(database_url=url))

    assert env["POSTGRES_HOST"] == "db.internal"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_USER"] == "postgres"
    assert env["POSTGRES_PASSWORD"] == ""
    assert env["POSTGRES_DBNAME"] == "postgres"


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "sqlite:///tmp/x.sqlite", "db.internal/x"])
def test_an_unsupported_database_url_is_refused(make_settings: SettingsFactory, url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme"):
        persistence_env(make_settings(database_url=url))


# -- positions commit with the events ----------------------------------------------


def test_save_commits_several_positions_with_the_events(store: ProbeSink) -> None:
    # Given no positions yet
    assert store.position("orders.events:0") == 0

    # When two tallies are saved with the positions of two partitions
    first, second = Tally(1), Tally(2)
    first.count_one("e1", "o1", 7)
    store.save(
        first,
        second,
        trackings=[Tracking("orders.events:0", 7), Tracking("orders.events:3", 2)],
    )

    # Then the events and both positions are stored
    assert store.max_notification_id() == 3
    assert store.position("orders.events:0") == 7
    assert store.position("orders.events:3") == 2
    assert store.position("orders.events:1") == 0

    # And the next save moves only the positions it names
    store.save(Tally(3), trackings=[Tracking("orders.events:0", 9)])
    assert store.position("orders.events:0") == 9
    assert store.position("orders.events:3") == 2


@pytest.mark.parametrize("stale", [5, 4], ids=["equal", "behind"])
def test_a_position_not_past_the_saved_one_rejects_the_whole_save(
    store: ProbeSink, stale: int
) -> None:
    # Given positions 5 and 2 saved with one event
    store.save(Tally(1), trackings=[Tracking("orders.events:0", 5), Tracking("orders.events:1", 2)])

    # When a save carries a good position and one not past the saved one
    newcomer = Tally(2)
    with pytest.raises(IntegrityError):
        store.save(
            newcomer,
            trackings=[Tracking("orders.events:1", 3), Tracking("orders.events:0", stale)],
        )

    # Then nothing of it was written: no event, no position
    assert store.max_notification_id() == 1
    assert store.position("orders.events:0") == 5
    assert store.position("orders.events:1") == 2
    with pytest.raises(AggregateNotFoundError):
        store.repository.get(newcomer.id)


def test_a_save_stores_its_events_in_order_and_a_stale_version_is_refused(
    store: ProbeSink,
) -> None:
    # Given a save of three tallies, one of them counted twice
    tallies = [Tally(bucket) for bucket in (1, 2, 3)]
    tallies[1].count_one("e1", "o1", 1)
    tallies[1].count_one("e2", "o1", 2)
    recordings = store.save(*tallies)

    # Then the events are stored in the order they were made, with consecutive ids
    stored = store.process_recorder.select_notifications(start=1, limit=10)
    expected = [(t.id, v) for t in tallies for v in range(1, t.version + 1)]
    assert [(n.originator_id, n.originator_version) for n in stored] == expected
    assert [r.notification.id for r in recordings] == [n.id for n in stored] == [1, 2, 3, 4, 5]
    assert store.repository.get(tallies[1].id).count == 2

    # And a save made from a copy that another writer moved past is refused whole
    stale = store.repository.get(tallies[0].id)
    current = store.repository.get(tallies[0].id)
    current.count_one("e3", "o2", 3)
    store.save(current)
    stale.count_one("e4", "o3", 4)
    with pytest.raises(IntegrityError):
        store.save(Tally(4), stale)
    assert store.max_notification_id() == 6
    with pytest.raises(AggregateNotFoundError):
        store.repository.get(Tally(4).id)


def test_record_position_alone_moves_forward_only(store: ProbeSink) -> None:
    store.record_position(Tracking("outbox-relay", 4))
    with pytest.raises(IntegrityError):
        store.record_position(Tracking("outbox-relay", 4))
    assert store.position("outbox-relay") == 4


def test_on_saved_is_called_after_each_save_that_stored_events(store: ProbeSink) -> None:
    calls: list[str] = []
    store.on_saved(lambda: calls.append("relay"))
    store.on_saved(lambda: calls.append("projections"))

    store.save(Tally(1))
    store.save(trackings=[Tracking("orders.events:0", 1)])  # a position only: nothing to relay

    assert calls == ["relay", "projections"]


# -- the store id ------------------------------------------------------------------


def test_the_store_id_is_made_up_once_and_kept_in_the_store(store: ProbeSink) -> None:
    # Given a store's id
    store_id = store.store_id()

    # Then it is 16 hex digits, the same at each call and for another process on the store
    assert re.fullmatch(r"[0-9a-f]{16}", store_id)
    assert store.store_id() == store_id
    other = ProbeSink(store.settings)
    assert other.store_id() == store_id
    other.close()
    assert store.position(STORE_ID_TRACKING_NAME) == int(store_id, 16)


def test_a_new_store_in_place_of_a_deleted_one_gets_a_new_store_id(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("source")
    first = ProbeSink(settings)
    store_id = first.store_id()
    first.close()
    reopened = ProbeSink(settings)
    assert reopened.store_id() == store_id
    reopened.close()

    # When the store's file is deleted and a store is made again on the same path
    settings.sqlite_path.unlink()
    second = ProbeSink(settings)

    # Then it has an id of its own
    assert second.store_id() != store_id
    second.close()


def test_a_replica_that_made_up_a_store_id_at_the_same_time_ends_with_the_stored_one(
    store: ProbeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a replica that recorded the greatest possible id (39 bits) after this one saw none
    rival = ProbeSink(store.settings)
    greatest = 2**39 - 1
    rival.record_position(Tracking(STORE_ID_TRACKING_NAME, greatest))
    rival.close()
    stale_reads, recorded = [0], list[int]()
    read, record = store.position, store.record_position

    def position(name: str) -> int:
        return stale_reads.pop() if stale_reads else read(name)

    def record_position(tracking: Tracking) -> None:
        recorded.append(tracking.notification_id)
        record(tracking)

    monkeypatch.setattr(store, "position", position)
    monkeypatch.setattr(store, "record_position", record_position)

    # When this one records its own (refused: not past the stored one)
    store_id = store.store_id()

    # Then it uses the stored one, like the replica
    [made_up] = recorded
    assert made_up < greatest
    assert store_id == f"{greatest:016x}" == "0000007fffffffff"


# -- the trusted cache -------------------------------------------------------------


def test_forget_evicts_cached_aggregates(sink: ProbeSink) -> None:
    # Given two saved tallies, both cached
    one, two = Tally(1), Tally(2)
    sink.save(one, two)
    cache = sink.repository.cache
    assert cache is not None
    cache.get(one.id)
    cache.get(two.id)

    # When one of them (and an id never seen) is forgotten
    sink.forget([one.id, Tally.create_id(63)])

    # Then only that one is gone from the cache, and it still loads from the store
    with pytest.raises(KeyError):
        cache.get(one.id)
    assert cache.get(two.id).id == two.id
    assert sink.repository.get(one.id).bucket == 1


def test_a_version_conflict_raises_and_the_reload_sees_the_newest_version(
    store: ProbeSink,
) -> None:
    # Given a tally saved by this process and counted since by another one
    tally = Tally(1)
    store.save(tally)
    other = ProbeSink(store.settings)
    theirs = other.repository.get(tally.id)
    theirs.count_one("e-theirs", "o1", 1)
    other.save(theirs)
    other.close()

    # When this process counts on its cached (stale) copy and saves
    ours = store.repository.get(tally.id)
    assert ours.version == 1, "the cache is trusted: no query for newer events"
    ours.count_one("e-ours", "o2", 2)
    with pytest.raises(IntegrityError):
        store.save(ours)

    # Then the stale copy is no longer cached; a reload sees the other's count and can save
    cache = store.repository.cache
    assert cache is not None
    with pytest.raises(KeyError):
        cache.get(tally.id)
    fresh = store.repository.get(tally.id)
    assert (fresh.version, fresh.count) == (2, 1)
    fresh.count_one("e-ours", "o2", 2)
    store.save(fresh)
    assert store.repository.get(tally.id).count == 2


def test_a_save_that_fails_after_commit_leaves_no_stale_copy_cached(
    store: ProbeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a saved tally, and a connection that is lost once the next save has committed
    tally = Tally(1)
    store.save(tally)
    put = store.events.put

    def committed_then_lost(*args: Any, **kwargs: Any) -> Any:
        put(*args, **kwargs)
        raise ConnectionError("connection lost at commit")

    monkeypatch.setattr(store.events, "put", committed_then_lost)
    ours = store.repository.get(tally.id)
    ours.count_one("e1", "o1", 1)

    # When the save reports the failure
    with pytest.raises(ConnectionError):
        store.save(ours)
    monkeypatch.undo()

    # Then a reload sees the stored count (not the cached version before it) and can go on
    fresh = store.repository.get(tally.id)
    assert (fresh.version, fresh.count) == (2, 1)
    fresh.count_one("e2", "o2", 2)
    store.save(fresh)
    assert store.repository.get(tally.id).count == 2


def test_a_load_that_read_an_older_version_does_not_replace_a_newer_save_in_the_cache(
    store: ProbeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a saved tally that is not cached, and a loader thread held up right after it
    # has read the tally's events from the store (before it puts its copy in the cache)
    tally = Tally(1)
    store.save(tally)
    store.forget([tally.id])
    read, go_on = threading.Event(), threading.Event()
    get_events = store.repository.event_store.get

    def held_up_in_the_loader(*args: Any, **kwargs: Any) -> Any:
        events = list(get_events(*args, **kwargs))
        if threading.current_thread().name == "loader":
            read.set()
            assert go_on.wait(10)
        return events

    monkeypatch.setattr(store.repository.event_store, "get", held_up_in_the_loader)
    loaded: list[Tally] = []
    loader = threading.Thread(
        target=lambda: loaded.append(store.repository.get(tally.id)), name="loader"
    )
    loader.start()
    assert read.wait(10)

    # When this thread counts and saves (version 2) while the loader holds version 1
    ours = store.repository.get(tally.id)
    ours.count_one("e1", "o1", 1)
    store.save(ours)
    go_on.set()
    loader.join(10)
    assert [copy.version for copy in loaded] == [1]
    monkeypatch.undo()

    # Then the cache still holds the newer version: a load sees the count, and saves on
    cache = store.repository.cache
    assert cache is not None
    assert cache.get(tally.id).version == 2
    fresh = store.repository.get(tally.id)
    assert (fresh.version, fresh.count) == (2, 1)
    fresh.count_one("e2", "o2", 2)
    store.save(fresh)


def test_two_copies_saved_one_after_the_other_conflict(sink: ProbeSink) -> None:
    # Given two copies of one tally loaded in one process
    tally = Tally(1)
    sink.save(tally)
    first, second = sink.repository.get(tally.id), sink.repository.get(tally.id)
    assert first is not second

    # When both are changed and saved one after the other
    first.count_one("e1", "o1", 1)
    sink.save(first)
    second.count_one("e2", "o2", 2)
    with pytest.raises(IntegrityError):
        sink.save(second)

    # Then the store kept the first, and a reload sees it
    assert sink.max_notification_id() == 2
    assert sink.repository.get(tally.id).count == 1


@pytest.mark.integration
def test_a_save_on_postgresql_sends_no_notify(
    make_settings: SettingsFactory, postgres_url_factory: Callable[[], str]
) -> None:
    # Given a connection listening on the channel eventsourcing would notify
    url = postgres_url_factory()
    app = ProbeSink(make_settings("sink", database_url=url))
    try:
        channel = app.process_recorder.channel_name  # type: ignore[attr-defined]
        with psycopg.connect(url, autocommit=True) as listener:
            listener.execute(f'LISTEN "{channel}"')

            # When events are saved
            app.save(Tally(1))

            # Then nothing is notified
            assert list(listener.notifies(timeout=0.5)) == []
            listener.execute(f'NOTIFY "{channel}"')  # the listener itself works
            assert len(list(listener.notifies(timeout=0.5, stop_after=1))) == 1
    finally:
        app.close()


@pytest.mark.integration
def test_replicas_starting_together_on_postgresql_all_save(
    make_settings: SettingsFactory, postgres_url_factory: Callable[[], str]
) -> None:
    # Given four replicas started at the same moment on a new database, then four more
    # on it (each creates the tables and types, and replaces the functions)
    url = postgres_url_factory()
    settings = make_settings("sink", database_url=url)
    with ThreadPoolExecutor(4) as pool:
        for replica in list(pool.map(lambda _: ProbeSink(settings), range(4))):
            replica.close()
        replicas = list(pool.map(lambda _: ProbeSink(settings), range(4)))
    try:
        # When each saves
        for bucket, replica in enumerate(replicas):
            replica.save(Tally(bucket), trackings=[Tracking(f"orders.events:{bucket}", 1)])

        # Then every save is there, with its position
        assert replicas[0].max_notification_id() == 4
        assert [replicas[0].position(f"orders.events:{b}") for b in range(4)] == [1] * 4
    finally:
        for replica in replicas:
            replica.close()


@pytest.mark.integration
def test_a_store_written_before_the_save_function_takes_it_on_at_start(
    make_settings: SettingsFactory, postgres_url_factory: Callable[[], str]
) -> None:
    # Given a store written by eventsourcing's own recorder (before the save function)
    settings = make_settings("sink", database_url=postgres_url_factory())
    old = ProbeSink(settings, PROCESS_RECORDER_TOPIC=get_topic(PostgresProcessRecorder))
    try:
        old.save(Tally(1))
        old.record_position(Tracking("orders.events:0", 4))
    finally:
        old.close()

    # When the service starts on it and saves
    store = ProbeSink(settings)
    try:
        store.save(Tally(2), trackings=[Tracking("orders.events:0", 5)])

        # Then the ids and the positions go on from where the old recorder left them
        stored = store.process_recorder.select_notifications(start=1, limit=10)
        assert [(n.id, n.originator_id) for n in stored] == [(1, Tally(1).id), (2, Tally(2).id)]
        assert store.position("orders.events:0") == 5
        with pytest.raises(IntegrityError):
            store.save(Tally(3), trackings=[Tracking("orders.events:0", 4)])
    finally:
        store.close()


@pytest.mark.integration
def test_old_and_new_replicas_saving_at_once_leave_no_id_behind_a_reader(
    make_settings: SettingsFactory, postgres_url_factory: Callable[[], str]
) -> None:
    # Given replicas still on eventsourcing's own recorder and replicas on the save
    # function, on one store (a rolling upgrade), and a reader following the ids as the
    # relay does
    settings = make_settings("sink", database_url=postgres_url_factory())
    new = ProbeSink(settings)
    old = ProbeSink(settings, PROCESS_RECORDER_TOPIC=get_topic(PostgresProcessRecorder))
    saves_each = 100
    followed: list[int] = []
    writing = threading.Event()
    writing.set()

    def follow() -> None:
        """Read on until the writers have stopped and a read finds nothing new."""
        while True:
            done = not writing.is_set()  # before the read: a later read sees every commit
            start = followed[-1] + 1 if followed else 1
            batch = new.process_recorder.select_notifications(start=start, limit=100)
            followed.extend(notification.id for notification in batch)
            if done and not batch:
                return

    def write(replica: ProbeSink, first_bucket: int) -> None:
        for bucket in range(first_bucket, first_bucket + saves_each):
            replica.save(Tally(bucket))

    try:
        # When both save at once while the reader reads
        with ThreadPoolExecutor(5) as pool:
            reader = pool.submit(follow)
            writers = [
                pool.submit(write, replica, first_bucket)
                for replica, first_bucket in ((new, 0), (old, 1000), (new, 2000), (old, 3000))
            ]
            try:
                for writer in writers:
                    writer.result(timeout=120)
            finally:
                writing.clear()  # a failed writer must not leave the reader waiting
            reader.result(timeout=60)

        # Then every save is stored, and the reader saw each id once, in order: no id
        # was committed after a higher one was already visible
        assert followed == list(range(1, saves_each * 4 + 1))
        stored = new.process_recorder.select_notifications(1, saves_each * 4)
        assert len({notification.originator_id for notification in stored}) == saves_each * 4
    finally:
        old.close()
        new.close()


def test_notifications_of_rows_are_the_dataclass_s_own() -> None:
    rows = [(7, uuid4(), 3, "a.module:Thing.Happened", b'{"n":1}'), (9, "an-id", 1, "t", b"")]
    made = notifications_of(iter(rows))
    expected = [
        Notification(id=i, originator_id=o, originator_version=v, topic=t, state=s)
        for i, o, v, t, s in rows
    ]
    assert made == expected
    assert [repr(n) for n in made] == [repr(n) for n in expected]
    assert [type(n) for n in made] == [Notification, Notification]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].id = 8  # type: ignore[misc]
