"""Read models kept from a service's own stored events (SQLAlchemy tables).

A `ReadModel` declares its tables and how one domain event changes them.
`Projections` follows the store's notification log and applies each new event to
each read model, committing the tables' changes and the read model's position in
one transaction, so a crash never applies an event twice or skips one. A read model
can be rebuilt from the store at any time (`rebuild`), and an endpoint that must
see its own write calls `catch_up()` first.

Tables live beside the store: in the same PostgreSQL database, or in a
`<service>-read.sqlite` file next to the SQLite store.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
)
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError

from orderflow_runtime.logs import get_logger
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from orderflow_runtime.waiting import sleep_unless

log = get_logger(__name__)
_positions_metadata = MetaData()
positions_table = Table(
    "projection_positions",
    _positions_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


class ReadModel(ABC):
    """Tables plus a projector. `name` keys the position; `metadata` holds the tables."""

    name: ClassVar[str]
    metadata: ClassVar[MetaData]

    @abstractmethod
    def project(self, domain_event: Any, conn: Connection) -> None:
        """Apply one stored domain event (ignore those the model does not care about)."""


def read_model_engine(settings: ServiceSettings) -> Engine:
    """The engine of the service's read models, beside its event store."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.data_dir / f"{settings.service_name}-read.sqlite"
        return create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    url = settings.database_url.get_secret_value()
    url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


class Projections:
    def __init__(
        self,
        app: EventStoreApplication,
        models: Sequence[ReadModel],
        engine: Engine,
        *,
        batch_size: int = 1000,
    ) -> None:
        self.app = app
        self.models = list(models)
        self.engine = engine
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self.setup()

    def setup(self) -> None:
        _positions_metadata.create_all(self.engine)
        for model in self.models:
            model.metadata.create_all(self.engine)
        self._ensure_position_rows()

    def _ensure_position_rows(self) -> None:
        """A row per read model, so that a batch can lock it (FOR UPDATE) before reading."""
        for model in self.models:
            try:
                with self.engine.begin() as conn:
                    conn.execute(positions_table.insert().values(name=model.name, position=0))
            except IntegrityError:
                pass  # already there (or another replica just made it)

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sql_select(positions_table)).all()
        known = {name: position for name, position in rows}
        return {model.name: known.get(model.name, 0) for model in self.models}

    def catch_up(self) -> int:
        """Apply every stored event not yet projected; returns how many were read."""
        with self._lock:
            total = 0
            while read := self._project_next_batch():
                total += read
            return total

    def rebuild(self) -> int:
        """Drop and refill every read model from the store; returns the events read."""
        with self._lock:
            for model in self.models:
                model.metadata.drop_all(self.engine)
                model.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                conn.execute(
                    positions_table.delete().where(
                        positions_table.c.name.in_([m.name for m in self.models])
                    )
                )
            self._ensure_position_rows()
        return self.catch_up()

    def _project_next_batch(self) -> int:
        with self.engine.begin() as conn:
            # Lock the positions: replicas sharing the read models take turns, and each
            # sees what the previous one projected (no event is applied twice).
            rows = conn.execute(
                sql_select(positions_table)
                .where(positions_table.c.name.in_([m.name for m in self.models]))
                .with_for_update()
            ).all()
            known = {name: position for name, position in rows}
            positions = {model.name: known.get(model.name, 0) for model in self.models}
            notifications = self.app.process_recorder.select_notifications(
                start=min(positions.values(), default=0),
                limit=self._batch_size,
                inclusive_of_start=False,
            )
            if not notifications:
                return 0
            for notification in notifications:
                domain_event = self.app.mapper.to_domain_event(notification)
                for model in self.models:
                    if notification.id > positions[model.name]:
                        model.project(domain_event, conn)
            last = notifications[-1].id
            for model in self.models:
                _save_position(conn, model.name, last)
        return len(notifications)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle_poll_s: float = 0.2) -> None:
        """Keep the read models current until `stop` is set."""
        while not stop.is_set():
            try:
                read = await asyncio.to_thread(self.catch_up)
            except Exception as error:  # keep projecting after a failure; positions are safe
                log.warning("projection failed, retrying", error=repr(error))
                await sleep_unless(stop, 1.0)
                continue
            if not read:
                self._wake.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._wake.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=idle_poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()


def _save_position(conn: Connection, name: str, position: int) -> None:
    updated = conn.execute(
        positions_table.update().where(positions_table.c.name == name).values(position=position)
    )
    if updated.rowcount == 0:
        conn.execute(positions_table.insert().values(name=name, position=position))
