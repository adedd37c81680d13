"""An SMTP sink on loopback that keeps every message it receives (tests and the demo)."""

from __future__ import annotations

import email
import multiprocessing
import socket
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


class CountingMailSink:
    """`with CountingMailSink() as sink:` -> SMTP on 127.0.0.1:`sink.port`, in a process
    of its own, that only counts what it receives (`sink.count`).

    For load (`make bench`): a sink in the driver's process answers each SMTP command
    only when that busy process gets to it, so the notification service's sends were
    measured waiting on the benchmark itself.
    """

    def __init__(self, start_timeout: float = 30) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._count = context.Value("q", 0)
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve_counting, args=(self.port, self._count, self._stop), daemon=True
        )
        self._start_timeout = start_timeout

    @property
    def count(self) -> int:
        with self._count.get_lock():
            return int(self._count.value)

    def __enter__(self) -> CountingMailSink:
        self._process.start()
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if not self._process.is_alive():
                    break
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"the SMTP sink did not start on port {self.port}")

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class _Counter:
    def __init__(self, count: Any) -> None:
        self.count = count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.count.get_lock():
            self.count.value += 1
        return "250 Message accepted for delivery"


def _serve_counting(port: int, count: Any, stop: Any) -> None:
    controller = Controller(_Counter(count), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        stop.wait()
    finally:
        controller.stop()
