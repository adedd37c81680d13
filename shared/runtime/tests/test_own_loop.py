"""`run_on_own_loop`: a service's HTTP server and own loops beside the main event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from orderflow_runtime.service import run_on_own_loop


async def test_the_body_runs_on_another_thread_and_loop_until_the_service_stops() -> None:
    main_loop, stop = asyncio.get_running_loop(), asyncio.Event()
    seen: dict[str, object] = {}

    async def body(own_stop: asyncio.Event) -> None:
        seen["thread"] = threading.current_thread().name
        seen["loop"] = asyncio.get_running_loop()
        await own_stop.wait()
        seen["stopped"] = True

    task = asyncio.create_task(run_on_own_loop("beside", body, stop))
    await asyncio.sleep(0.2)
    assert seen["thread"] == "beside"
    assert seen["loop"] is not main_loop
    assert not task.done()

    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert seen["stopped"] is True


async def test_the_main_loop_blocked_does_not_hold_up_the_body() -> None:
    stop = asyncio.Event()
    ticks: list[float] = []

    async def body(own_stop: asyncio.Event) -> None:
        while not own_stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    task = asyncio.create_task(run_on_own_loop("ticker", body, stop))
    await asyncio.sleep(0.1)
    before = len(ticks)
    time.sleep(0.5)  # noqa: ASYNC251 (on purpose: the main loop busy, as with an inbox batch)
    assert len(ticks) - before >= 5
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_a_failing_body_fails_the_task() -> None:
    async def body(own_stop: asyncio.Event) -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await asyncio.wait_for(run_on_own_loop("failing", body, asyncio.Event()), timeout=5)


async def test_a_body_that_returns_before_the_stop_fails_the_task() -> None:
    async def body(own_stop: asyncio.Event) -> None:
        return None

    with pytest.raises(RuntimeError, match="early returned before the service stopped"):
        await asyncio.wait_for(run_on_own_loop("early", body, asyncio.Event()), timeout=5)
