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
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from typing import Protocol
from uuid import UUID

import httpx

from orderflow_notification.rendering import Rendered
from orderflow_notification.settings import NotificationSettings

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_MESSAGES_PER_SESSION = 100  # then a new connection: providers cap messages per session


_POLICY = compat32.clone(linesep="\r\n")
"""How messages are written: the `email` package's classic (compat32) API, which writes
the headers it is given instead of parsing and refolding each one as `EmailMessage`
does (2.6 ms an order confirmation there, 1.05 ms here). It does not refuse line breaks in header
values: `_header_value` does."""
_ADDRESS_HEADERS = frozenset({"From", "To"})
_MAX_LINE = 998  # characters in a line of a message (RFC 5322)


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

    def close(self) -> None:
        """Release connections kept between sends (the dispatcher is stopping)."""


def scrubbed(text: str, recipient: str) -> str:
    """An error text without the recipient (providers like to echo addresses)."""
    if recipient:
        text = re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)
    return _ADDRESS.sub("<address>", text)[:300]


def message_id(notice_id: UUID, domain: str) -> str:
    """The Message-ID of a notice's email: the notice id, so people can correlate."""
    return f"<{notice_id}@{domain}>"


@dataclass
class _Session:
    """An open SMTP connection, after EHLO (and STARTTLS, login), between messages."""

    smtp: smtplib.SMTP
    idle_since: float
    sent: int = 0


class _StaleSessionError(Exception):
    """A kept connection the server had dropped before it took the envelope: nothing was
    handed over, so the message goes again on a new connection at once."""


class EmailTransport:
    """SMTP, keeping connections open between messages: one per concurrent sender, each
    closed after `smtp_keepalive_s` idle, `_MESSAGES_PER_SESSION` messages, or any error
    (a session that failed mid-transaction is never reused). `smtp_keepalive_s` = 0: a
    connection per message."""

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings
        self._idle: list[_Session] = []
        self._lock = threading.Lock()

    def build(self, outgoing: Outgoing) -> bytes:
        """The message as sent: multipart/alternative (the text, then the HTML), CRLF line
        ends; each body 7bit when it is ASCII, else UTF-8 in base64. `DeliveryError`
        (not transient) when it cannot be written."""
        message = MIMEMultipart("alternative")
        headers = {
            "From": self._settings.smtp_from,
            "To": outgoing.recipient,
            "Subject": outgoing.message.subject,
            "Date": format_datetime(datetime.now(UTC)),
            "Message-ID": message_id(outgoing.notice_id, self._settings.message_id_domain),
            "Auto-Submitted": "auto-generated",
        }
        for name, value in headers.items():
            message[name] = _header_value(name, value)
        message.attach(_body_part(outgoing.message.text, "plain"))
        message.attach(_body_part(outgoing.message.html, "html"))
        return message.as_bytes(policy=_POLICY)

    def send(self, outgoing: Outgoing) -> None:
        data = self.build(outgoing)
        kept = self._take()
        if kept is not None:
            try:
                self._transact(kept, data, outgoing.recipient, kept=True)
                return
            except _StaleSessionError:
                pass  # gone while idle: a new connection below
        self._transact(self._open(outgoing.recipient), data, outgoing.recipient, kept=False)

    def close(self) -> None:
        """Quit every idle connection (the service is stopping)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            _quit(session.smtp)

    def _transact(self, session: _Session, data: bytes, recipient: str, *, kept: bool) -> None:
        """One message on `session`; the session goes back to the idle ones if it worked."""
        smtp = session.smtp
        try:
            try:
                self._envelope(smtp, recipient)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if kept:
                    raise _StaleSessionError from None
                raise
            except smtplib.SMTPResponseException as error:
                if kept and error.smtp_code == 421:  # "closing the channel": idle too long
                    raise _StaleSessionError from None
                raise
            self._hand_over(smtp, data, recipient)
        except BaseException as error:
            _quit(smtp)  # never reused after an error: it may be mid-transaction
            if isinstance(error, OSError):
                raise _delivery_error(error, recipient) from None
            raise
        session.sent += 1
        self._give_back(session)

    def _open(self, recipient: str) -> _Session:
        s = self._settings
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
        except OSError as error:
            raise DeliveryError(_describe(error, recipient), transient=True) from None
        try:
            self._handshake(smtp)
        except OSError as error:
            _quit(smtp)
            raise _delivery_error(error, recipient) from None
        return _Session(smtp, time.monotonic())

    def _take(self) -> _Session | None:
        """The most recently used idle session still young enough, if any."""
        now, expired = time.monotonic(), []
        try:
            with self._lock:
                while self._idle:
                    session = self._idle.pop()
                    if now - session.idle_since < self._settings.smtp_keepalive_s:
                        return session
                    expired.append(session)
                return None
        finally:
            for session in expired:
                _quit(session.smtp)

    def _give_back(self, session: _Session) -> None:
        if self._settings.smtp_keepalive_s <= 0 or session.sent >= _MESSAGES_PER_SESSION:
            _quit(session.smtp)
            return
        session.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(session)

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
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=settings.sms_timeout_s)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

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


def _body_part(body: str, subtype: str) -> MIMEText:
    """7bit when ASCII in lines SMTP carries (998 characters at most), else UTF-8 in
    base64."""
    short = body.isascii() and all(len(line) <= _MAX_LINE for line in body.splitlines())
    part = MIMEText(body, subtype, "us-ascii" if short else "utf-8")
    del part["MIME-Version"]  # the message's own header says it once
    return part


def _header_value(name: str, value: str) -> str:
    """`value` as the header `name` is written: as it is when ASCII, else encoded (RFC
    2047). A line break would start a header of the value's choosing: refused."""
    if "\r" in value or "\n" in value:
        raise DeliveryError(f"the {name} header contains a line break", transient=False)
    if value.isascii():
        return value
    if name in _ADDRESS_HEADERS:
        raise DeliveryError(
            f"the {name} address is not ASCII (SMTPUTF8 is not supported)", transient=False
        )
    return Header(value, "utf-8", header_name=name).encode()


def _delivery_error(error: OSError, recipient: str) -> DeliveryError:
    """What an SMTP error means for trying again (before the message was handed over)."""
    if isinstance(error, smtplib.SMTPResponseException):  # an explicit refusal
        return DeliveryError(_describe(error, recipient), transient=400 <= error.smtp_code < 500)
    if isinstance(error, smtplib.SMTPNotSupportedError):  # e.g. no STARTTLS: retrying won't help
        return DeliveryError(_describe(error, recipient), transient=False)
    # refused, timed out, disconnected before the message
    return DeliveryError(_describe(error, recipient), transient=True)


def _quit(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        smtp.quit()
    with contextlib.suppress(Exception):
        smtp.close()


def _describe(error: BaseException, recipient: str) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return scrubbed(f"{type(error).__name__}: {error.smtp_code} {text}", recipient)
    return scrubbed(f"{type(error).__name__}: {error}", recipient)
