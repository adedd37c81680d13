"""The idempotent inbox: applies integration events from Kafka to a service's store.

One consumer group per service, offsets from `earliest`. A batch of records (of
several partitions and topics, taken in the order they were produced: see
`in_produced_order`) is applied in one unit of work and committed in one transaction
together with the tracking positions it reached (per producer topic, partition and store: the
producer's notification id, carried as the CloudEvents `sequence`, in the store
named by `storeid`). A record whose sequence is not past the saved position was
applied before and is skipped, whatever Kafka or a relay redelivers. A producer on a
new store (wiped, or rebuilt from scratch) starts its sequence again at 1 under a new
storeid, so a new position. Kafka offsets are committed only after that transaction,
so nothing is acknowledged that was neither applied nor dead-lettered; and at most once
per `inbox_commit_interval_s` (an offset commit per batch was a round trip per batch),
as well as when partitions are taken away, when the inbox stops and right after a dead
letter: a crash in between redelivers records the positions then skip. A batch in which
no record has a handler writes nothing to the store: applied again, it changes nothing.

Upgrade caveat: records published before producers sent `storeid` (and those of
publishers that send none) are tracked under the old name, `<topic>:<partition>`, and
the first records with a storeid start a new position from 0. An event applied under
the old name and delivered again with a storeid is applied twice: a relay re-publishing
its last batch across its upgrade, or, when a consumer is upgraded after its producers,
a record the old consumer applied but whose offset it had not committed. Upgrade
consumers first.

The store work (handlers, the transaction) runs on the event loop's own thread, not in
a worker thread: on a busy machine each trip to a worker waited twice for the scheduler,
a delay every event paid at every service of the saga (p99 checkout -> Shipped at 16
orders/s went from 611-786 ms to 319-443 ms without them). The loop waits while a batch
(at most `inbox_max_records`) is applied, or while the database does not answer; the HTTP
server runs on a loop of its own, so health checks and requests go on (see `service.py`).

When a batch fails it is applied again record by record: a record that fails for a
reason of its own is retried with backoff and then dead-lettered; one that fails
because the database is away is retried until it is back (the partition waits, it
does not lose or skip anything).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from opentelemetry.trace import SpanKind
from orderflow_events import Envelope, InvalidRecord, from_record

from orderflow_runtime.context import EventContext, event_context
from orderflow_runtime.dlq import DeadLetter, DeadLetterPublisher
from orderflow_runtime.logs import bound_contextvars, get_logger
from orderflow_runtime.metrics import (
    EVENTS_CONSUMED,
    HANDLER_SECONDS,
    PARTITIONS_ASSIGNED,
    PARTITIONS_REVOKED,
    RETRIES,
)
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from orderflow_runtime.tracing import span
from orderflow_runtime.uow import UnitOfWork

Handler = Callable[[Envelope, UnitOfWork], None]
"""Applies one integration event: loads aggregates from the unit of work and changes them."""

REDRIVEN_HEADER = "orderflow_redriven"
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
log = get_logger(__name__)


def tracking_name(topic: str, partition: int, storeid: str | None) -> str:
    """The name of the position the inbox keeps for a producer's records on a partition."""
    if storeid is None:
        return f"{topic}:{partition}"
    return f"{topic}:{partition}:{storeid}"


@dataclass
class _Item:
    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope | None = None
    invalid: InvalidRecord | None = None

    @property
    def tracking_name(self) -> str:
        """`<topic>:<partition>:<storeid>`, or `<topic>:<partition>` without a storeid."""
        assert self.envelope is not None
        return tracking_name(self.record.topic, self.record.partition, self.envelope.storeid)

    @property
    def position(self) -> tuple[str, int]:
        """The tracking record that says this record was applied.

        Normally the producer's sequence on this topic and partition, in its store. A
        dead letter sent back by `orderflow dlq redrive` is older than that position, so
        it is tracked by its own event id instead (still in the same transaction as its
        effects).
        """
        if any(key == REDRIVEN_HEADER for key, _ in self.record.headers):
            assert self.envelope is not None
            return f"redriven:{self.envelope.id}", 1
        return self.tracking_name, self.sequence

    @property
    def sequence(self) -> int:
        assert self.envelope is not None
        assert self.envelope.sequence is not None
        return self.envelope.sequence

    def dead_letter(self, reason: str, error: str, attempts: int) -> DeadLetter:
        r = self.record
        return DeadLetter(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            key=r.key,
            value=r.value,
            headers=tuple(r.headers),
            reason=reason,
            error=error,
            attempts=attempts,
        )


@dataclass
class _Prepared:
    """A batch applied in memory, waiting for its dead letters and its commit."""

    uow: UnitOfWork
    positions: dict[str, int] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    writes: bool = False
    """Whether the batch has something to record: a handler ran or a record was
    dead-lettered. Else it writes nothing (redelivered, it would change nothing)."""


class _ShutdownError(Exception):
    """Raised to abandon a batch at shutdown; its records are redelivered later."""


class Inbox(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        app: EventStoreApplication,
        handlers: Mapping[str, Handler],
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetterPublisher,
        settings: ServiceSettings,
    ) -> None:
        self._app = app
        self._handlers = handlers
        self._consumer = consumer
        self._dead_letters = dead_letters
        self._settings = settings
        self._service = settings.service_name
        self._positions: dict[str, int] = {}
        self._uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committed_at = -float("inf")  # the first batch commits at once, whatever the uptime
        self._lettered = False
        """A record was dead-lettered since the last offset commit: commit at once (a
        record that cannot be parsed has no position to stop it being lettered twice)."""
        self._stop = asyncio.Event()
        self.applied = 0

    @property
    def assigned(self) -> bool:
        return bool(self._consumer.assignment())

    def subscribe(self, topics: Sequence[str]) -> None:
        self._consumer.subscribe(list(topics), listener=self)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # The batch in hand commits or is redelivered; positions guard either way. The
        # offsets of batches already applied go now, so the next owner starts past them.
        if revoked:
            log.info("partitions revoked", partitions=_names(revoked))
            PARTITIONS_REVOKED.labels(self._service).inc(len(revoked))
            # aiokafka rebalances eagerly: every partition goes, and the gauge reads 0
            held = self._consumer.assignment() - set(revoked)
            PARTITIONS_ASSIGNED.labels(self._service).set(len(held))
        await self._commit_offsets([tp for tp in revoked if tp in self._uncommitted])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        held = self._consumer.assignment()
        PARTITIONS_ASSIGNED.labels(self._service).set(len(held))
        if assigned:
            log.info("partitions assigned", partitions=_names(assigned), held=len(held))
        for tp in assigned:  # another member may have moved these on: re-read them
            prefix = tracking_name(tp.topic, tp.partition, None)  # and any of its storeids
            for name in [n for n in self._positions if n == prefix or n.startswith(f"{prefix}:")]:
                del self._positions[name]

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        try:
            while not stop.is_set():
                batches = await self._consumer.getmany(
                    timeout_ms=200, max_records=self._settings.inbox_max_records
                )
                if batches:
                    records = in_produced_order(batches.values())
                    try:
                        await self.process(records)
                    except _ShutdownError:
                        return
                    for tp, part in batches.items():
                        self._uncommitted[tp] = OffsetAndMetadata(part[-1].offset + 1, "")
                    # getmany returns records it holds without giving the loop a turn:
                    # let the relay publish what this batch saved (and the Kafka client
                    # send its heartbeats) before the next batch.
                    await asyncio.sleep(0)
                due = self._committed_at + self._settings.inbox_commit_interval_s
                if self._uncommitted and (self._lettered or time.monotonic() >= due):
                    await self._commit_offsets(list(self._uncommitted))
        finally:
            await self._commit_offsets(list(self._uncommitted))  # what was applied so far

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a batch: all at once when it can, else record by record."""
        started = time.perf_counter()
        items = [self._parse(record) for record in records]
        lettered: set[tuple[str, int, int]] = set()  # records dead-lettered: never twice
        try:
            prepared = self._prepare(items)
            for letter in prepared.dead_letters:
                await self._publish_letter(letter)
                lettered.add((letter.topic, letter.partition, letter.offset))
            self._commit(prepared)
        except Exception as error:
            log.info("batch failed; applying its records one by one", error=repr(error))
            await self._process_one_by_one(items, lettered)
        HANDLER_SECONDS.labels(self._service).observe(time.perf_counter() - started)

    def _parse(self, record: ConsumerRecord[bytes, bytes]) -> _Item:
        try:
            envelope = from_record(record.key, record.value, record.headers)
        except InvalidRecord as invalid:
            return _Item(record, invalid=invalid)
        if envelope.sequence is None:
            return _Item(record, invalid=InvalidRecord("missing_sequence", "no ce_sequence header"))
        return _Item(record, envelope=envelope)

    def _position(self, name: str) -> int:
        if name not in self._positions:
            self._positions[name] = self._app.position(name)
        return self._positions[name]

    def _prepare(self, items: Sequence[_Item]) -> _Prepared:
        prepared = _Prepared(UnitOfWork(self._app))
        for item in items:
            if item.invalid is not None:
                letter = item.dead_letter(item.invalid.reason, str(item.invalid), 1)
                prepared.dead_letters.append(letter)
                continue
            envelope = item.envelope
            assert envelope is not None
            name, sequence = item.position
            if sequence <= prepared.positions.get(name, self._position(name)):
                prepared.outcomes.append((envelope.type, "duplicate"))
                continue
            outcome = self._apply(envelope, prepared.uow)
            prepared.outcomes.append((envelope.type, outcome))
            prepared.positions[name] = sequence
            prepared.writes = prepared.writes or outcome == "applied"
        return prepared

    def _apply(self, envelope: Envelope, uow: UnitOfWork) -> str:
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return "ignored"
        with (
            bound_contextvars(order_id=envelope.subject, event_id=envelope.id),
            span(
                f"handle {envelope.type}",
                envelope.traceparent,
                SpanKind.CONSUMER,
                **{"messaging.message.id": envelope.id},
            ) as traceparent,
            event_context(EventContext(envelope.id, envelope.correlation_id, traceparent)),
        ):
            handler(envelope, uow)
            log.debug("applied", type=envelope.type)
        return "applied"

    def _commit(self, prepared: _Prepared) -> None:
        if not prepared.writes:  # nothing handled (or all duplicates): nothing to record
            self._count(prepared.outcomes)
            return
        trackings = [Tracking(name, seq) for name, seq in prepared.positions.items()]
        try:
            prepared.uow.commit(trackings)
        except Exception:
            for name in prepared.positions:  # a rival member may have moved on: re-read
                self._positions.pop(name, None)
            raise
        self._positions.update(prepared.positions)
        self._count(prepared.outcomes)

    async def _process_one_by_one(
        self, items: Sequence[_Item], lettered: set[tuple[str, int, int]]
    ) -> None:
        for item in items:
            if item.invalid is not None:
                r = item.record
                if (r.topic, r.partition, r.offset) in lettered:
                    continue
                letter = item.dead_letter(item.invalid.reason, str(item.invalid), 1)
                await self._publish_letter(letter)
                continue
            await self._process_single(item)

    async def _process_single(self, item: _Item) -> None:
        envelope = item.envelope
        assert envelope is not None
        with bound_contextvars(order_id=envelope.subject, event_id=envelope.id):
            await self._retry_single(item)

    async def _retry_single(self, item: _Item) -> None:
        attempts, weight = 0, 0.0
        delay = self._settings.retry_initial_delay_s
        while True:
            try:
                self._apply_and_commit_single(item)
                return
            except INFRASTRUCTURE_ERRORS as error:
                RETRIES.labels(self._service, type(error).__name__).inc()
                log.warning("store unavailable; retrying", error=repr(error), delay_s=delay)
            except Exception as error:
                # A version conflict is another writer winning a race: it weighs a tenth of
                # a failure, so contention between replicas does not dead-letter a record.
                attempts += 1
                weight += 0.1 if isinstance(error, IntegrityError) else 1
                RETRIES.labels(self._service, type(error).__name__).inc()
                if weight >= self._settings.inbox_max_attempts:
                    await self._dead_letter_after_failures(item, error, attempts)
                    return
                log.warning("record failed; retrying", error=repr(error), attempt=attempts)
            if self._stop.is_set():
                raise _ShutdownError
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.retry_max_delay_s)

    def _apply_and_commit_single(self, item: _Item) -> None:
        prepared = self._prepare([item])
        self._commit(prepared)

    async def _dead_letter_after_failures(
        self, item: _Item, error: Exception, attempts: int
    ) -> None:
        envelope = item.envelope
        assert envelope is not None
        with bound_contextvars(order_id=envelope.subject, event_id=envelope.id):
            log.error("record dead-lettered", error=repr(error), attempts=attempts)
        letter = item.dead_letter("handler_failed", f"{type(error).__name__}: {error}", attempts)
        await self._publish_letter(letter)
        prepared = _Prepared(
            UnitOfWork(self._app),
            positions=dict([item.position]),
            outcomes=[(envelope.type, "dead_lettered")],
            writes=True,
        )
        try:
            self._commit(prepared)
        except Exception as commit_error:  # already past it (a rival applied it): fine
            log.warning("could not record dead-lettered position", error=repr(commit_error))

    async def _publish_letter(self, letter: DeadLetter) -> None:
        await self._dead_letters.publish(letter)
        self._lettered = True

    def _count(self, outcomes: Sequence[tuple[str, str]]) -> None:
        for kind, outcome in outcomes:
            EVENTS_CONSUMED.labels(self._service, kind, outcome).inc()
            if outcome == "applied":
                self.applied += 1

    async def _commit_offsets(self, partitions: Sequence[TopicPartition]) -> None:
        """Commit the offsets of applied batches of `partitions` (a failure is logged: the
        records come again, and their positions skip them)."""
        offsets = {tp: self._uncommitted.pop(tp) for tp in partitions if tp in self._uncommitted}
        self._committed_at = time.monotonic()
        self._lettered = self._lettered and bool(self._uncommitted)  # a revoke commits a part
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as error:
            # A rebalance took the partitions; the new owner skips what we applied.
            log.warning("offset commit failed", error=repr(error))


def in_produced_order(
    parts: Iterable[Sequence[ConsumerRecord[bytes, bytes]]],
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of a batch's partitions (of several topics) merged by the time they
    were produced (the record's timestamp), each partition's kept in its own order.

    So a batch is applied in the order its events happened (`orderflow replay` orders
    what it reads with this too), rather than partition by partition: with a gathering
    fetch (OffPathSettings) a batch spans half a second, and the cart would otherwise
    apply an order's StockReserved before the PaymentAuthorized that caused it, and miss
    a stage of its status history.
    """
    return list(heapq.merge(*parts, key=_produced_at))


def _produced_at(record: ConsumerRecord[bytes, bytes]) -> int:
    return int(record.timestamp)


def _names(partitions: Sequence[TopicPartition]) -> str:
    """`topic:partition` of each, sorted: one log field."""
    return ",".join(sorted(f"{tp.topic}:{tp.partition}" for tp in partitions))
