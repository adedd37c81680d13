"""The counting SMTP sink of the benchmark: a process of its own that counts mails."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

import pytest
from orderflow_devinfra.mail import CountingMailSink


def test_the_counting_sink_counts_what_it_accepts_and_stops() -> None:
    with CountingMailSink() as sink:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "x"
        message.set_content("hello")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            smtp.send_message(message)
            smtp.send_message(message)
        assert sink.count == 2
    with pytest.raises(ConnectionRefusedError):  # nothing listens any more
        socket.create_connection(("127.0.0.1", sink.port), timeout=2).close()
