"""`orderflow replay`: a service's current handlers over a past range of its input topics,
into a sandbox store, compared with the live store aggregate by aggregate.

The records are read with a group-less consumer (nothing is committed) and applied by
the chassis' own `Inbox.process` (one unit of work per batch, tracking positions, the
causation context), so a record is applied exactly as the live inbox applies it. The
sandbox is a temporary SQLite store built by the service's `build` with
`side_effects=False` (no dispatcher, deliveries or sends) and nothing of it runs but the
inbox: no relay, no HTTP, no background task; dead letters are collected, not published.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeAlias, cast
from uuid import UUID

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from eventsourcing.persistence import StoredEvent
from orderflow_events import InvalidRecord, from_record
from orderflow_runtime.context import context_of
from orderflow_runtime.dlq import DeadLetter, DeadLetterPublisher
from orderflow_runtime.inbox import Inbox, in_produced_order
from orderflow_runtime.service import ServiceSpec
from orderflow_runtime.settings import ServiceSettings
from orderflow_runtime.store import EventStoreApplication
from rich.console import Console
from rich.table import Table

from orderflow_cli import services
from orderflow_cli.kafka_io import reader
from orderflow_cli.progress import progress_bar
from orderflow_cli.store_diff import MISSING, aggregate_attributes, diff_values, json_safe
from orderflow_cli.store_tools import AsJson, DataDir, Service, StoreUrl, consoles, fail, opened

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
SEED_BATCH = 1_000


@dataclass(frozen=True)
class Bound:
    """One end of the range: a time (by broker timestamp) or an offset on every partition."""

    time: datetime | None = None
    offset: int | None = None

    @classmethod
    def parse(cls, text: str) -> Bound:
        if text.isdigit():
            return cls(offset=int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a time or an offset: {text!r}") from None
        return cls(time=parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


class CollectedDeadLetters(DeadLetterPublisher):
    """Dead letters of the replay, kept in memory (never published)."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def publish(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


class _NoConsumer:
    """The inbox's consumer, never used: `process` is called with the records directly."""

    def assignment(self) -> set[TopicPartition]:
        return set()


@dataclass
class ReplayResult:
    records: int = 0
    applied: int = 0
    seeded: int = 0
    sandbox_events: int = 0
    start: datetime | None = None
    end: datetime | None = None
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def differences(self) -> int:
        return sum(len(a["differences"]) for a in self.aggregates)

    def as_json(self, service: str) -> dict[str, Any]:
        return {
            "service": service,
            "records": self.records,
            "applied": self.applied,
            "seeded_events": self.seeded,
            "sandbox_events": self.sandbox_events,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "dead_letters": self.dead_letters,
            "aggregates": self.aggregates,
            "differences": self.differences,
            "seconds": round(self.seconds, 3),
        }


def replay(
    service: Service,
    from_: Annotated[
        str,
        typer.Option("--from", help="Start: a time (RFC 3339; by broker timestamp) or an offset."),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="End: a time (exclusive) or an offset (inclusive); default: the end now.",
        ),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option("--bootstrap", help="Kafka; default: the service's KAFKA_BOOTSTRAP_SERVERS."),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", help="Topic prefix; default: the service's TOPIC_NAMESPACE."),
    ] = None,
    settings_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE: a setting of the sandbox service only (try a changed decision).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="An attribute not to compare (repeat)."),
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Keep the sandbox store in this folder (for `state`)."),
    ] = None,
    database_url: StoreUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Replay past input through the service's current handlers; diff the result with live.

    The range of its input topics is applied to a sandbox store (no side effects, nothing
    published); every aggregate it touched is compared with the live store's.
    """
    printer, err = consoles(as_json)
    try:
        start, end = Bound.parse(from_), Bound.parse(to) if to else None
        sandbox_settings = dict(_pairs(settings_ or []))
    except ValueError as error:
        raise fail(str(error)) from None
    info = services.info(service) if service in services.REGISTRY else None
    if info is None:
        raise fail(f"unknown service {service!r}: one of {', '.join(services.SERVICES)}")
    live_overrides: dict[str, Any] = {"aggregate_cache_size": 0}
    if namespace is not None:
        live_overrides["topic_namespace"] = namespace
    if bootstrap is not None:
        live_overrides["kafka_bootstrap_servers"] = bootstrap
    with opened(service, database_url, data_dir, **live_overrides) as (live_settings, live):
        sandbox_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="orderflow-replay-"))
        try:
            result = asyncio.run(
                run_replay(
                    info,
                    live_settings,
                    live,
                    start,
                    end,
                    sandbox_dir,
                    sandbox_settings=sandbox_settings,
                    ignore=set(ignore or ()),
                    console=err,
                )
            )
        except ValueError as error:
            raise fail(str(error)) from None
        finally:
            if keep is None:
                shutil.rmtree(sandbox_dir, ignore_errors=True)
    if as_json:
        typer.echo(json.dumps(result.as_json(service), default=str))
    else:
        show_replay(printer, service, result, keep)
    if result.differences:
        raise typer.Exit(1)


def _pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set wants KEY=VALUE, not {item!r}")
        pairs.append((key.strip().lower(), value))
    return pairs


def sandbox_settings_of(
    info: services.ServiceInfo,
    live: ServiceSettings,
    folder: Path,
    extra: Mapping[str, Any],
) -> ServiceSettings:
    """The live settings, on a SQLite store in `folder`, with every side effect off."""
    values: dict[str, Any] = {
        **live.model_dump(),
        "database_url": None,
        "data_dir": folder,
        "http_port": 0,
        "retry_initial_delay_s": 0.0,
        "retry_max_delay_s": 0.0,
        "aggregate_cache_size": 0,
        **extra,
    }
    if "side_effects" in type(live).model_fields:
        values["side_effects"] = False
    return info.settings(**values)


async def run_replay(
    info: services.ServiceInfo,
    live_settings: ServiceSettings,
    live: ServiceSpec,
    start: Bound,
    end: Bound | None,
    sandbox_dir: Path,
    *,
    sandbox_settings: Mapping[str, Any] | None = None,
    ignore: set[str] | None = None,
    console: Console | None = None,
) -> ReplayResult:
    """Read the range, seed the sandbox with the live store before it, apply, compare."""
    started = time.perf_counter()
    result = ReplayResult()
    topics = [live_settings.topic(t) for t in live.input_topics]
    if not topics:
        raise ValueError(f"{info.name} consumes no topic: there is nothing to replay")
    records = await read_range(
        live_settings.kafka_bootstrap_servers, topics, start, end, result, console
    )
    result.records = len(records)
    first_ms = min((r.timestamp for r in records), default=None)
    result.start = start.time or (
        datetime.fromtimestamp(first_ms / 1000, UTC) if first_ms is not None else None
    )
    if first_ms is not None and result.start is not None:
        result.start = min(result.start, datetime.fromtimestamp(first_ms / 1000, UTC))
    last_ms = max((r.timestamp for r in records), default=None)
    result.end = datetime.fromtimestamp(last_ms / 1000, UTC) if last_ms is not None else None

    settings = sandbox_settings_of(info, live_settings, sandbox_dir, sandbox_settings or {})
    sandbox = info.build(settings)
    try:
        result.seeded = seed(live.app, sandbox.app, result.start) if result.start else 0
        dead_letters = CollectedDeadLetters()
        inbox = Inbox(
            sandbox.app, sandbox.handlers, cast(Any, _NoConsumer()), dead_letters, settings
        )
        batch = max(settings.inbox_max_records, 1)
        bar = progress_bar(console) if console is not None else None
        task = bar.add_task("replaying", total=len(records)) if bar else None
        if bar is not None:
            bar.start()
        try:
            for index in range(0, len(records), batch):
                chunk = records[index : index + batch]
                await inbox.process(chunk)
                if bar is not None and task is not None:
                    bar.advance(task, len(chunk))
        finally:
            if bar is not None:
                bar.stop()
        result.applied = inbox.applied
        result.dead_letters = [
            {
                "topic": d.topic,
                "partition": d.partition,
                "offset": d.offset,
                "reason": d.reason,
                "error": d.error,
            }
            for d in dead_letters.letters
        ]
        touched = touched_aggregates(sandbox.app, after=result.seeded)
        result.sandbox_events = sandbox.app.max_notification_id() - result.seeded
        causes = replayed_ids(records)
        ignored = set(info.ignored) | set(ignore or ())
        result.aggregates = [
            compare_aggregate(
                live.app,
                sandbox.app,
                aggregate_id,
                causes,
                result.start,
                ignored,
                outside=info.outside_events,
            )
            for aggregate_id in touched
        ]
    finally:
        services.close(sandbox)
    result.seconds = time.perf_counter() - started
    return result


async def read_range(
    bootstrap: str,
    topics: Sequence[str],
    start: Bound,
    end: Bound | None,
    result: ReplayResult,
    console: Console | None,
) -> list[Record]:
    """The range's records of every partition, merged by record timestamp (each partition
    stays in offset order), as the live inbox applies a batch of them."""
    async with reader(bootstrap) as consumer:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(metadata.partitions_for_topic(t) or ())
        ]
        if not partitions:
            return []
        ranges = await offset_ranges(consumer, partitions, start, end)
        result.ranges = {f"{tp.topic}:{tp.partition}": r for tp, r in ranges.items()}
        wanted = {tp: r for tp, r in ranges.items() if r[1] > r[0]}
        per_partition: dict[TopicPartition, list[Record]] = {tp: [] for tp in wanted}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        for tp, (first, _) in wanted.items():
            consumer.seek(tp, first)
        total = sum(b - a for a, b in wanted.values())
        bar = progress_bar(console) if console is not None else None
        task = bar.add_task("reading the range", total=total) if bar else None
        if bar is not None:
            bar.start()
        try:
            pending = set(wanted)
            while pending:
                fetched = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, batch in fetched.items():
                    last = wanted[tp][1]
                    kept = [r for r in batch if r.offset < last]
                    per_partition[tp].extend(kept)
                    if bar is not None and task is not None:
                        bar.advance(task, len(kept))
                    if batch and batch[-1].offset >= last - 1:
                        pending.discard(tp)
                        consumer.pause(tp)
                for tp in list(pending):
                    if await consumer.position(tp) >= wanted[tp][1]:
                        pending.discard(tp)
        finally:
            if bar is not None:
                bar.stop()
    return in_produced_order(per_partition.values())  # the order the live inbox applies


async def offset_ranges(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    start: Bound,
    end: Bound | None,
) -> dict[TopicPartition, tuple[int, int]]:
    """[first, last) per partition for the bounds (times via offsets_for_times)."""
    beginnings = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)

    async def offsets(bound: Bound, inclusive_end: bool) -> dict[TopicPartition, int]:
        if bound.offset is not None:
            return {tp: bound.offset + (1 if inclusive_end else 0) for tp in partitions}
        assert bound.time is not None
        ms = int(bound.time.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(partitions, ms))
        return {tp: ends[tp] if at is None else at.offset for tp, at in found.items()}

    firsts = await offsets(start, inclusive_end=False)
    lasts = await offsets(end, inclusive_end=True) if end is not None else dict(ends)
    return {
        tp: (max(firsts[tp], beginnings[tp]), min(max(lasts[tp], beginnings[tp]), ends[tp]))
        for tp in partitions
    }


def seed(live: EventStoreApplication, sandbox: EventStoreApplication, before: datetime) -> int:
    """Copy the live store's events stored before `before` into the sandbox: the longest
    prefix of its notification log (a prefix keeps every aggregate's versions whole)."""
    recorder = live.process_recorder
    copied, position = 0, 0
    while True:
        notifications = recorder.select_notifications(
            start=position, limit=SEED_BATCH, inclusive_of_start=False
        )
        if not notifications:
            return copied
        events: list[StoredEvent] = []
        done = False
        for notification in notifications:
            domain_event: Any = live.mapper.to_domain_event(notification)
            if domain_event.timestamp >= before:
                done = True
                break
            events.append(
                StoredEvent(
                    originator_id=notification.originator_id,
                    originator_version=notification.originator_version,
                    topic=notification.topic,
                    state=notification.state,
                )
            )
        if events:
            sandbox.process_recorder.insert_events(events)
            copied += len(events)
        if done:
            return copied
        position = notifications[-1].id


def touched_aggregates(app: EventStoreApplication, *, after: int) -> list[UUID]:
    """Aggregates with events in the store after notification `after`, first touched first."""
    touched: dict[UUID, None] = {}
    position = after
    while notifications := app.process_recorder.select_notifications(
        start=position, limit=SEED_BATCH, inclusive_of_start=False
    ):
        touched.update((UUID(str(n.originator_id)), None) for n in notifications)
        position = notifications[-1].id
    return list(touched)


def replayed_ids(records: Sequence[Record]) -> set[str]:
    ids = set()
    for record in records:
        try:
            ids.add(from_record(record.key, record.value, record.headers).id)
        except InvalidRecord:
            continue
    return ids


def compare_aggregate(
    live: EventStoreApplication,
    sandbox: EventStoreApplication,
    aggregate_id: UUID,
    causes: set[str],
    start: datetime | None,
    ignore: set[str],
    *,
    outside: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The sandbox aggregate against the live one as the replayed records left it.

    Live, that is the version of its last event that a handler made for one of the
    replayed records (later requests and background work are not part of the replay);
    if none of them changed it live, the version it had before the range.
    """
    replayed: Any = sandbox.repository.get(aggregate_id)
    events: list[Any] = list(live.events.get(aggregate_id))
    caused = [
        e.originator_version
        for e in events
        if context_of(e).causation_id in causes and type(e).__qualname__ not in outside
    ]
    if caused:
        version: int | None = max(caused)
    else:
        before = [e for e in events if start is not None and e.timestamp < start]
        version = before[-1].originator_version if before else None
    mine = aggregate_attributes(replayed, timestamps=False)
    if version is None:
        theirs: Any = MISSING
        differences = [{"path": "<aggregate>", "live": MISSING, "replayed": "present"}]
    else:
        theirs = aggregate_attributes(
            live.repository.get(aggregate_id, version=version), timestamps=False
        )
        differences = [
            {"path": d.path, "live": d.left, "replayed": d.right}
            for d in diff_values(theirs, mine, ignore=ignore)
        ]
    return {
        "id": str(aggregate_id),
        "type": type(replayed).__qualname__,
        "live_version": version,
        "replayed_version": replayed.version,
        "differences": differences,
    }


def show_replay(console: Console, service: str, result: ReplayResult, keep: Path | None) -> None:
    span = f"{result.start.isoformat() if result.start else '-'} .. "
    span += result.end.isoformat() if result.end else "-"
    console.print(
        f"{service}: replayed {result.records:,} records ({result.applied:,} applied) from "
        f"{span} onto {result.seeded:,} seeded events: {result.sandbox_events:,} new events on "
        f"{len(result.aggregates):,} aggregates in {result.seconds:.1f} s"
    )
    for letter in result.dead_letters:
        console.print(
            f"[yellow]dead letter[/yellow] {letter['topic']}:{letter['partition']}:"
            f"{letter['offset']} {letter['reason']}: {letter['error']}"
        )
    differing = [a for a in result.aggregates if a["differences"]]
    if not differing:
        console.print("[green]no difference[/green] between the replay and the live store")
    else:
        table = Table(title=f"{result.differences} differences (live vs replayed)")
        for column in ("aggregate", "attribute", "live", "replayed"):
            table.add_column(column, overflow="fold")
        for aggregate in differing:
            name = f"{aggregate['type']} {aggregate['id']}"
            for d in aggregate["differences"]:
                table.add_row(name, d["path"], _cell(d["live"]), _cell(d["replayed"]))
                name = ""
        console.print(table)
    if keep is not None:
        console.print(f"sandbox kept in {keep} (orderflow state {service} ID --data-dir {keep})")


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(json_safe(value))
