"""How notices leave the service: email over SMTP, SMS through a webhook.

A transport raises `DeliveryError`; `transient` says whether trying again is safe.
It is safe only when the provider cannot have accepted the message (no connection,
or an explicit 4xx refusal); a connection lost while the message was being handed
over has an unknown outcome and is never retried (at most once).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Protocol
from uuid import UUID

import httpx

from orderflow_notification.rendering import Rendered
from orderflow_notification.settings import NotificationSettings

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


@dataclass(frozen=True)
class Outgoing:
    notice_id: UUID
    recipient: str
    message: Rendered


class DeliveryError(Exception):
    def __init__(self, error: str, *, transient: bool) -> None:
        super().__init__(error)
        self.transient = transient


class Transport(Protocol):
    def send(self, outgoing: Outgoing) -> None: ...


def scrubbed(text: str, recipient: str) -> str:
    """An error text without the recipient (providers like to echo addresses)."""
    if recipient:
        text = re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)
    return _ADDRESS.sub("<address>", text)[:300]


def message_id(notice_id: UUID, domain: str) -> str:
    """The Message-ID of a notice's email: the notice id, so people can correlate."""
    return f"<{notice_id}@{domain}>"


class EmailTransport:
    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    def build(self, outgoing: Outgoing) -> EmailMessage:
        message = EmailMessage(policy=SMTP)
        message["From"] = self._settings.smtp_from
        message["To"] = outgoing.recipient
        message["Subject"] = outgoing.message.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id(outgoing.notice_id, self._settings.message_id_domain)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(outgoing.message.text)
        message.add_alternative(outgoing.message.html, subtype="html")
        return message

    def send(self, outgoing: Outgoing) -> None:
        s, recipient = self._settings, outgoing.recipient
        data = self.build(outgoing).as_bytes()
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
        except OSError as error:
            raise DeliveryError(_describe(error, recipient), transient=True) from None
        try:
            self._handshake(smtp)
            self._envelope(smtp, recipient)
            self._hand_over(smtp, data, recipient)
        except smtplib.SMTPResponseException as error:  # an explicit refusal: not accepted
            transient = 400 <= error.smtp_code < 500
            raise DeliveryError(_describe(error, recipient), transient=transient) from None
        except smtplib.SMTPNotSupportedError as error:  # e.g. no STARTTLS: retrying won't help
            raise DeliveryError(_describe(error, recipient), transient=False) from None
        except OSError as error:  # refused, timed out, disconnected before the message
            raise DeliveryError(_describe(error, recipient), transient=True) from None
        finally:
            with contextlib.suppress(Exception):
                smtp.quit()

    def _handshake(self, smtp: smtplib.SMTP) -> None:
        s = self._settings
        smtp.ehlo()
        if s.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            smtp.login(s.smtp_username, password)

    def _envelope(self, smtp: smtplib.SMTP, recipient: str) -> None:
        code, reply = smtp.mail(self._settings.smtp_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self._settings.smtp_from)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, reply)

    def _hand_over(self, smtp: smtplib.SMTP, data: bytes, recipient: str) -> None:
        try:
            smtp.data(data)
        except smtplib.SMTPResponseException:
            raise
        except OSError as error:
            text = "connection lost while handing over the message; outcome unknown: "
            raise DeliveryError(text + _describe(error, recipient), transient=False) from None


class SmsTransport:
    """POSTs `{"to": phone, "text": sms}` to the webhook, with the notice id as idempotency key."""

    def __init__(self, settings: NotificationSettings, client: httpx.Client | None = None) -> None:
        assert settings.sms_webhook_url is not None
        self._url = settings.sms_webhook_url
        self._client = client or httpx.Client(timeout=settings.sms_timeout_s)

    def send(self, outgoing: Outgoing) -> None:
        body = {"to": outgoing.recipient, "text": outgoing.message.sms}
        headers = {"Idempotency-Key": str(outgoing.notice_id)}
        try:
            response = self._client.post(self._url, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # never reached the provider
            raise DeliveryError(_describe(error, outgoing.recipient), transient=True) from None
        except httpx.HTTPError as error:
            text = "SMS webhook call interrupted; outcome unknown: "
            text += _describe(error, outgoing.recipient)
            raise DeliveryError(text, transient=False) from None
        if response.status_code >= 300:
            transient = response.status_code in (429, 503)
            error_text = f"SMS webhook answered HTTP {response.status_code}"
            raise DeliveryError(error_text, transient=transient)


def _describe(error: BaseException, recipient: str) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return scrubbed(f"{type(error).__name__}: {error.smtp_code} {text}", recipient)
    return scrubbed(f"{type(error).__name__}: {error}", recipient)
