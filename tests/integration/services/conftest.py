"""Fixtures for one service at a time on the real broker and PostgreSQL.

`shop` starts services as OS processes (`shop.start("payment")`), publishes
upstream events into their topics (`await shop.publish(event)`) and reads what
they publish (`await shop.wait_for(topic, predicate)`). Each test gets its own
topic namespace and databases, so tests never see each other's events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orderflow_devinfra.shop import ADMIN_KEY, RunningService, Shop, about, any_of

__all__ = ["ADMIN_KEY", "RunningService", "Shop", "about", "any_of"]


@pytest.fixture
def shop(
    kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path
) -> Iterator[Shop]:
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    yield shop
    shop.stop_all()
