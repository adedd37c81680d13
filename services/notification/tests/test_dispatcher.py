"""The dispatcher: claim -> send -> record; at most once, bounded retries, never dies."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from orderflow_events import NotificationFailed, NotificationSent, OrderPlaced, Shipped
from orderflow_notification import content
from orderflow_notification.application import NotificationApplication, SendOutcome
from orderflow_notification.channels import DeliveryError, Outgoing
from orderflow_notification.dispatcher import Dispatcher
from orderflow_notification.domain import UNKNOWN_OUTCOME, Notice, NoticeStatus, notice_id
from orderflow_notification.mapping import to_integration
from orderflow_notification.projections import list_notices
from orderflow_notification.settings import NotificationSettings
from orderflow_runtime.projections import Projections


def confirmation(app: NotificationApplication, order_id: UUID, channel: str = "email") -> Notice:
    found: Notice = app.repository.get(notice_id(order_id, "order_confirmation", channel))
    return found


def published(app: NotificationApplication) -> list[Any]:
    """What the relay would publish: every stored event mapped to its integration event."""
    events = []
    for note in app.process_recorder.select_notifications(start=1, limit=1000):
        mapped = to_integration(app.mapper.to_domain_event(note))
        if mapped is not None:
            events.append(mapped)
    return events


def now() -> datetime:
    return datetime.now(UTC)


def run_round(dispatcher: Dispatcher) -> int:
    return asyncio.run(dispatcher.dispatch_pending(asyncio.Event()))


def test_a_requested_notice_is_rendered_sent_once_and_published(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
) -> None:
    order_id = uuid4()
    placed = deliver(make(OrderPlaced, order_id))

    assert run_round(dispatcher) == 1
    assert run_round(dispatcher) == 0  # nothing pending any more

    [outgoing] = email_transport.sent
    assert outgoing.recipient == "ada@example.com"
    assert outgoing.notice_id == notice_id(order_id, "order_confirmation", "email")
    assert "Total: 53.19 EUR" in outgoing.message.text
    assert "2 x T-shirt (TSHIRT-RED-M) at 19.90 EUR = 39.80 EUR" in outgoing.message.text
    assert confirmation(app, order_id).status == NoticeStatus.SENT
    [sent] = published(app)
    assert isinstance(sent, NotificationSent)
    assert (sent.order_id, sent.template, sent.channel) == (order_id, "order_confirmation", "email")
    assert sent.caused_by == UUID(placed.id)
    assert sent.notification_id == outgoing.notice_id


def test_transient_errors_are_retried_then_sent(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    email_transport.errors = [DeliveryError("421 busy", transient=True)] * 2

    run_round(dispatcher)

    assert email_transport.calls == 3
    assert confirmation(app, order_id).attempts == 3
    assert confirmation(app, order_id).status == NoticeStatus.SENT


def test_retries_are_bounded_then_the_notice_fails_without_the_address(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
    settings: NotificationSettings,
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    email_transport.errors = [DeliveryError("451 greylisted", transient=True)] * 10

    run_round(dispatcher)

    assert email_transport.calls == settings.send_max_attempts == 3
    [failed] = published(app)
    assert isinstance(failed, NotificationFailed)
    assert failed.attempts == 3
    assert failed.error == "451 greylisted"
    assert run_round(dispatcher) == 0  # a failed notice is not tried again


def test_a_permanent_refusal_is_not_retried(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    email_transport.errors = [DeliveryError("550 no such mailbox", transient=False)]

    run_round(dispatcher)

    assert email_transport.calls == 1
    assert confirmation(app, order_id).status == NoticeStatus.FAILED


def test_an_unexpected_transport_error_fails_the_notice_without_retry(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    email_transport.errors = [RuntimeError("ada@example.com broke it")]

    run_round(dispatcher)

    assert email_transport.calls == 1
    [failed] = published(app)
    assert isinstance(failed, NotificationFailed)
    assert "ada@example.com" not in failed.error


def test_sms_goes_to_the_phone_through_its_own_transport(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    sms_transport: Any,
) -> None:
    order_id = uuid4()
    placed = make(OrderPlaced, order_id)
    address = placed.shipping_address.model_copy(update={"phone": "+4479460000"})
    deliver(placed.model_copy(update={"shipping_address": address}))

    run_round(dispatcher)

    [sms] = sms_transport.sent
    assert sms.recipient == "+4479460000"
    assert "confirmed" in sms.message.sms
    assert confirmation(app, order_id, "sms").status == NoticeStatus.SENT


def test_a_claim_left_by_a_crash_is_failed_at_start_and_never_sent(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
) -> None:
    # Given a notice claimed by a run that died before recording the outcome
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    claimed = app.claim(notice_id(order_id, "order_confirmation", "email"), dispatcher.clock())
    assert claimed is not None

    # When the dispatcher starts again
    assert dispatcher.recover() == 1
    run_round(dispatcher)

    # Then it is failed with an unknown outcome, and nothing was sent
    assert email_transport.calls == 0
    [failed] = published(app)
    assert isinstance(failed, NotificationFailed)
    assert failed.error == UNKNOWN_OUTCOME


def test_of_two_dispatchers_only_one_claims_a_notice(
    app: NotificationApplication, settings: NotificationSettings, deliver: Any, make: Any
) -> None:
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    id_ = notice_id(order_id, "order_confirmation", "email")
    rival = NotificationApplication(settings)
    try:
        rival.repository.get(id_)  # the rival has it cached as requested
        assert app.claim(id_, datetime.now(UTC)) is not None
        assert rival.claim(id_, datetime.now(UTC)) is None  # its save is a version conflict
        assert rival.claim(id_, datetime.now(UTC)) is None  # and reloaded: claimed already
    finally:
        rival.close()


def test_shipping_notice_parked_before_the_order_is_sent_once_it_is_known(
    dispatcher: Dispatcher, deliver: Any, make: Any, email_transport: Any
) -> None:
    order_id = uuid4()
    deliver(make(Shipped, order_id, tracking_number="1Z999"))
    assert run_round(dispatcher) == 0

    deliver(make(OrderPlaced, order_id))
    run_round(dispatcher)

    subjects = [o.message.subject for o in email_transport.sent]
    assert len(subjects) == 2
    assert any("has shipped" in s for s in subjects)
    assert any("1Z999" in o.message.text for o in email_transport.sent)


async def test_the_loop_survives_failures_and_keeps_sending(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given a store read that fails once
    calls = {"n": 0}
    pending = dispatcher.pending

    def flaky() -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database away")
        return pending()

    monkeypatch.setattr(dispatcher, "pending", flaky)
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))

    # When the loop runs
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    for _ in range(100):
        if email_transport.sent:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)

    # Then it went on after the failure and sent the notice
    assert calls["n"] >= 2
    assert len(email_transport.sent) == 1


def test_the_transports_close_when_the_dispatcher_stops(
    dispatcher: Dispatcher, deliver: Any, make: Any, email_transport: Any
) -> None:
    deliver(make(OrderPlaced, uuid4()))

    async def run_until_sent() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        for _ in range(1000):  # up to 10 s
            if email_transport.sent:
                break
            await asyncio.sleep(0.01)
        assert not email_transport.closed  # kept open while dispatching
        stop.set()
        await asyncio.wait_for(running, 10)

    asyncio.run(run_until_sent())
    assert email_transport.closed


def test_outcomes_and_the_next_claims_share_a_transaction(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given confirmations of three orders, sent one at a time
    for _ in range(3):
        deliver(make(OrderPlaced, uuid4()))
    saves: list[list[str]] = []
    save = app.save

    def counted(*objs: Any, **kwargs: Any) -> Any:
        saves.append(sorted(type(e).__name__ for o in objs for e in o.pending_events))
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", counted)
    settings = settings.model_copy(update={"dispatch_concurrency": 1})
    dispatcher = Dispatcher(app, projections, {"email": email_transport}, settings)

    # When one round dispatches them
    assert run_round(dispatcher) == 3

    # Then each outcome was recorded in the transaction that claimed the next notice
    assert saves == [["Claimed"], ["Claimed", "Sent"], ["Claimed", "Sent"], ["Sent"]]
    assert len(email_transport.sent) == 3
    assert [type(e) for e in published(app)] == [NotificationSent] * 3


def test_a_round_claims_a_place_for_each_order_in_one_transaction(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given confirmations of three orders, with room for four at once
    for _ in range(3):
        deliver(make(OrderPlaced, uuid4()))
    saves: list[int] = []
    save = app.save

    def counted(*objs: Any, **kwargs: Any) -> Any:
        saves.append(len(objs))
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", counted)

    # When one round dispatches them
    assert run_round(dispatcher) == 3

    # Then one save claimed all three, and the rest recorded how each went
    assert saves[0] == 3
    assert sum(saves[1:]) == 3
    assert len(email_transport.sent) == 3


def test_a_slow_send_holds_back_only_its_own_order(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    deliver: Any,
    make: Any,
) -> None:
    # Given five orders' confirmations, two sent at a time, the first order's send slow
    orders = [uuid4() for _ in range(5)]
    for order_id in orders:
        deliver(make(OrderPlaced, order_id))
    slow = notice_id(orders[0], "order_confirmation", "email")
    others_sent = threading.Event()
    sent: list[UUID] = []

    class SlowForOne:
        """The slow send finishes once the four others went out (or after 10 s)."""

        def send(self, outgoing: Outgoing) -> None:
            if outgoing.notice_id == slow:
                others_sent.wait(10)
            sent.append(outgoing.notice_id)
            if len(sent) == 4 and slow not in sent:
                others_sent.set()

        def close(self) -> None:
            pass

    settings = settings.model_copy(update={"dispatch_concurrency": 2})
    dispatcher = Dispatcher(app, projections, {"email": SlowForOne()}, settings)

    # When one round dispatches them
    assert run_round(dispatcher) == 5

    # Then the other four went through the second place while the slow one was sending
    assert others_sent.is_set()
    assert sent[-1] == slow


def test_each_orders_notices_go_in_request_order_and_at_most_the_concurrency_is_claimed_unsent(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    deliver: Any,
    make: Any,
) -> None:
    # Given three orders, the first with a confirmation and a shipping notice
    first, second, third = uuid4(), uuid4(), uuid4()
    for order_id in (first, second, third):
        deliver(make(OrderPlaced, order_id))
    deliver(make(Shipped, first))
    sent: list[UUID] = []
    claimed_unsent: list[int] = []

    class Watching:
        """Notes, at each send, how many notices are claimed and not yet recorded."""

        def send(self, outgoing: Outgoing) -> None:
            projections.catch_up()
            claimed = list_notices(projections.engine, status=NoticeStatus.CLAIMED)
            claimed_unsent.append(len(claimed) - len(sent))
            sent.append(outgoing.notice_id)

        def close(self) -> None:
            pass

    settings = settings.model_copy(update={"dispatch_concurrency": 2})
    dispatcher = Dispatcher(app, projections, {"email": Watching()}, settings)

    # When one round dispatches them, two at a time
    assert run_round(dispatcher) == 4

    # Then the first order's confirmation went before its shipping notice, and never
    # more than two notices were claimed without an outcome
    assert len(sent) == 4
    assert sent.index(notice_id(first, "order_confirmation", "email")) < sent.index(
        notice_id(first, content.SHIPPING_CONFIRMATION, "email")
    )
    assert max(claimed_unsent) <= 2


def test_claims_leave_out_a_notice_a_rival_claimed_and_the_outcomes_are_recorded(
    app: NotificationApplication, settings: NotificationSettings, deliver: Any, make: Any
) -> None:
    # Given three requested confirmations, all cached as requested by our application
    ids = []
    for _ in range(3):
        order_id = uuid4()
        deliver(make(OrderPlaced, order_id))
        ids.append(notice_id(order_id, "order_confirmation", "email"))
    for id_ in ids:
        app.repository.get(id_)
    rival = NotificationApplication(settings)
    try:
        # And a fourth, ours, that was claimed and sent
        sent_order = uuid4()
        deliver(make(OrderPlaced, sent_order))
        ours = app.settle([], [notice_id(sent_order, "order_confirmation", "email")], now())
        outcome = SendOutcome(ours[0].id, 1, None, now())

        # When a rival claims the second before our next claims do
        assert rival.claim(ids[1], now()) is not None
        claimed = app.settle([outcome], ids, now())
    finally:
        rival.close()

    # Then the version conflict makes each claim on its own: ours are the other two
    assert [c.id for c in claimed] == [ids[0], ids[2]]
    assert app.repository.get(ids[1]).status == NoticeStatus.CLAIMED
    # and the outcome was recorded all the same
    assert app.repository.get(outcome.notice_id).status == NoticeStatus.SENT


def test_sends_run_in_the_dispatchers_own_threads(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    deliver: Any,
    make: Any,
) -> None:
    # Given two pending notices and a transport that notes the thread of each send
    for _ in range(2):
        deliver(make(OrderPlaced, uuid4()))
    threads: list[str] = []

    class Noting:
        def send(self, outgoing: Outgoing) -> None:
            threads.append(threading.current_thread().name)

        def close(self) -> None:
            pass

    # When a round sends them
    run_round(Dispatcher(app, projections, {"email": Noting()}, settings))

    # Then they went out on the dispatcher's threads, not the event loop's shared pool
    # (which the inbox and the read models need while a mail server keeps a send waiting)
    assert len(threads) == 2
    assert all(name.startswith("notice-send") for name in threads), threads


def refuse_outcomes(app: NotificationApplication, monkeypatch: Any, times: int) -> list[int]:
    """The store refuses the next `times` transactions that record outcomes; returns
    [how many refusals are left]."""
    left = [times]
    settle = app.settle

    def refusing(outcomes: Any, claim_ids: Any, at: datetime) -> Any:
        if outcomes and left[0]:
            left[0] -= 1
            raise ConnectionError("database away")
        return settle(outcomes, claim_ids, at)

    monkeypatch.setattr(app, "settle", refusing)
    return left


def test_a_store_hiccup_while_recording_is_retried_and_the_outcome_kept(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given a confirmation, and a store that refuses the transaction recording its outcome
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    left = refuse_outcomes(app, monkeypatch, times=1)

    # When a round dispatches it
    assert run_round(dispatcher) == 1

    # Then it was sent once, and recorded as sent on the second try
    assert left == [0]
    assert len(email_transport.sent) == 1
    assert confirmation(app, order_id).status == NoticeStatus.SENT


def test_a_lasting_store_failure_ends_the_round_and_the_notice_is_never_sent_again(
    app: NotificationApplication,
    dispatcher: Dispatcher,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given a confirmation, and a store that keeps refusing to record outcomes
    order_id = uuid4()
    deliver(make(OrderPlaced, order_id))
    left = refuse_outcomes(app, monkeypatch, times=1_000)
    monkeypatch.setattr("orderflow_notification.dispatcher.time.sleep", lambda _: None)

    # When a round sends it, then cannot record it
    with pytest.raises(ConnectionError):
        run_round(dispatcher)

    # Then it stays claimed: the next start fails it (unknown outcome), never re-sends it
    assert confirmation(app, order_id).status == NoticeStatus.CLAIMED
    left[0] = 0
    assert dispatcher.recover() == 1
    assert run_round(dispatcher) == 0
    assert len(email_transport.sent) == 1
    assert confirmation(app, order_id).status == NoticeStatus.FAILED
    [failed] = [e for e in published(app) if isinstance(e, NotificationFailed)]
    assert failed.error == UNKNOWN_OUTCOME


def test_a_connection_lost_at_commit_loses_neither_the_outcome_nor_the_next_claim(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    deliver: Any,
    make: Any,
    email_transport: Any,
    monkeypatch: Any,
) -> None:
    # Given confirmations of two orders, sent one at a time, and a store whose first
    # transaction recording an outcome (with the next claim) commits, then reports an error
    orders = [uuid4(), uuid4()]
    for order_id in orders:
        deliver(make(OrderPlaced, order_id))
    put, lost = app.events.put, [1]

    def committed_then_lost(events: Any, **kwargs: Any) -> Any:
        stored = put(events, **kwargs)
        if lost[0] and any(type(e).__name__ == "Sent" for e in events):
            lost[0] = 0
            raise ConnectionError("connection lost at commit")
        return stored

    monkeypatch.setattr(app.events, "put", committed_then_lost)
    monkeypatch.setattr("orderflow_notification.dispatcher.time.sleep", lambda _: None)
    settings = settings.model_copy(update={"dispatch_concurrency": 1})
    dispatcher = Dispatcher(app, projections, {"email": email_transport}, settings)

    # When one round dispatches them (the retry finds its first try stored)
    assert run_round(dispatcher) == 2

    # Then both were sent once and recorded as sent: none is left claimed, none failed
    assert lost == [0]
    assert len(email_transport.sent) == 2
    assert [confirmation(app, o).status for o in orders] == [NoticeStatus.SENT] * 2
    assert [type(e) for e in published(app)] == [NotificationSent] * 2
    assert dispatcher.recover() == 0
