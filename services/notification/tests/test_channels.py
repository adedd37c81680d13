"""Email over real SMTP (an in-process aiosmtpd sink) and SMS through a webhook."""

from __future__ import annotations

import json
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
