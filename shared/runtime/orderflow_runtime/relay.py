"""The outbox relay: publishes a service's stored events to Kafka, in notification order.

The store's notification log is the outbox. Each stored event that maps to an
integration event is published keyed by its order id (or sku) with an idempotent
producer; the relay's position is saved only after the broker acknowledged the
whole batch, and at most once per `save_position_every_s` (a transaction per batch
was a large share of a busy service's commits): the position of a quiet moment is saved
at the next poll, and on a clean stop. After a crash it resumes from the saved
position: it may publish again what it published since (consumers drop those by
`sequence`), it never skips one. Each record
carries the store's id (`storeid`) too: a new store starts its sequence again at 1.

Its reads of the store run on the event loop's thread, as the inbox's do (see there why).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import Tracking
from orderflow_events import IntegrationEvent, KafkaRecord, to_record

from orderflow_runtime.context import context_of
from orderflow_runtime.leader import Leadership
from orderflow_runtime.logs import get_logger
from orderflow_runtime.metrics import EVENTS_PUBLISHED, RELAY_BACKLOG, RELAY_POSITION
from orderflow_runtime.store import RELAY_TRACKING_NAME, EventStoreApplication
from orderflow_runtime.waiting import sleep_unless

IntegrationMapper = Callable[[Any], IntegrationEvent | None]
"""Maps one stored domain event to the integration event it publishes, or None (private)."""

_EVENT_ID_NAMESPACE = uuid.UUID("6f1c1a52-3c1e-4c59-9a57-2f1e3f0b6c11")
log = get_logger(__name__)


def event_id_of(source: str, originator_id: object, version: int) -> str:
    """The ce_id of a stored event: stable, so a re-published event keeps its id."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{source}/{originator_id}/{version}"))


class OutboxRelay:
    def __init__(
        self,
        app: EventStoreApplication,
        to_integration: IntegrationMapper,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 1000,
        idle_poll_s: float = 0.05,
        leadership: Leadership | None = None,
        save_position_every_s: float = 0.0,
    ) -> None:
        self._app = app
        self._to_integration = to_integration
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._leadership = leadership
        self._service = app.settings.service_name
        self._position: int | None = None
        self._save_every_s = save_position_every_s
        self._saved_position: int | None = None
        self._saved_at = -float("inf")
        self._store_id: str | None = None
        self._wake = asyncio.Event()
        self._at_head = False
        """Whether the last batch read to the end of the log (fewer than `batch_size`)."""
        self.published = 0
        self.consecutive_failures = 0

    @property
    def healthy(self) -> bool:
        """False after repeated failures (broker away, or an event that cannot be mapped)."""
        return self.consecutive_failures < 5

    def wake(self) -> None:
        """Tell the relay new events were stored (thread-safe via `call_soon_threadsafe`)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; transient broker or database errors are retried."""
        delay = 0.1
        while not stop.is_set():
            if self._leadership is not None and not self._leadership.is_leader:
                self._position = None  # another replica publishes; re-read when we lead
                await sleep_unless(stop, 0.5)
                continue
            self._wake.clear()  # before reading: a save from now on wakes the next sleep
            try:
                published = await self.publish_next_batch()
                delay = 0.1
                self.consecutive_failures = 0
            except Exception as error:  # keep relaying after any failure; position is safe
                self.consecutive_failures += 1
                log.warning("relay batch failed, retrying", error=repr(error), delay_s=delay)
                self._position = None  # re-read the saved position before the next try
                await sleep_unless(stop, delay)
                delay = min(delay * 2, 5.0)
                continue
            if published == 0 or self._at_head:
                # At the head: a save since the read set the wake (read again at once);
                # else wait for one, or for the poll that finds other replicas' saves.
                self._save_due_position()
                await sleep_unless(stop, self._idle_poll_s, self._wake)
        self._save_position_on_stop()

    def _save_due_position(self, *, now: bool = False) -> None:
        """Save a position not yet saved, once `save_position_every_s` has passed (or
        `now`)."""
        if self._position is None or self._position == self._saved_position:
            return
        if not now and time.monotonic() - self._saved_at < self._save_every_s:
            return
        position = self._position
        self._app.record_position(Tracking(RELAY_TRACKING_NAME, position))
        self._saved_position, self._saved_at = position, time.monotonic()

    def _save_position_on_stop(self) -> None:
        try:
            self._save_due_position(now=True)
        except Exception as error:  # the next start publishes those events again: no loss
            log.warning("relay position not saved on stop", error=repr(error))

    async def publish_next_batch(self) -> int:
        """Publish the next batch of stored events; returns how many stored events it covered."""
        if self._store_id is None:
            self._store_id = self._app.store_id()
        if self._position is None:
            self._position = self._app.position(RELAY_TRACKING_NAME)
            self._saved_position = self._position
        start = self._position
        last_id, records, self._at_head = self._read_batch(start, self._store_id)
        if last_id == start:
            RELAY_BACKLOG.labels(self._service).set(0)
            return 0
        futures = [
            await self._producer.send(
                self._app.settings.topic(record.topic),
                value=record.value,
                key=record.key,
                headers=record.headers,
            )
            for record in records
        ]
        await asyncio.gather(*futures)
        self._position = last_id  # acknowledged: saved now, or with a later batch
        self._save_due_position()
        self.published += len(records)
        RELAY_POSITION.labels(self._service).set(last_id)
        for record in records:
            EVENTS_PUBLISHED.labels(self._service, _header(record, "ce_type")).inc()
        return last_id - start

    def _read_batch(self, after: int, store_id: str) -> tuple[int, list[KafkaRecord], bool]:
        """The records of the stored events after `after`: (last id read, records, whether
        the read reached the end of the log)."""
        recorder = self._app.process_recorder
        notifications = recorder.select_notifications(
            start=after, limit=self._batch_size, inclusive_of_start=False
        )
        records: list[KafkaRecord] = []
        last_id = after
        source = f"/services/{self._service}"
        for notification in notifications:
            last_id = notification.id
            domain_event: Any = self._app.mapper.to_domain_event(notification)
            integration_event = self._to_integration(domain_event)
            if integration_event is None:
                continue
            context = context_of(domain_event)
            records.append(
                to_record(
                    integration_event,
                    event_id=event_id_of(
                        source, notification.originator_id, notification.originator_version
                    ),
                    time=domain_event.timestamp,
                    causation_id=context.causation_id,
                    correlation_id=context.correlation_id,
                    traceparent=context.traceparent,
                    sequence=notification.id,
                    storeid=store_id,
                )
            )
        at_head = len(notifications) < self._batch_size
        if at_head:
            RELAY_BACKLOG.labels(self._service).set(0)  # read to the end: no query needed
        else:
            backlog = (recorder.max_notification_id() or 0) - last_id
            RELAY_BACKLOG.labels(self._service).set(backlog)
        return last_id, records, at_head


def _header(record: KafkaRecord, name: str) -> str:
    for key, value in record.headers:
        if key == name:
            return value.decode()
    return ""
