"""Timeline benchmark: one order's timeline among a million archived events.

Not a test: it prints figures. For each backend (PostgreSQL, SQLite) it fills an
archive (the `orderflow archive` schema, indexes included) with `--events` synthetic
events of `--orders` orders, interleaved in time as a busy shop would write them
(COPY for PostgreSQL, batched inserts for SQLite), then times `--lookups` timelines
of random orders in-process with the function `orderflow timeline` calls
(`archive_timeline`: the indexed query plus the causal ordering). Reported: load
time, median and p99 per lookup.

With `--ingest N` it also measures the archiver itself: N records published to the
six topics, then `archive run --until-caught-up` into PostgreSQL (records/s).

    .venv/bin/python bench/timeline_benchmark.py [--events 1000000] [--orders 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from orderflow_cli.archive_db import engine_for
from orderflow_cli.timeline import archive_timeline
from orderflow_devinfra import Infrastructure

STEPS = (  # (ce_type, producer topic, index of the cause)
    ("orders.placed.v1", "orders.events", None),
    ("payment.authorized.v1", "payment.events", 0),
    ("notification.sent.v1", "notification.events", 0),
    ("inventory.stock_reserved.v1", "inventory.events", 1),
    ("fulfillment.shipped.v1", "fulfillment.events", 3),
    ("payment.captured.v1", "payment.events", 4),
    ("inventory.stock_committed.v1", "inventory.events", 4),
    ("notification.sent.v1", "notification.events", 4),
    ("fulfillment.delivered.v1", "fulfillment.events", 4),
    ("notification.sent.v1", "notification.events", 8),
)
COLUMNS = (
    "ce_id, type, source, time, subject, correlation_id, causation_id, sequence, topic, "
    '"partition", "offset", timestamp_ms, key, headers, value'
)
T0 = datetime(2025, 3, 1, tzinfo=UTC)
TICK = timedelta(milliseconds=20)
SPREAD = 300
"""Ticks between two steps of an order: ~3,000 orders are in flight at any time."""


def synthetic_rows(orders: int, events: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """`events` rows of `orders` orders (steps cycle when events > 10 per order), in time order."""
    rng = random.Random(seed)
    per_order = max(1, events // orders)
    order_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(orders)]
    ids: dict[tuple[int, int], str] = {}
    offsets: dict[tuple[str, int], int] = {}
    for tick in range(orders + per_order * SPREAD):
        for step in range(per_order):
            number = tick - step * SPREAD
            if not 0 <= number < orders:
                continue
            yield _row(number, step, order_ids[number], tick, ids, offsets, rng)
            if step == per_order - 1:
                for done in range(per_order):
                    ids.pop((number, done), None)


def _row(
    number: int,
    step: int,
    order_id: str,
    tick: int,
    ids: dict[tuple[int, int], str],
    offsets: dict[tuple[str, int], int],
    rng: random.Random,
) -> tuple[Any, ...]:
    ce_type, topic, cause = STEPS[step % len(STEPS)]
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    ids[(number, step)] = event_id
    cause_id = ids.get((number, cause)) if cause is not None else None
    when = T0 + tick * TICK
    partition = hash(order_id) % 8
    offset = offsets.get((topic, partition), 0)
    offsets[(topic, partition)] = offset + 1
    source = f"/services/{topic.split('.')[0]}"
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id,
        "ce_source": source,
        "ce_type": ce_type,
        "ce_time": when.isoformat(),
        "ce_subject": order_id,
        "content-type": "application/json",
        "ce_correlationid": order_id,
        **({"ce_causationid": cause_id} if cause_id else {}),
        "traceparent": f"00-{event_id.replace('-', '')}-{event_id[:16]}-01",
        "ce_sequence": str(number * 10 + step),
    }
    value = {"order_id": order_id, "step": step, "amount": "53.19", "currency": "EUR"}
    return (
        event_id, ce_type, source, when, order_id, order_id, cause_id, number * 10 + step,
        topic, partition, offset, int(when.timestamp() * 1000), order_id,
        json.dumps(headers), json.dumps(value),
    )  # fmt: skip


def load_postgres(url: str, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY events ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cur.execute("ANALYZE events")
    return count


def load_sqlite(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * 15)
    count, batch = 0, []
    for row in rows:
        when = (
            row[3].astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
        batch.append((*row[:3], when, *row[4:]))
        if len(batch) == 20_000:
            count += _insert(conn, marks, batch)
            batch = []
    count += _insert(conn, marks, batch)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return count


def _insert(conn: sqlite3.Connection, marks: str, batch: list[tuple[Any, ...]]) -> int:
    with conn:
        conn.executemany(f"INSERT INTO events ({COLUMNS}) VALUES ({marks})", batch)
    return len(batch)


def lookups(url: str, order_ids: list[str]) -> dict[str, float]:
    engine = engine_for(url)
    archive_timeline(engine, order_ids[0])  # connect once: the pool is warm, as in a session
    timings = []
    for order_id in order_ids:
        started = time.perf_counter()
        steps = archive_timeline(engine, order_id)
        timings.append((time.perf_counter() - started) * 1000)
        assert len(steps) >= 10, (order_id, len(steps))
    engine.dispose()
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p99_ms": round(statistics.quantiles(timings, n=100, method="inclusive")[98], 2),
        "max_ms": round(max(timings), 2),
    }


def bench_backend(backend: str, url: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    engine_for(url).dispose()  # the archive's schema, indexes included
    rows = synthetic_rows(args.orders, args.events, args.seed)
    started = time.monotonic()
    if backend == "postgres":
        count = load_postgres(url, rows)
    else:
        count = load_sqlite(Path(url.split(":///", 1)[1]), rows)
    loaded = time.monotonic() - started
    rng = random.Random(args.seed)
    all_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.orders)]
    sample = random.Random(args.seed + 1).sample(all_ids, args.lookups)
    result = {"backend": backend, "events": count, "load_s": round(loaded, 1)}
    return result | lookups(url, sample)


def ingest(infra: Infrastructure, records: int) -> dict[str, Any]:
    """Records/s of `archive run` from Kafka into PostgreSQL."""
    from aiokafka import AIOKafkaProducer
    from orderflow_cli.archive import run_archive

    namespace = f"bench{uuid.uuid4().hex[:6]}."
    rows = synthetic_rows(records // 10, records, 1)

    async def publish() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=infra.kafka_bootstrap, linger_ms=20, max_batch_size=512 * 1024
        )
        await producer.start()
        try:
            for row in rows:
                headers = [(k, str(v).encode()) for k, v in json.loads(row[13]).items()]
                await producer.send(
                    namespace + row[8], row[14].encode(), key=row[12].encode(), headers=headers
                )
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(publish())
    url = infra.create_database(f"ingest_{uuid.uuid4().hex[:8]}")
    engine = engine_for(url)
    started = time.monotonic()
    archiving = run_archive(infra.kafka_bootstrap, namespace, engine, namespace, True, 2000)
    stats = asyncio.run(archiving)
    seconds = time.monotonic() - started
    return {
        "records": stats.stored,
        "seconds": round(seconds, 1),
        "per_s": round(stats.stored / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--ingest", type=int, default=0, help="records for the archiver's rate")
    args = parser.parse_args()
    results = []
    with Infrastructure(kafka=args.ingest > 0) as infra, tempfile.TemporaryDirectory() as tmp:
        for backend in [b for b in args.backends.split(",") if b]:
            if backend == "postgres":
                url = infra.create_database(f"timeline_{uuid.uuid4().hex[:8]}")
            else:
                url = f"sqlite:///{Path(tmp) / 'archive.sqlite'}"
            result = bench_backend(backend, url, args, Path(tmp))
            print(json.dumps(result), flush=True)
            results.append(result)
        if args.ingest:
            print(json.dumps({"archive_ingest": ingest(infra, args.ingest)}), flush=True)
    print(f"\n{'backend':<10} {'events':>10} {'load s':>8} {'median ms':>10} {'p99 ms':>8}")
    for r in results:
        figures = f"{r['events']:>10,} {r['load_s']:>8} {r['median_ms']:>10} {r['p99_ms']:>8}"
        print(f"{r['backend']:<10} {figures}")


if __name__ == "__main__":
    main()
