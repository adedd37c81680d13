"""Runs one service: its store, outbox relay, inbox and HTTP API in one process.

The inbox, the relay and the read models share the main event loop; the inbox and the
relay do their store work on it directly (see `inbox.py`), so the HTTP server and each of
a service's own loops (`ServiceSpec.background`) run on a loop of their own, each in a
thread of its own: a batch being applied, or a database that does not answer, never
holds up a request, a health check or an email being sent.

`ServiceRuntime(...).run()` is what a service's `main` calls. SIGTERM or SIGINT stops
it gracefully: the inbox finishes (or abandons, uncommitted) its batch, the relay
finishes its batch, the HTTP server drains, the Kafka clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from orderflow_events import dlq_topic

from orderflow_runtime.dlq import DeadLetterPublisher
from orderflow_runtime.http import add_operational_routes, service_api
from orderflow_runtime.inbox import Handler, Inbox
from orderflow_runtime.kafka import ensure_topics, make_consumer, make_producer
from orderflow_runtime.leader import Leadership
from orderflow_runtime.logs import configure_logging, get_logger
from orderflow_runtime.problems import install_problem_handlers
from orderflow_runtime.projections import Projections
from orderflow_runtime.relay import IntegrationMapper, OutboxRelay
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from orderflow_runtime.tracing import configure_tracing, install_request_tracing

log = get_logger(__name__)


BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""`async def task(stop: asyncio.Event) -> None`: runs until `stop` is set."""


@dataclass
class ServiceSpec:
    """What a service plugs into the chassis."""

    app: EventStoreApplication
    output_topic: str | None = None
    to_integration: IntegrationMapper | None = None
    input_topics: Sequence[str] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    api: FastAPI | None = None
    projections: Projections | None = None
    background: Sequence[BackgroundTask] = ()
    """Service-specific loops (a dispatcher, a scheduler) run next to the inbox until stop."""


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    loop.call_soon_threadsafe(callback)


def _new_event_loop() -> asyncio.AbstractEventLoop:
    import uvloop

    return uvloop.new_event_loop()


def _settle(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)


def tune_garbage_collector() -> None:
    """Collect young objects less often and never re-scan what start-up made.

    A batch of events allocates many small objects; with the default threshold
    (700) the cyclic collector runs every few events and rescans the heap: it
    halved the relay's and inbox's throughput in the pipe benchmark.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, spec: ServiceSpec) -> None:
        self.settings = settings
        self.spec = spec
        self.stop = asyncio.Event()
        self.relay: OutboxRelay | None = None
        self.inbox: Inbox | None = None
        self._started = False

    def readiness(self) -> dict[str, bool]:
        checks = {"started": self._started and not self.stop.is_set()}
        if self.spec.input_topics:
            checks["inbox_assigned"] = bool(self.inbox and self.inbox.assigned)
        if self.relay is not None:
            checks["relay_healthy"] = self.relay.healthy
        return checks

    async def run(self) -> None:
        tune_garbage_collector()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        spec, settings = self.spec, self.settings
        inputs = [settings.topic(t) for t in spec.input_topics]
        topics = [*inputs, *(dlq_topic(t) for t in inputs)]
        if spec.output_topic:
            topics.append(settings.topic(spec.output_topic))
        if not await self._until_kafka_answers(
            lambda: ensure_topics(
                settings.kafka_bootstrap_servers, topics, partitions=settings.topic_partitions
            )
        ):
            spec.app.close()
            return
        producer = make_producer(settings)
        await producer.start()
        tasks: list[asyncio.Task[None]] = []
        consumer = None
        try:
            if spec.output_topic and spec.to_integration:
                leadership = Leadership(settings)
                tasks.append(asyncio.create_task(leadership.run(self.stop), name="leadership"))
                self.relay = OutboxRelay(
                    spec.app,
                    spec.to_integration,
                    producer,
                    batch_size=settings.relay_batch_size,
                    idle_poll_s=settings.relay_idle_poll_s,
                    save_position_every_s=settings.relay_position_interval_s,
                    leadership=leadership,
                )
                relay = self.relay
                spec.app.on_saved(lambda: _call_soon(loop, relay.wake))
                tasks.append(asyncio.create_task(self.relay.run(self.stop), name="relay"))
            if spec.projections is not None:
                projections = spec.projections
                spec.app.on_saved(lambda: _call_soon(loop, projections.wake))
                tasks.append(asyncio.create_task(projections.run(self.stop), name="projections"))
            if spec.input_topics:
                consumer = make_consumer(settings)
                dead_letters = DeadLetterPublisher(
                    producer, service=settings.service_name, consumer=settings.group_id
                )
                self.inbox = Inbox(spec.app, spec.handlers, consumer, dead_letters, settings)
                self.inbox.subscribe(inputs)
                await consumer.start()
                tasks.append(asyncio.create_task(self.inbox.run(self.stop), name="inbox"))
            for background in spec.background:
                name = getattr(background, "__qualname__", "background")
                own_loop = run_on_own_loop(name, background, self.stop)
                tasks.append(asyncio.create_task(own_loop, name=name))
            if settings.http_port:
                http = run_on_own_loop("http", self._serve_http, self.stop)
                tasks.append(asyncio.create_task(http, name="http"))
            self._started = True
            log.info("service started", topics=topics)
            await self._wait(tasks)
        finally:
            self.stop.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if consumer is not None:
                await consumer.stop()
            await producer.stop()
            if spec.projections is not None:
                spec.projections.engine.dispose()
            spec.app.close()
            log.info("service stopped")

    async def _until_kafka_answers(
        self, attempt: Callable[[], Coroutine[Any, Any, None]], max_delay_s: float = 5.0
    ) -> bool:
        """Retry `attempt` while the broker is unreachable; False if stopped meanwhile.

        A service (re)started while the broker restarts used to exit at once (the
        fault-injection soak found it); it now waits, not ready, until Kafka is back.
        """
        delay = 0.2
        while not self.stop.is_set():
            try:
                await attempt()
                return True
            except (KafkaError, OSError) as error:
                log.warning("Kafka unreachable at start; retrying", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
            delay = min(delay * 2, max_delay_s)
        return False

    async def _wait(self, tasks: list[asyncio.Task[None]]) -> None:
        """Until stopped, or until a task fails (then the process exits non-zero)."""
        stopper = asyncio.create_task(self.stop.wait())
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        # Let the loops finish their batch and return by themselves.
        await asyncio.wait(tasks, timeout=10)

    async def _serve_http(self, stop: asyncio.Event) -> None:
        """The HTTP API until `stop` (on a loop of its own: see `run_on_own_loop`)."""
        api = self.spec.api or service_api(self.settings.service_name)
        install_problem_handlers(api)
        install_request_tracing(api)
        add_operational_routes(api, self.readiness)
        config = uvicorn.Config(
            api,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http="httptools",  # the C parser (llhttp); uvicorn's other, h11, is pure Python
        )
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        serve = asyncio.create_task(server.serve())
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        await asyncio.wait([serve, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        server.should_exit = True  # uvicorn drains its connections, then serve() returns
        await serve  # raises SystemExit when it could not bind (else run_on_own_loop
        # fails the service if the server ended before the stop)


async def run_on_own_loop(name: str, body: BackgroundTask, stop: asyncio.Event) -> None:
    """Run `body(its_stop)` on a second event loop (uvloop) in a thread of its own named
    `name`, until `stop` (of the calling loop) is set; `body`'s failure is this call's, and
    so is its returning before `stop`.

    The main loop applies inbox batches and relays events without leaving its thread;
    HTTP and the services' own loops (a dispatcher waiting on its sends, a scheduler)
    run beside it this way, so neither holds up the other.
    """
    main_loop = asyncio.get_running_loop()
    ended: asyncio.Future[Any] = main_loop.create_future()
    started = threading.Event()
    own: dict[str, Any] = {}

    async def main() -> None:
        own["loop"], own["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await body(own["stop"])

    def thread() -> None:
        error: BaseException | None = None
        try:
            with asyncio.Runner(loop_factory=_new_event_loop) as runner:
                runner.run(main())
        except BaseException as failure:
            error = failure
        finally:
            started.set()
        with contextlib.suppress(RuntimeError):  # the main loop is gone: nobody waits
            main_loop.call_soon_threadsafe(_settle, ended, error)

    threading.Thread(target=thread, name=name, daemon=True).start()
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([ended, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        await asyncio.to_thread(started.wait)
        if "loop" in own:
            with contextlib.suppress(RuntimeError):  # its loop has ended already
                own["loop"].call_soon_threadsafe(own["stop"].set)
    error = await ended
    if error is not None:
        raise error
    if not stop.is_set():
        raise RuntimeError(f"{name} returned before the service stopped")


def run_service(settings: ServiceSettings, build: Callable[[ServiceSettings], ServiceSpec]) -> None:
    """The `main` of a service process: logs, event loop (uvloop), runtime, until SIGTERM."""
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.trace_exporter)
    spec = build(settings)
    with asyncio.Runner(loop_factory=_new_event_loop) as runner:
        runner.run(ServiceRuntime(settings, spec).run())
