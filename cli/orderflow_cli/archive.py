"""`orderflow archive run`: copy every record of the shop's topics into the archive database.

A consumer of its own group (`orderflow-archive`, offsets from earliest) subscribed
to the six event topics and their dead-letter topics (by pattern, so topics created
later are picked up). Each poll batch is inserted in one transaction, then its
offsets are committed: after a crash the batch is read again and its rows, already
stored, are dropped by their coordinates. Nothing is lost, nothing stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import Engine

from orderflow_cli.archive_db import engine_for, insert_rows
from orderflow_cli.kafka_io import shop_topics
from orderflow_cli.options import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_URL,
    AsJson,
    Bootstrap,
    DatabaseUrl,
    Namespace,
    console,
    print_json,
)
from orderflow_cli.records import to_row, view_of

ARCHIVE_GROUP = "orderflow-archive"
NO_TOPICS_TIMEOUT_S = 15.0

app = typer.Typer(help="The event archive: every record of the shop, indexed by order.")


@dataclass
class ArchiveStats:
    records: int = 0
    stored: int = 0
    batches: int = 0
    seconds: float = 0.0


@app.command("run")
def run(
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
    group: Annotated[str, typer.Option(help="Consumer group of the archive.")] = ARCHIVE_GROUP,
    until_caught_up: Annotated[
        bool, typer.Option(help="Stop once every partition is archived up to its end.")
    ] = False,
    batch: Annotated[int, typer.Option(help="Records per poll batch.", min=1)] = 2000,
    as_json: AsJson = False,
) -> None:
    """Archive the shop's records until Ctrl-C (or until caught up)."""
    engine = engine_for(database_url)
    stats = asyncio.run(run_archive(bootstrap, namespace, engine, group, until_caught_up, batch))
    if as_json:
        print_json(asdict(stats))
    else:
        console.print(
            f"archived {stats.records} records ({stats.stored} new) "
            f"in {stats.batches} batches, {stats.seconds:.1f} s"
        )


async def run_archive(
    bootstrap: str, namespace: str, engine: Engine, group: str, until_caught_up: bool, batch: int
) -> ArchiveStats:
    """Consume the shop's topics as `group` into `engine` until SIGINT/SIGTERM (or caught up)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        fetch_max_bytes=32 * 1024 * 1024,
        metadata_max_age_ms=5000,
    )
    pattern = "^(" + "|".join(re.escape(t) for t in shop_topics(namespace)) + ")$"
    consumer.subscribe(pattern=pattern)
    await consumer.start()
    try:
        with console.status("archiving") as status:
            return await archive(consumer, engine, stop, until_caught_up, status.update)
    finally:
        await consumer.stop()


async def archive(
    consumer: AIOKafkaConsumer,
    engine: Engine,
    stop: asyncio.Event,
    until_caught_up: bool,
    report: Callable[[str], None],
) -> ArchiveStats:
    """Poll, insert, commit, until `stop` (or until caught up)."""
    stats, started = ArchiveStats(), time.monotonic()
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=500)
        if batches:
            rows = [to_row(view_of(r)) for records in batches.values() for r in records]
            stats.stored += await asyncio.to_thread(insert_rows, engine, rows)
            stats.records += len(rows)
            stats.batches += 1
            await _commit(consumer, batches)
            rate = stats.records / max(time.monotonic() - started, 1e-3)
            report(f"archived {stats.records} records ({stats.stored} new), {rate:,.0f}/s")
        elif until_caught_up and await _caught_up(consumer, time.monotonic() - started):
            break
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


async def _commit(consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Any]]) -> None:
    offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batches.items() if rs}
    try:
        await consumer.commit(offsets)
    except KafkaError as error:  # a rebalance took them: the new owner re-reads, rows dedupe
        console.print(f"[yellow]offset commit failed[/yellow]: {error!r}")


async def _caught_up(consumer: AIOKafkaConsumer, elapsed: float) -> bool:
    assignment = list(consumer.assignment())
    if not assignment:
        return elapsed > NO_TOPICS_TIMEOUT_S
    ends = await consumer.end_offsets(assignment)
    positions = {}
    for tp in assignment:
        with contextlib.suppress(KafkaError, AssertionError):
            positions[tp] = await consumer.position(tp)
    return all(positions.get(tp, -1) >= ends[tp] for tp in assignment)
