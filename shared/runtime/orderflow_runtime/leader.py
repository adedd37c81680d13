"""One relay per service, however many replicas run: leadership by a PostgreSQL advisory lock.

Replicas of a service share its store. Each runs a relay, but only the holder of
the service's advisory lock publishes; the others wait and take over within a few
seconds when the holder's connection goes (the lock goes with it). On SQLite there
is one process per store, which is always the leader.
"""

from __future__ import annotations

import asyncio

import psycopg

from orderflow_runtime.logs import get_logger
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.waiting import sleep_unless

log = get_logger(__name__)
RETRY_S = 2.0


class Leadership:
    def __init__(self, settings: ServiceSettings, role: str = "relay") -> None:
        self._url = settings.database_url.get_secret_value() if settings.database_url else None
        self._key = f"orderflow:{settings.service_name}:{role}"
        self._leader = self._url is None
        self.changed = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        return self._leader

    async def run(self, stop: asyncio.Event) -> None:
        """Hold (or keep trying for) the lock until `stop`."""
        if self._url is None:
            await stop.wait()  # the only process on its SQLite store: always the leader
            return
        while not stop.is_set():
            try:
                await self._hold(stop)
            except (psycopg.Error, OSError) as error:
                log.warning("leadership lost or not reachable", error=repr(error))
            self._set(False)
            await sleep_unless(stop, RETRY_S)

    async def _hold(self, stop: asyncio.Event) -> None:
        assert self._url is not None
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            while not stop.is_set():
                cursor = await conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))", (self._key,)
                )
                row = await cursor.fetchone()
                if row and row[0]:
                    self._set(True)
                    while not stop.is_set():  # a dead connection ends the hold
                        await (await conn.execute("SELECT 1")).fetchone()
                        await sleep_unless(stop, RETRY_S)
                    return
                await sleep_unless(stop, RETRY_S)

    def _set(self, leader: bool) -> None:
        if leader != self._leader:
            log.info("leadership", role=self._key, leader=leader)
            self._leader = leader
            self.changed.set()
