"""Email over real SMTP (an in-process aiosmtpd sink) and SMS through a webhook."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.header import decode_header, make_header
from typing import Any
from uuid import uuid4

import httpx
import pytest
from orderflow_notification.channels import (
    DeliveryError,
    EmailTransport,
    Outgoing,
    SmsTransport,
    scrubbed,
)
from orderflow_notification.rendering import Rendered
from orderflow_notification.settings import NotificationSettings

from .conftest import SmtpSink

MESSAGE = Rendered(
    subject="Your order 0B8E6F3E is confirmed",
    text="Total: 53.19 EUR\n",
    html="<p>Total: <b>53.19 EUR</b></p>\n",
    sms="orderflow: order 0B8E6F3E confirmed",
)


def email_settings(settings: NotificationSettings, port: int) -> NotificationSettings:
    return settings.model_copy(update={"smtp_port": port, "smtp_timeout_s": 5.0})


def test_an_email_arrives_with_both_bodies_and_a_message_id_from_the_notice(
    settings: NotificationSettings, smtp: Any, body: Any
) -> None:
    notice_id = uuid4()
    EmailTransport(email_settings(settings, smtp.port)).send(
        Outgoing(notice_id, "ada@example.com", MESSAGE)
    )

    [message] = smtp.messages
    assert smtp.recipients == [["ada@example.com"]]
    assert message["Message-ID"] == f"<{notice_id}@orderflow.dev>"
    assert message["Subject"] == MESSAGE.subject
    assert message["From"] == "orders@orderflow.dev"
    assert body(message) == MESSAGE.text
    assert body(message, "html") == MESSAGE.html


def test_text_beyond_ascii_or_long_lines_arrives_intact(
    settings: NotificationSettings, smtp: Any, body: Any
) -> None:
    message = Rendered(
        subject="Zoë, your order 0B8E6F3E is confirmed",
        text="Hallo Zoë,\nTotal: 53.19 EUR\n",
        html="<p>" + "x" * 1200 + "</p>\n",  # a line longer than SMTP carries as it is
        sms="",
    )
    EmailTransport(email_settings(settings, smtp.port)).send(
        Outgoing(uuid4(), "zoe@example.com", message)
    )

    [received] = smtp.messages
    assert str(make_header(decode_header(received["Subject"]))) == message.subject
    assert body(received) == message.text
    assert body(received, "html") == message.html
    assert all(len(line) <= 998 for line in received.as_string().splitlines())


@pytest.mark.parametrize(
    ("recipient", "subject", "reason"),
    [
        ("ada@example.com", "Order 0B8E6F3E\r\nBcc: all@example.com", "line break"),
        ("zoë@example.com", "Order 0B8E6F3E", "not ASCII"),
    ],
    ids=["header-injection", "non-ascii-address"],
)
def test_a_message_that_cannot_be_written_safely_is_refused_for_good(
    settings: NotificationSettings, smtp: Any, recipient: str, subject: str, reason: str
) -> None:
    message = Rendered(subject=subject, text="Hello\n", html="<p>Hello</p>\n", sms="")

    with pytest.raises(DeliveryError) as raised:
        EmailTransport(email_settings(settings, smtp.port)).send(
            Outgoing(uuid4(), recipient, message)
        )

    assert raised.value.transient is False
    assert reason in str(raised.value)
    assert recipient not in str(raised.value)
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("reply", "transient"), [("450 mailbox busy", True), ("550 unknown", False)]
)
def test_a_refused_recipient_is_transient_or_not_by_its_code(
    settings: NotificationSettings, smtp: Any, reply: str, transient: bool
) -> None:
    smtp.rcpt_reply = f"{reply} <ada@example.com>"

    with pytest.raises(DeliveryError) as raised:
        EmailTransport(email_settings(settings, smtp.port)).send(
            Outgoing(uuid4(), "ada@example.com", MESSAGE)
        )

    assert raised.value.transient is transient
    assert reply.split()[0] in str(raised.value)
    assert "ada@example.com" not in str(raised.value)
    assert smtp.messages == []


def send_to(transport: EmailTransport, recipient: str = "ada@example.com") -> None:
    transport.send(Outgoing(uuid4(), recipient, MESSAGE))


def test_emails_share_a_kept_connection_until_close(
    settings: NotificationSettings, smtp: Any
) -> None:
    transport = EmailTransport(email_settings(settings, smtp.port))
    for _ in range(3):
        send_to(transport)
    assert (len(smtp.messages), smtp.sessions, smtp.quits) == (3, 1, 0)
    transport.close()
    wait_for(lambda: smtp.quits == 1)


def test_a_connection_per_email_when_keepalive_is_zero(
    settings: NotificationSettings, smtp: Any
) -> None:
    keepalive_off = email_settings(settings, smtp.port).model_copy(update={"smtp_keepalive_s": 0})
    transport = EmailTransport(keepalive_off)
    send_to(transport)
    send_to(transport)
    assert (len(smtp.messages), smtp.sessions) == (2, 2)
    wait_for(lambda: smtp.quits == 2)


def test_an_idle_connection_past_keepalive_is_quit_and_replaced(
    settings: NotificationSettings, smtp: Any
) -> None:
    short = email_settings(settings, smtp.port).model_copy(update={"smtp_keepalive_s": 0.05})
    transport = EmailTransport(short)
    send_to(transport)
    time.sleep(0.1)
    send_to(transport)
    assert (len(smtp.messages), smtp.sessions) == (2, 2)
    wait_for(lambda: smtp.quits == 1)


def test_a_connection_the_server_dropped_is_replaced_without_an_error(
    settings: NotificationSettings,
) -> None:
    impatient = SmtpSink(idle_timeout_s=0.1).start()  # closes a connection idle for 0.1 s
    try:
        transport = EmailTransport(email_settings(settings, impatient.port))
        send_to(transport)
        time.sleep(0.3)  # the kept connection is closed under the transport
        send_to(transport)
        assert (len(impatient.messages), impatient.sessions) == (2, 2)
    finally:
        impatient.stop()


def test_a_refused_email_does_not_leave_its_connection_for_the_next(
    settings: NotificationSettings, smtp: Any
) -> None:
    transport = EmailTransport(email_settings(settings, smtp.port))
    smtp.rcpt_reply = "550 unknown <ada@example.com>"
    with pytest.raises(DeliveryError):
        send_to(transport)
    smtp.rcpt_reply = None
    send_to(transport)
    assert (len(smtp.messages), smtp.sessions) == (1, 2)


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """The sink counts in its own thread: give it a moment."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_no_server_is_a_transient_error(settings: NotificationSettings) -> None:
    with pytest.raises(DeliveryError) as raised:
        EmailTransport(email_settings(settings, 9)).send(Outgoing(uuid4(), "a@b.example", MESSAGE))

    assert raised.value.transient


def test_scrubbed_removes_the_recipient_and_any_address() -> None:
    text = scrubbed("550 <Ada@Example.com> unknown; cc bob@example.org", "ada@example.com")
    assert "example.com" not in text.lower()
    assert "bob@" not in text


def sms_with(settings: NotificationSettings, answer: Any) -> tuple[SmsTransport, list[Any]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request) if callable(answer) else httpx.Response(answer)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return SmsTransport(settings, client), seen


def test_sms_posts_to_and_text_with_the_notice_id_as_idempotency_key(
    settings: NotificationSettings,
) -> None:
    transport, seen = sms_with(settings, 202)
    notice_id = uuid4()

    transport.send(Outgoing(notice_id, "+4479460000", MESSAGE))

    [request] = seen
    assert str(request.url) == settings.sms_webhook_url
    assert json.loads(request.content) == {"to": "+4479460000", "text": MESSAGE.sms}
    assert request.headers["Idempotency-Key"] == str(notice_id)


@pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (400, False)])
def test_sms_errors_by_status(settings: NotificationSettings, status: int, transient: bool) -> None:
    transport, _ = sms_with(settings, status)

    with pytest.raises(DeliveryError) as raised:
        transport.send(Outgoing(uuid4(), "+4479460000", MESSAGE))

    assert raised.value.transient is transient


def test_an_sms_call_cut_off_midway_is_not_retried(settings: NotificationSettings) -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    transport, _ = sms_with(settings, cut)

    with pytest.raises(DeliveryError) as raised:
        transport.send(Outgoing(uuid4(), "+4479460000", MESSAGE))

    assert not raised.value.transient
    assert "outcome unknown" in str(raised.value)
