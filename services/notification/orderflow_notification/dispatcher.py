"""The dispatcher: sends requested notices, at most once each, next to the inbox.

For each pending notice: commit `Claimed` -> render and send (retrying transient errors a
bounded number of times) -> commit `Sent` or `Failed`. Up to `dispatch_concurrency`
notices, of different orders, are being sent at a time; when sends finish, one
transaction records their outcomes and claims the notices that take their places.
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
        """One round over the pending notices; returns how many it found.

        At most `dispatch_concurrency` notices are claimed and not yet recorded at any
        time, each of a different order: that many are being sent at once, and a crash
        leaves at most that many with an unknown outcome. Whenever sends finish, one
        transaction records how they went and claims the next notices for the freed
        places (round robin over the orders found; each order's notices one at a time,
        in request order). So a slow send holds back its own order's notices only.
        """
        turns = _Turns(await asyncio.to_thread(self.pending))
        loop = asyncio.get_running_loop()
        sending: dict[asyncio.Future[SendOutcome], UUID] = {}  # a send -> its notice
        outcomes: list[SendOutcome] = []
        failure: Exception | None = None
        while True:
            wanted: list[UUID] = []
            if not stop.is_set() and failure is None:
                wanted = turns.take(self.settings.dispatch_concurrency - len(sending))
            claimed: list[ClaimedNotice] = []
            if outcomes or wanted:
                try:
                    claimed = await asyncio.to_thread(self._settle, outcomes, wanted)
                except Exception as error:  # stop claiming; record what is being sent
                    log.error("could not record outcomes or claim notices", error=repr(error))
                    failure = error
                outcomes = []
            turns.give_back(set(wanted) - {c.id for c in claimed})
            for notice in claimed:
                sending[loop.run_in_executor(self._senders, self.send, notice)] = notice.id
            if not sending and not wanted:
                break
            if sending:
                done, _ = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    turns.give_back({sending.pop(future)})
                    outcomes.append(future.result())
        if failure is not None:
            raise failure
        return turns.found

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

    def _settle(
        self, outcomes: list[SendOutcome], claim_ids: list[UUID], attempts: int = 5
    ) -> list[ClaimedNotice]:
        """Record outcomes and claim notices; a store hiccup is retried (if it lasts, the
        sent notices stay claimed and the round ends). Every try claims at the same time:
        that is how a try knows the claims of an earlier one that was stored after all."""
        delay, at = 0.2, self.clock()
        for attempt in range(1, attempts + 1):
            try:
                return self.app.settle(outcomes, claim_ids, at)
            except Exception:
                if attempt == attempts:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable: the last attempt raises")


class _Turns:
    """A round's pending notices by order: round robin over the orders, each order's
    notices in request order, one at a time (the next only once the last is given back)."""

    def __init__(self, rows: list[NoticeRow]) -> None:
        self.found = len(rows)
        self._queued: dict[UUID, deque[UUID]] = {}
        self._order_of: dict[UUID, UUID] = {}
        for row in rows:
            self._queued.setdefault(row.order_id, deque()).append(row.notice_id)
            self._order_of[row.notice_id] = row.order_id
        self._ready = deque(self._queued)

    def take(self, places: int) -> list[UUID]:
        """The next notice of up to `places` orders that have none out."""
        taken: list[UUID] = []
        while self._ready and len(taken) < places:
            taken.append(self._queued[self._ready.popleft()].popleft())
        return taken

    def give_back(self, notice_ids: set[UUID]) -> None:
        """These notices are done with (sent, failed, or not ours): their orders go on."""
        for notice_id in notice_ids:
            order_id = self._order_of[notice_id]
            if self._queued[order_id]:
                self._ready.append(order_id)
