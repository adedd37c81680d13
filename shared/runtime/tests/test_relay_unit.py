"""The outbox relay without a broker: what it sends, in which order, and when it moves on.

The producer is a stub whose `send` returns an already-resolved future (or, when told,
a failed one) and records what was sent; the real broker is covered in tests/integration.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from aiokafka.errors import KafkaTimeoutError
from orderflow_events import ORDERS_EVENTS, OrderPlaced, from_record, headers_dict
from orderflow_runtime.context import EventContext, event_context
from orderflow_runtime.probe import (
    PlacedOrder,
    ProbeSettings,
    ProbeSource,
    Tally,
    sample_order,
    to_integration,
)
from orderflow_runtime.relay import OutboxRelay, event_id_of
from orderflow_runtime.store import RELAY_TRACKING_NAME

SettingsFactory = Callable[..., ProbeSettings]


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return headers_dict(self.headers)[name]

    @property
    def sequence(self) -> int:
        return int(self.header("ce_sequence"))


class StubProducer:
    """Records each send; `fail_sends = {n}` makes the future of the n-th send (from 1) fail."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.calls = 0
        self.fail_sends: set[int] = set()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        self.calls += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.calls in self.fail_sends:
            future.set_exception(KafkaTimeoutError())
        else:
            self.sent.append(Sent(topic, key, value, list(headers or [])))
            future.set_result(None)
        return future


def relay_of(app: ProbeSource, producer: StubProducer, batch_size: int = 1000) -> OutboxRelay:
    return OutboxRelay(app, to_integration, producer, batch_size=batch_size)  # type: ignore[arg-type]


def place_one(app: ProbeSource) -> uuid.UUID:
    """Store one order; returns its order id (the record key), not the aggregate's id."""
    order_id = uuid.uuid4()
    app.save(PlacedOrder(sample_order(order_id).model_dump(mode="json")))
    return order_id


@pytest.fixture
def producer() -> StubProducer:
    return StubProducer()


@pytest.fixture
def namespaced(make_settings: SettingsFactory) -> Iterator[ProbeSource]:
    app = ProbeSource(make_settings("source", topic_namespace="shop-eu."))
    yield app
    app.close()


async def test_stored_events_are_published_in_notification_order(
    source: ProbeSource, producer: StubProducer
) -> None:
    # Given orders stored in three transactions
    aggregate_ids = source.place(5, per_transaction=2)
    order_ids = [source.repository.get(i).order["order_id"] for i in aggregate_ids]
    stored = source.process_recorder.select_notifications(start=0, limit=100)

    # When the relay publishes
    covered = await relay_of(source, producer).publish_next_batch()

    # Then each stored event was sent once, in store order, keyed by its order
    assert covered == 5
    assert [s.sequence for s in producer.sent] == [n.id for n in stored]
    assert [s.key for s in producer.sent] == [i.encode() for i in order_ids]
    for sent, notification in zip(producer.sent, stored, strict=True):
        assert sent.topic == ORDERS_EVENTS
        envelope = from_record(sent.key, sent.value, sent.headers)
        assert isinstance(envelope.data, OrderPlaced)
        assert envelope.subject == envelope.correlation_id == str(envelope.data.order_id)
        assert envelope.id == event_id_of(
            "/services/probe-source", notification.originator_id, notification.originator_version
        )
    assert source.position(RELAY_TRACKING_NAME) == stored[-1].id


async def test_the_next_batch_starts_after_the_saved_position(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.place(5)
    relay = relay_of(source, producer, batch_size=2)

    covered = [await relay.publish_next_batch() for _ in range(4)]

    assert covered == [2, 2, 1, 0]
    assert [s.sequence for s in producer.sent] == [1, 2, 3, 4, 5]
    assert relay.published == 5


async def test_event_ids_are_stable_when_another_relay_publishes_again_from_zero(
    make_settings: SettingsFactory, producer: StubProducer
) -> None:
    # Given a store, and a copy of it taken before anything was published
    settings = make_settings("source")
    app = ProbeSource(settings)
    app.place(4)
    app.close()
    copy_settings = make_settings("source", data_dir=settings.data_dir.parent / "copy")
    copy_settings.data_dir.mkdir()
    shutil.copy(settings.sqlite_path, copy_settings.sqlite_path)

    # When one relay publishes from the store and another one from the copy (from 0 again)
    first, second = StubProducer(), StubProducer()
    for stored_settings, stub in ((settings, first), (copy_settings, second)):
        store = ProbeSource(stored_settings)
        await relay_of(store, stub).publish_next_batch()
        store.close()

    # Then both published the same events under the same ce_id
    assert len(first.sent) == 4
    assert [s.header("ce_id") for s in first.sent] == [s.header("ce_id") for s in second.sent]
    assert len({s.header("ce_id") for s in first.sent}) == 4


async def test_every_record_names_the_store_so_a_new_store_is_told_apart(
    make_settings: SettingsFactory,
) -> None:
    # Given a store whose relay published two batches
    settings = make_settings("source")
    store, first = ProbeSource(settings), StubProducer()
    store.place(3)
    relay = relay_of(store, first, batch_size=2)
    await relay.publish_next_batch()
    await relay.publish_next_batch()
    store_id = store.store_id()
    store.close()

    # When the store is deleted and a new one, on the same path, publishes from 1 again
    settings.sqlite_path.unlink()
    new_store, second = ProbeSource(settings), StubProducer()
    new_store.place(2)
    await relay_of(new_store, second).publish_next_batch()
    new_store.close()

    # Then each record carries its store's id: the same sequences, told apart by it
    assert [(s.sequence, s.header("ce_storeid")) for s in first.sent] == [
        (1, store_id),
        (2, store_id),
        (3, store_id),
    ]
    [new_store_id] = {s.header("ce_storeid") for s in second.sent}
    assert [s.sequence for s in second.sent] == [1, 2]
    assert new_store_id != store_id


async def test_private_events_are_skipped_but_the_position_moves_past_them(
    source: ProbeSource, producer: StubProducer
) -> None:
    # Given a private domain event (no integration event) between two orders, and one last
    first = place_one(source)
    source.save(Tally(1))
    second = place_one(source)
    tally = source.repository.get(Tally.create_id(1))
    tally.count_one("e", "o", 1)
    source.save(tally)

    # When the relay publishes
    relay = relay_of(source, producer)
    covered = await relay.publish_next_batch()

    # Then only the orders were sent, and the position covers all four events
    assert covered == 4
    assert [s.key for s in producer.sent] == [str(first).encode(), str(second).encode()]
    assert [s.sequence for s in producer.sent] == [1, 3]
    assert source.position(RELAY_TRACKING_NAME) == 4
    assert await relay.publish_next_batch() == 0
    assert len(producer.sent) == 2


async def test_a_batch_of_private_events_only_moves_the_position(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.save(Tally(1), Tally(2))

    assert await relay_of(source, producer).publish_next_batch() == 2

    assert producer.sent == []
    assert source.position(RELAY_TRACKING_NAME) == 2


async def test_the_position_is_saved_only_after_every_send_was_acknowledged(
    source: ProbeSource, producer: StubProducer
) -> None:
    # Given three stored orders and a broker that fails the second send
    source.place(3)
    producer.fail_sends = {2}
    relay = relay_of(source, producer)

    # When the relay publishes, the batch fails and the position stays where it was
    with pytest.raises(KafkaTimeoutError):
        await relay.publish_next_batch()
    assert source.position(RELAY_TRACKING_NAME) == 0
    assert relay.published == 0
    assert [s.sequence for s in producer.sent] == [1, 3]

    # And the retry publishes the whole batch again (consumers drop repeats by sequence)
    assert await relay.publish_next_batch() == 3
    assert [s.sequence for s in producer.sent] == [1, 3, 1, 2, 3]
    assert source.position(RELAY_TRACKING_NAME) == 3
    assert relay.published == 3


async def test_a_failed_batch_is_published_again_by_a_restarted_relay(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.place(2)
    producer.fail_sends = {1}
    with pytest.raises(KafkaTimeoutError):
        await relay_of(source, producer).publish_next_batch()

    restarted = StubProducer()
    assert await relay_of(source, restarted).publish_next_batch() == 2

    assert [s.sequence for s in restarted.sent] == [1, 2]


async def test_the_topic_namespace_prefixes_the_topic(
    namespaced: ProbeSource, producer: StubProducer
) -> None:
    namespaced.place(2)

    await relay_of(namespaced, producer).publish_next_batch()

    assert {s.topic for s in producer.sent} == {"shop-eu.orders.events"}


async def test_the_causation_stamp_becomes_the_cloudevents_extensions(
    source: ProbeSource, producer: StubProducer
) -> None:
    # Given an order stored while handling another event, and one stored without context
    cause = EventContext(
        causation_id="6c0e7a43-58c5-4d63-9f5e-0c1f2d3a4b01",
        correlation_id="corr-1",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    with event_context(cause):
        caused = place_one(source)
    plain = place_one(source)

    await relay_of(source, producer).publish_next_batch()

    # Then the first carries causation, correlation and trace; the second its order id only
    first, second = (headers_dict(s.headers) for s in producer.sent)
    assert first["ce_causationid"] == cause.causation_id
    assert first["ce_correlationid"] == "corr-1"
    assert first["traceparent"] == cause.traceparent
    assert first["ce_subject"] == str(caused)
    assert "ce_causationid" not in second
    assert "traceparent" not in second
    assert second["ce_correlationid"] == str(plain)


async def test_run_retries_a_failed_batch_and_is_woken_by_new_events(
    source: ProbeSource, producer: StubProducer
) -> None:
    # Given a running relay (long idle poll) whose first send fails
    source.place(2)
    producer.fail_sends = {1}
    relay = OutboxRelay(source, to_integration, producer, idle_poll_s=60)  # type: ignore[arg-type]
    source.on_saved(relay.wake)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"relay did not get there: sent {len(producer.sent)}")

    # When it retries, then more orders are stored while it idles
    await until(lambda: source.position(RELAY_TRACKING_NAME) == 2)
    source.place(1)
    await until(lambda: source.position(RELAY_TRACKING_NAME) == 3)
    stop.set()
    await asyncio.wait_for(running, timeout=2)

    # Then the failed batch was published again and the new order without waiting a poll
    assert [s.sequence for s in producer.sent] == [2, 1, 2, 3]


async def test_the_position_is_saved_at_most_once_per_interval_and_on_stop(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.place(3)
    relay = OutboxRelay(
        source,
        to_integration,
        producer,  # type: ignore[arg-type]
        batch_size=1,
        idle_poll_s=0.01,
        save_position_every_s=3600,
    )
    assert [await relay.publish_next_batch() for _ in range(3)] == [1, 1, 1]
    assert source.position(RELAY_TRACKING_NAME) == 1  # the first batch; the others wait
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.05)
    assert source.position(RELAY_TRACKING_NAME) == 1  # idle, but the interval has not passed
    stop.set()
    await task
    assert source.position(RELAY_TRACKING_NAME) == 3  # saved on a clean stop
    assert [s.sequence for s in producer.sent] == [1, 2, 3]


async def test_a_restart_after_an_unsaved_position_publishes_again_never_skips(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.place(3)
    first = OutboxRelay(source, to_integration, producer, save_position_every_s=3600)  # type: ignore[arg-type]
    assert await first.publish_next_batch() == 3
    source.place(2)
    assert await first.publish_next_batch() == 2  # published; position not saved (crash)
    restarted = StubProducer()
    assert await relay_of(source, restarted).publish_next_batch() == 2
    assert [s.sequence for s in restarted.sent] == [4, 5]  # again, for consumers to drop


async def test_a_read_that_reached_the_head_waits_for_the_next_save_not_another_read(
    source: ProbeSource, producer: StubProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running relay (long idle poll) that counts its reads of the log
    recorder = source.process_recorder
    reads: list[int] = []
    select = recorder.select_notifications

    def counted(*args: object, **kwargs: object) -> object:
        reads.append(1)
        return select(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "select_notifications", counted)
    source.place(2)
    relay = OutboxRelay(source, to_integration, producer, idle_poll_s=60)  # type: ignore[arg-type]
    source.on_saved(relay.wake)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    async def settled(sent: int) -> None:
        for _ in range(200):
            if len(producer.sent) == sent:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # time for a needless read to show

    # When it publishes what is stored, then a save wakes it once
    await settled(2)
    first = len(reads)
    source.place(1)
    await settled(3)
    stop.set()
    await asyncio.wait_for(running, timeout=2)

    # Then each time one read covered everything: it did not read the log again to
    # find it empty
    assert [s.sequence for s in producer.sent] == [1, 2, 3]
    assert (first, len(reads)) == (1, 2)


async def test_a_full_batch_is_followed_by_the_next_without_waiting(
    source: ProbeSource, producer: StubProducer
) -> None:
    source.place(3, per_transaction=1)
    relay = OutboxRelay(source, to_integration, producer, batch_size=1, idle_poll_s=60)  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    for _ in range(100):
        if len(producer.sent) == 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=2)
    assert [s.sequence for s in producer.sent] == [1, 2, 3]  # no 60 s poll in between
