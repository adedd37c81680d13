"""The whole shop for end-to-end tests: six services as processes, an SMTP sink, seed data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import SERVICES, Shop, wait_ready


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def whole_shop(
    kafka_bootstrap: str,
    database_url_factory: Callable[[], str],
    tmp_path: Path,
    mail: MailSink,
) -> Iterator[Shop]:
    """All six services on PostgreSQL, mail to the sink, deliveries after one second."""
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    settings = {
        "notification": {"smtp_host": "127.0.0.1", "smtp_port": str(mail.port)},
        "fulfillment": {"delivery_delay_s": "1"},
    }
    try:
        for service in SERVICES:
            shop.launch(service, **settings.get(service, {}))
        for running in shop.services.values():
            wait_ready(running)
        yield shop
    finally:
        shop.stop_all()
