"""The deadline watcher: a background task over the orders read model.

Each round it finds the orders past their status's deadline that it has not
acted on, and lets each order decide (`Order.enforce_deadline`): before shipment
it asks for cancellation (reason `expired`, once); after shipment it flags the
order overdue (once per status) with a warning log and a metric, never cancels.
The read model may lag a little; the aggregate is the guard against acting twice.
Then it sets the gauges operators watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from orderflow_runtime.logs import get_logger
from orderflow_runtime.projections import Projections
from orderflow_runtime.waiting import sleep_unless
from prometheus_client import Counter, Gauge

from orderflow_cart.application import CartApplication
from orderflow_cart.listings import counts, due_orders
from orderflow_cart.status import DeadlineAction, OrderStatus

log = get_logger(__name__)
Clock = Callable[[], datetime]

# module level: registered once per process, however many services `build` makes
PAST_DEADLINE = Gauge(
    "orderflow_orders_past_deadline", "Orders past the deadline of their status, now."
)
BY_STATE = Gauge("orderflow_orders_by_state", "Orders in each status.", ["state"])
DEADLINE_ACTIONS = Counter(
    "orderflow_order_deadline_actions_total",
    "What the deadline watcher did: cancellation_requested (expired) or flagged_overdue.",
    ["action", "state"],
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeadlineWatcher:
    def __init__(
        self,
        app: CartApplication,
        projections: Projections,
        *,
        poll_s: float,
        counts_every_s: float,
        clock: Clock = utc_now,
    ) -> None:
        self.app = app
        self.projections = projections
        self.poll_s = poll_s
        # The count by status reads every order ever placed: not every round.
        self.counts_every = timedelta(seconds=counts_every_s)
        self.clock = clock
        self._gauges_at: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop`; a failed round is logged and the next one retries."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check, self.clock())
            except Exception as error:
                log.warning("deadline round failed; retrying", error=repr(error))
            await sleep_unless(stop, self.poll_s)

    def check(self, now: datetime) -> dict[UUID, DeadlineAction]:
        """One round: act on every order due by `now`, then update the gauges (if they
        are `counts_every` old)."""
        self.projections.catch_up()
        actions: dict[UUID, DeadlineAction] = {}
        for order_id in due_orders(self.projections.engine, now):
            status, action = self.app.enforce_deadline(order_id, now)
            actions[order_id] = action
            self._report(order_id, status, action)
        if self._gauges_at is None or now - self._gauges_at >= self.counts_every:
            self.update_gauges(now)
            self._gauges_at = now
        return actions

    def update_gauges(self, now: datetime) -> None:
        self.projections.catch_up()  # count what this round did
        past_deadline, states = counts(self.projections.engine, now)
        PAST_DEADLINE.set(past_deadline)
        for state in OrderStatus:
            BY_STATE.labels(state.value).set(states.get(state.value, 0))

    @staticmethod
    def _report(order_id: UUID, status: OrderStatus, action: DeadlineAction) -> None:
        if action is DeadlineAction.NONE:
            return
        DEADLINE_ACTIONS.labels(action.value, status.value).inc()
        if action is DeadlineAction.FLAGGED_OVERDUE:
            log.warning("order overdue", order_id=str(order_id), status=status.value)
        else:
            log.info("order expired; cancellation requested", order_id=str(order_id))
