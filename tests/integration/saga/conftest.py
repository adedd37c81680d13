"""The whole shop for end-to-end tests: six services as processes, an SMTP sink, seed data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.shop import Shop, mail_and_delivery


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
    try:
        shop.start_all(mail_and_delivery(mail.port))
        yield shop
    finally:
        shop.stop_all()
