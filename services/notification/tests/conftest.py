"""Fixtures of the notification unit tests: a SQLite store in tmp_path, no Kafka.

`deliver(event)` applies an integration event through the real handlers and a real
unit of work, as the inbox would; `smtp` is an in-process SMTP sink (aiosmtpd).
"""

from __future__ import annotations

import email
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from orderflow_events import Envelope, IntegrationEvent, from_record, to_record
from orderflow_events.samples import sample_events
from orderflow_notification.application import NotificationApplication
from orderflow_notification.channels import Outgoing
from orderflow_notification.dispatcher import Dispatcher
from orderflow_notification.handlers import build_handlers
from orderflow_notification.projections import NoticesView
from orderflow_notification.settings import NotificationSettings
from orderflow_runtime.projections import Projections, read_model_engine
from orderflow_runtime.uow import UnitOfWork


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the shell's NOTIFICATION_* variables."""
    for name in list(os.environ):
        if name.startswith("NOTIFICATION_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> NotificationSettings:
    return NotificationSettings(
        data_dir=tmp_path / "data",
        admin_api_key="secret-key",
        send_retry_delay_s=0,
        sms_webhook_url="http://127.0.0.1:9/sms",
    )


@pytest.fixture
def app(settings: NotificationSettings) -> Iterator[NotificationApplication]:
    application = NotificationApplication(settings)
    yield application
    application.close()


@pytest.fixture
def projections(app: NotificationApplication, settings: NotificationSettings) -> Projections:
    return Projections(app, [NoticesView()], read_model_engine(settings))


def envelope_of(
    event: IntegrationEvent, *, event_id: str | None = None, sequence: int = 1
) -> Envelope:
    record = to_record(
        event, event_id=event_id or str(uuid4()), time=datetime.now(UTC), sequence=sequence
    )
    return from_record(record.key, record.value, record.headers)


Deliver = Callable[..., Envelope]
Make = Callable[..., Any]


@pytest.fixture
def make() -> Make:
    """`make(Shipped, order_id, carrier="ups")`: the contract's sample event of that type."""
    samples = {type(event): event for event in sample_events()}

    def build(kind: type[IntegrationEvent], order_id: UUID, **changes: Any) -> Any:
        return samples[kind].model_copy(update={"order_id": order_id, **changes})

    return build


@pytest.fixture
def envelope() -> Callable[..., Envelope]:
    return envelope_of


@pytest.fixture
def deliver(app: NotificationApplication) -> Deliver:
    """Apply an event with the SMS-enabled handlers in one unit of work; returns its envelope."""
    handlers = build_handlers(sms_enabled=True)

    def apply(event: IntegrationEvent, *, event_id: str | None = None) -> Envelope:
        envelope = envelope_of(event, event_id=event_id)
        uow = UnitOfWork(app)
        handlers[envelope.type](envelope, uow)
        uow.commit()
        return envelope

    return apply


@dataclass
class FakeTransport:
    """Records what it was asked to send; fails with the scripted errors first."""

    errors: list[Exception] = field(default_factory=list)
    sent: list[Outgoing] = field(default_factory=list)
    calls: int = 0
    closed: bool = False

    def send(self, outgoing: Outgoing) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(outgoing)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def email_transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def sms_transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def dispatcher(
    app: NotificationApplication,
    projections: Projections,
    settings: NotificationSettings,
    email_transport: FakeTransport,
    sms_transport: FakeTransport,
) -> Dispatcher:
    transports: dict[str, Any] = {"email": email_transport, "sms": sms_transport}
    return Dispatcher(app, projections, transports, settings)


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives, or refuses on request."""

    def __init__(self, idle_timeout_s: float = 300.0) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.rcpt_reply: str | None = None
        self.sessions = 0  # EHLOs: one per connection
        self.quits = 0
        self._lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, timeout=idle_timeout_s
        )

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self._lock:
            self.sessions += 1
        return responses

    async def handle_QUIT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        with self._lock:
            self.quits += 1
        return "221 Bye"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def body() -> Callable[..., str]:
    """`body(message, "html")`: the decoded text of a received email's part."""

    def text_of(message: Message, subtype: str = "plain") -> str:
        for part in message.walk():
            if part.get_content_type() == f"text/{subtype}":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                text = payload.decode(part.get_content_charset() or "utf-8")
                return text.replace("\r\n", "\n")
        raise AssertionError(f"no text/{subtype} part")

    return text_of
