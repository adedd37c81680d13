"""The sandbox carriers' side of delivery: each parcel is confirmed `delay_s` after it
shipped, by a call to our own carrier webhook, as a real carrier would call it.

What is due comes from the shipments read model, so parcels shipped before a
restart are still confirmed after it. The webhook ignores repeats, so a call that
is made twice (a crash after the call, before the read model caught up) is harmless.
Like a real carrier's, the calls of parcels due together arrive at the same time (at most
`CONCURRENT_CALLS`), not one after another. They go through aiohttp: httpx's connection
pool costs about ten times the CPU per call with 32 calls at once (encode/httpx#3215).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
from orderflow_runtime.logs import get_logger
from orderflow_runtime.waiting import sleep_unless
from pydantic import SecretStr
from sqlalchemy import Engine

from orderflow_fulfillment.projections import InTransit, in_transit

log = get_logger(__name__)
CONCURRENT_CALLS = 32


class Webhook(Protocol):
    """Posts a carrier's update to our webhook; returns the HTTP status."""

    async def __call__(
        self, path: str, update: dict[str, Any], headers: Mapping[str, str]
    ) -> int: ...


class AiohttpWebhook:
    """The webhook at `base_url`, called over HTTP with an aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    async def __call__(self, path: str, update: dict[str, Any], headers: Mapping[str, str]) -> int:
        url = self._base_url + path
        async with self._session.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status


class SandboxDeliveries:
    def __init__(
        self,
        engine: Engine,
        *,
        base_url: str | None,
        webhook_key: SecretStr | None,
        carriers: Collection[str],
        delay_s: float,
        poll_s: float,
    ) -> None:
        self._engine = engine
        self._base_url = base_url
        self._headers = {"X-API-Key": webhook_key.get_secret_value()} if webhook_key else {}
        self._carriers = set(carriers)
        self._delay = timedelta(seconds=delay_s)
        self._poll_s = poll_s
        self._confirmed: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Confirm due deliveries until `stop` (a background task of the chassis)."""
        if not self._delay or self._base_url is None:
            log.info("sandbox deliveries are off", has_http=self._base_url is not None)
            await stop.wait()  # returning early would stop the whole service
            return
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            webhook = AiohttpWebhook(session, self._base_url)
            while not stop.is_set():
                try:
                    await self.confirm_due(webhook, datetime.now(UTC))
                except Exception as error:  # keep going: the next round retries
                    log.warning("sandbox deliveries failed", error=repr(error))
                await sleep_unless(stop, self._poll_s)

    async def confirm_due(self, webhook: Webhook, now: datetime) -> int:
        """Call the webhook for every parcel due by `now`; returns how many were confirmed."""
        parcels = await asyncio.to_thread(in_transit, self._engine)
        self._confirmed &= {parcel.tracking_number for parcel in parcels}
        due = [
            parcel
            for parcel in parcels
            if parcel.carrier in self._carriers
            and parcel.tracking_number not in self._confirmed
            and parcel.shipped_at + self._delay <= now
        ]
        gate = asyncio.Semaphore(CONCURRENT_CALLS)

        async def confirm(parcel: InTransit) -> int:
            async with gate:
                return await self._confirm(webhook, parcel)

        results = await asyncio.gather(*map(confirm, due), return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:  # the others are confirmed; these are tried again next round
            log.warning("sandbox deliveries failed", failed=len(errors), error=repr(errors[0]))
        return sum(result for result in results if isinstance(result, int))

    async def _confirm(self, webhook: Webhook, parcel: InTransit) -> int:
        update = {
            "tracking_number": parcel.tracking_number,
            "status": "delivered",
            "occurred_at": (parcel.shipped_at + self._delay).isoformat(),
        }
        status = await webhook(f"/carriers/{parcel.carrier}/webhook", update, self._headers)
        if status != 200:
            log.warning("webhook refused a delivery", status=status)
            return 0
        self._confirmed.add(parcel.tracking_number)
        return 1
