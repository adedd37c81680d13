"""The dispatcher: sends requested notices, at most once each, next to the inbox.

For each pending notice: commit `Claimed` -> render and send (retrying transient errors a
bounded number of times) -> commit `Sent` or `Failed`; the notices of a wave (one per
order, up to `dispatch_concurrency`) share their claim and their outcome transactions.
A notice still claimed when the service starts was being sent when the previous run
stopped: its outcome is unknown, so it is marked failed, never sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID

from orderflow_runtime.logs import bound_contextvars, get_logger
from orderflow_runtime.projections import Projections
from orderflow_runtime.waiting import sleep_unless
from prometheus_client import Counter

from orderflow_notification.application import (
    ClaimedNotice,
    NotificationApplication,
    SendOutcome,
)
from orderflow_notification.channels import DeliveryError, Outgoing, Transport, scrubbed
from orderflow_notification.domain import NoticeStatus
from orderflow_notification.projections import NoticeRow, list_notices
from orderflow_notification.rendering import render
from orderflow_notification.settings import NotificationSettings

log = get_logger(__name__)
NOTICES = Counter(
    "orderflow_notices_total", "Notices dispatched, by channel and outcome", ["channel", "outcome"]
)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        app: NotificationApplication,
        projections: Projections,
        transports: Mapping[str, Transport],
        settings: NotificationSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.app = app
        self.projections = projections
        self.transports = dict(transports)
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        # Sends wait on the mail server: in threads of their own, not the event loop's
        # default pool (a few threads, which the inbox and the read models need too).
        self._senders = ThreadPoolExecutor(
            max_workers=settings.dispatch_concurrency, thread_name_prefix="notice-send"
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop`; no failure ends the loop (it backs off and goes on)."""
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called from the saving thread
            loop.call_soon_threadsafe(self._wake.set)

        self.app.on_saved(wake)
        try:
            await self._dispatch_until(stop)
        finally:
            self._senders.shutdown(wait=False)
            for transport in self.transports.values():
                transport.close()

    async def _dispatch_until(self, stop: asyncio.Event) -> None:
        recovered, delay = False, 0.1
        while not stop.is_set():
            self._wake.clear()
            try:
                if not recovered:
                    await asyncio.to_thread(self.recover)
                    recovered = True
                found = await self.dispatch_pending(stop)
                delay = 0.1
            except Exception as error:
                log.error("dispatch round failed; retrying", error=repr(error), delay_s=delay)
                await sleep_unless(stop, delay)
                delay = min(delay * 2, 5.0)
                continue
            if not found:
                await sleep_unless(stop, self.settings.dispatch_poll_s, self._wake)
                if self._wake.is_set():  # let the saves of a busy moment gather: one round
                    await sleep_unless(stop, 0.05)

    def recover(self) -> int:
        """Mark notices left claimed by an earlier run as failed; returns how many."""
        self.projections.catch_up()
        abandoned = 0
        while rows := list_notices(self.projections.engine, status=NoticeStatus.CLAIMED):
            changed = sum(self.app.abandon_claim(row.notice_id, self.clock()) for row in rows)
            self.projections.catch_up()
            abandoned += changed
            if not changed:
                break
        if abandoned:
            log.warning("claimed notices from an earlier run marked failed", count=abandoned)
        return abandoned

    def pending(self) -> list[NoticeRow]:
        self.projections.catch_up()
        return list_notices(
            self.projections.engine,
            status=NoticeStatus.REQUESTED,
            limit=self.settings.dispatch_batch_size,
        )

    async def dispatch_pending(self, stop: asyncio.Event) -> int:
        """One round, in waves; returns how many pending notices it found.

        A wave takes the next notice of up to `dispatch_concurrency` orders (round robin
        over the orders found), claims them in one transaction, sends them at the same
        time and records their outcomes in one transaction. So each order's notices go
        out one at a time in request order, and at most `dispatch_concurrency` notices
        are claimed but not yet sent when the service dies. A wave waits for its slowest
        send (retries included) before the next one starts.
        """
        rows = await asyncio.to_thread(self.pending)
        by_order: dict[UUID, deque[UUID]] = {}
        for row in rows:
            by_order.setdefault(row.order_id, deque()).append(row.notice_id)
        turns, size = deque(by_order.values()), self.settings.dispatch_concurrency
        while turns and not stop.is_set():
            wave = [turns.popleft() for _ in range(min(len(turns), size))]
            await self.dispatch_wave([notices.popleft() for notices in wave])
            turns.extend(notices for notices in wave if notices)
        return len(rows)

    async def dispatch_wave(self, notice_ids: list[UUID]) -> None:
        """Claim, send, record a wave of notices (of different orders). A notice someone
        else claimed is left alone."""
        claimed = await asyncio.to_thread(self.app.claim_all, notice_ids, self.clock())
        loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(self._senders, self.send, c) for c in claimed)
        )
        if outcomes:
            await asyncio.to_thread(self._record, lambda: self.app.record_outcomes(outcomes))

    def send(self, claimed: ClaimedNotice) -> SendOutcome:
        """Deliver a claimed notice; how it went, to be recorded."""
        with bound_contextvars(order_id=str(claimed.order_id), notice_id=str(claimed.id)):
            attempts, error = self.deliver(claimed)
            if error is None:
                log.info("notice sent", template=claimed.template, channel=claimed.channel)
            else:
                log.warning("notice failed", template=claimed.template, error=error)
        NOTICES.labels(claimed.channel, "sent" if error is None else "failed").inc()
        return SendOutcome(claimed.id, attempts, error, self.clock())

    def deliver(self, claimed: ClaimedNotice) -> tuple[int, str | None]:
        """Send with bounded retries of transient errors; (attempts, error or None)."""
        transport = self.transports.get(claimed.channel)
        if transport is None:
            return 1, f"no transport configured for channel {claimed.channel}"
        try:
            message = render(claimed.template, claimed.context)
        except Exception as error:
            return 1, f"template {claimed.template} failed to render: {type(error).__name__}"
        outgoing = Outgoing(claimed.id, claimed.recipient, message)
        delay = self.settings.send_retry_delay_s
        for attempt in range(1, self.settings.send_max_attempts + 1):
            try:
                transport.send(outgoing)
                return attempt, None
            except DeliveryError as error:
                if not error.transient or attempt == self.settings.send_max_attempts:
                    return attempt, str(error)
                log.info("transient delivery error; retrying", error=str(error), attempt=attempt)
            except Exception as error:  # a bug, not a refusal: it may have sent, so no retry
                return attempt, scrubbed(f"unexpected {type(error).__name__}", claimed.recipient)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable: the last attempt returns")

    def _record(self, write: Callable[[], None], attempts: int = 5) -> None:
        """Record an outcome; a store hiccup is retried (the notice stays claimed if not)."""
        delay = 0.2
        for attempt in range(1, attempts + 1):
            try:
                write()
                return
            except Exception as error:
                if attempt == attempts:
                    log.error("could not record a notice's outcome", error=repr(error))
                    return
                time.sleep(delay)
                delay *= 2
