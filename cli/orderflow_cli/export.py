"""`orderflow export` and `orderflow import`: records to JSON Lines and back into a sandbox.

Export reads a topic's offset or time range from the broker, or one order's
records from the archive. Import publishes an export into topics prefixed with a
sandbox namespace (never the live topics), in the file's order, each record on the
partition it came from, with its key, headers and value.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer
from orderflow_runtime.kafka import ensure_topics

from orderflow_cli.archive_db import engine_for, order_records
from orderflow_cli.kafka_io import Ranges, full_topic, partitions_of, read, reader, whole, writer
from orderflow_cli.options import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_URL,
    AsJson,
    Bootstrap,
    DatabaseUrl,
    Namespace,
    console,
    fail,
    out,
    print_json,
)
from orderflow_cli.progress import progress_bar
from orderflow_cli.records import RecordView, from_line, to_line

SANDBOX_SEPARATORS = (".", "-", "_")


def export(
    topic: Annotated[str | None, typer.Option(help="Export this topic (a range of it).")] = None,
    order: Annotated[str | None, typer.Option(help="Export one order (from the archive).")] = None,
    partition: Annotated[int | None, typer.Option(help="Only this partition.")] = None,
    from_offset: Annotated[int | None, typer.Option(help="First offset (inclusive).")] = None,
    to_offset: Annotated[int | None, typer.Option(help="Last offset (inclusive).")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (RFC 3339, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time (exclusive).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="File; default stdout.")] = None,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
) -> None:
    """Write records as JSON Lines: topic, partition, offset, timestamp, key, headers, value."""
    if (topic is None) == (order is None):
        fail("give --topic T or --order ORDER_ID")
    if (from_offset is not None or to_offset is not None) and (since or until):
        fail("give offsets or times, not both")
    with ExitStack() as stack:
        sink: IO[str] = (
            stack.enter_context(out_file.open("w", encoding="utf-8")) if out_file else sys.stdout
        )
        if order is not None:
            count = _export_order(engine_for(database_url), order, sink)
        else:
            assert topic is not None
            window = Window(partition, from_offset, to_offset, _time(since), _time(until))
            name = full_topic(namespace, topic)
            count = asyncio.run(_export_topic(bootstrap, name, window, sink))
    console.print(f"exported {count} records" + (f" to {out_file}" if out_file else ""))


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"not an RFC 3339 time: {text!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Window:
    """Which records of a topic: a partition, an offset range, a time range."""

    def __init__(
        self,
        partition: int | None,
        first: int | None,
        last: int | None,
        since: datetime | None,
        until: datetime | None,
    ) -> None:
        self.partition, self.first, self.last = partition, first, last
        self.since, self.until = since, until

    async def ranges(self, consumer: AIOKafkaConsumer, topic: str) -> Ranges:
        partitions = await partitions_of(consumer, [topic])
        if not partitions:
            fail(f"no topic {topic} on the cluster")
        partitions = [tp for tp in partitions if self.partition in (None, tp.partition)]
        spans = await whole(consumer, partitions)
        starts = await self._offsets_at(consumer, spans, self.since)
        ends = await self._offsets_at(consumer, spans, self.until)
        clipped = {}
        for tp, (start, end) in spans.items():
            low = max(start, self.first if self.first is not None else start, starts.get(tp, start))
            high = min(end, self.last + 1 if self.last is not None else end, ends.get(tp, end))
            clipped[tp] = (low, max(low, high))
        return clipped

    @staticmethod
    async def _offsets_at(
        consumer: AIOKafkaConsumer, spans: Ranges, when: datetime | None
    ) -> dict[Any, int]:
        """Per partition, the first offset at or after `when` (the end when there is none)."""
        if when is None or not spans:
            return {}
        millis = int(when.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: millis for tp in spans})
        return {tp: (hit.offset if hit is not None else spans[tp][1]) for tp, hit in found.items()}


async def _export_topic(bootstrap: str, topic: str, window: Window, sink: IO[str]) -> int:
    count = 0
    async with reader(bootstrap) as consumer:
        ranges = await window.ranges(consumer, topic)
        total = sum(end - start for start, end in ranges.values())
        with progress_bar(console) as progress:
            task = progress.add_task(f"exporting {topic}", total=total)
            async for view in read(consumer, ranges, lambda n: progress.advance(task, n)):
                sink.write(json.dumps(to_line(view), ensure_ascii=False) + "\n")
                count += 1
    return count


def _export_order(engine: Any, order_id: str, sink: IO[str]) -> int:
    rows = order_records(engine, order_id)
    for row in rows:
        view = RecordView(
            topic=row["topic"],
            partition=row["partition"],
            offset=row["offset"],
            timestamp_ms=row["timestamp_ms"],
            key=None if row["key"] is None else row["key"].encode(),
            value=None if row["value"] is None else row["value"].encode(),
            headers=tuple((k, str(v).encode()) for k, v in (row["headers"] or {}).items()),
        )
        sink.write(json.dumps(to_line(view), ensure_ascii=False) + "\n")
    return len(rows)


def import_(
    file: Annotated[Path, typer.Argument(help="A JSON Lines export.", exists=True)],
    sandbox: Annotated[str, typer.Option(help="Namespace of the sandbox topics, e.g. replay1.")],
    partitions: Annotated[int, typer.Option(help="Partitions of sandbox topics created.")] = 8,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    as_json: AsJson = False,
) -> None:
    """Publish an export into sandbox topics (`<sandbox>.<topic>`), keeping keys, headers, order."""
    prefix = sandbox_prefix(sandbox, namespace)
    counts = asyncio.run(_import(bootstrap, file, prefix, namespace, partitions))
    topics = dict(sorted(counts.items()))
    if as_json:
        print_json({"records": counts.total(), "topics": topics})
        return
    for name, count in topics.items():
        out.print(f"{count:>8}  {name}")
    out.print(f"{counts.total():>8}  records imported into sandbox {prefix!r}")


def sandbox_prefix(sandbox: str, live_namespace: str) -> str:
    """The topic prefix of a sandbox; refuses names that would reach the live topics."""
    name = sandbox.strip()
    if not name:
        fail("the sandbox namespace must not be empty (that would be the live topics)")
    if not name.endswith(SANDBOX_SEPARATORS):
        name += "."
    if name == live_namespace:
        fail(f"the sandbox {name!r} is the live namespace")
    return name


def sandbox_topic(prefix: str, namespace: str, topic: str) -> str:
    """Where a record exported from `topic` (in `namespace`) goes in the sandbox."""
    if namespace and topic.startswith(namespace):
        topic = topic[len(namespace) :]
    return f"{prefix}{topic}"


def _lines(file: Path) -> Iterator[RecordView]:
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield from_line(json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    fail(f"{file}:{number}: not an export line ({error})")


async def _import(
    bootstrap: str, file: Path, prefix: str, namespace: str, partitions: int
) -> Counter[str]:
    widest: dict[str, int] = {}
    for view in _lines(file):
        target = sandbox_topic(prefix, namespace, view.topic)
        widest[target] = max(widest.get(target, 0), view.partition + 1)
    if not widest:
        return Counter()
    await ensure_topics(bootstrap, widest, partitions=max(partitions, *widest.values()))
    counts: Counter[str] = Counter()
    async with writer(bootstrap) as producer:
        sizes = {t: len(await producer.partitions_for(t)) for t in widest}
        with progress_bar(console) as progress:
            task = progress.add_task("importing", total=None)
            pending = []
            for view in _lines(file):
                target = sandbox_topic(prefix, namespace, view.topic)
                part = view.partition if view.partition < sizes[target] else None
                pending.append(
                    await producer.send(
                        target, view.value, key=view.key, headers=list(view.headers), partition=part
                    )
                )
                counts[target] += 1
                progress.advance(task)
            for future in pending:
                await future
    return counts
