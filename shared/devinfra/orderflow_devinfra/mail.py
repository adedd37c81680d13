"""An SMTP sink on loopback that keeps every message it receives (tests and the demo)."""

from __future__ import annotations

import email
import threading
import time
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from orderflow_devinfra.shop import free_port


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


class MailSink:
    """`with MailSink() as sink:` -> SMTP on 127.0.0.1:`sink.port`; `sink.messages`."""

    def __init__(self) -> None:
        self.port = free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        with self._collector.lock:
            return list(self._collector.messages)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in str(m.get("To", ""))]

    def wait_for(self, count: int, address: str, timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.2)
        subjects = [m.get("Subject") for m in self.to(address)]
        raise AssertionError(f"{len(subjects)} of {count} mails to {address}: {subjects}")

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()
