"""Chassis benchmark: the raw Kafka ceiling and the pipe store -> relay -> Kafka -> inbox -> store.

Not a test: it prints figures. Each figure is the median of `--runs` runs.

- raw aiokafka: one idempotent producer (acks=all) and one consumer, in one process,
  moving `--raw-events` records of the size of an OrderPlaced event;
- the pipe, on PostgreSQL and on SQLite: `--events` OrderPlaced events are stored in
  the probe source's store first; then the probe sink and source run as separate
  processes and the sink applies every event into its own store. Reported: the
  steady rate (10% -> 90% of the events applied), the relay's own rate, the time to
  drain, and each process's CPU seconds (where the time goes).

    .venv/bin/python bench/pipe_benchmark.py [--events 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from orderflow_devinfra import Infrastructure
from orderflow_devinfra.processes import ServiceProcess
from orderflow_runtime.probe import BUCKETS, ProbeSettings, ProbeSink, ProbeSource, sample_order
from orderflow_runtime.store import RELAY_TRACKING_NAME

RESULTS = Path(__file__).parent / "results" / "pipe.json"


async def raw_kafka(bootstrap: str, events: int) -> float:
    """Events/s for producing and consuming `events` OrderPlaced-sized records."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    value = sample_order(uuid.uuid4()).model_dump_json().encode()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=512 * 1024,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        max_poll_records=2000,
        fetch_max_bytes=16 * 1024 * 1024,
        metadata_max_age_ms=500,
    )
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up", key=b"0")
    await consumer.start()
    started = time.perf_counter()

    async def produce() -> None:
        futures = [
            await producer.send(topic, value, key=str(i % 4096).encode()) for i in range(events)
        ]
        await asyncio.gather(*futures)

    async def consume() -> None:
        seen = 0
        while seen < events + 1:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            seen += sum(len(records) for records in batch.values())

    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    return events / elapsed


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pipe_run(infra: Infrastructure, backend: str, events: int, work: Path) -> dict[str, float]:
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    urls = {
        role: infra.create_database(f"bench_{role}_{uuid.uuid4().hex[:8]}")
        if backend == "postgres"
        else None
        for role in ("source", "sink")
    }

    def settings(role: str) -> ProbeSettings:
        return ProbeSettings(
            service_name=f"probe-{role}",
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            topic_namespace=namespace,
            data_dir=work / namespace,
            database_url=urls[role],
            consumer_group=f"{namespace}probe-{role}",
        )

    def process(role: str) -> ServiceProcess:
        s = settings(role)
        env = {
            "PROBE_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "PROBE_TOPIC_NAMESPACE": namespace,
            "PROBE_DATA_DIR": str(s.data_dir),
            "PROBE_CONSUMER_GROUP": s.group_id,
            "PROBE_HTTP_PORT": "0",
            "PROBE_LOG_LEVEL": "WARNING",
        }
        if urls[role]:
            env["PROBE_DATABASE_URL"] = urls[role] or ""
        return ServiceProcess(
            f"probe-{role}", ["orderflow_runtime.probe", role], env, work / f"{namespace}{role}.log"
        )

    source_store, sink_store = ProbeSource(settings("source")), ProbeSink(settings("sink"))
    source_store.place(events, per_transaction=500)
    sink = process("sink").start()
    time.sleep(3)  # let the sink join its group before the flood
    source = process("source").start()
    started = time.perf_counter()
    samples: list[tuple[float, int, int]] = []
    deadline = started + 600
    while time.perf_counter() < deadline:
        applied = max(0, sink_store.max_notification_id() - BUCKETS)
        relayed = source_store.position(RELAY_TRACKING_NAME)
        samples.append((time.perf_counter(), relayed, applied))
        if applied >= events:
            break
        if not (sink.running and source.running):
            raise RuntimeError(f"a probe died:\n{sink.log_tail()}\n{source.log_tail()}")
        time.sleep(0.05)
    else:
        raise RuntimeError(f"pipe did not drain: {samples[-1]}")
    cpu = {"source_cpu_s": cpu_seconds(source.pid), "sink_cpu_s": cpu_seconds(sink.pid)}
    source.stop()
    sink.stop()
    source_store.close()
    sink_store.close()
    return {
        "pipe_events_per_s": steady_rate(samples, 2, events),
        "relay_events_per_s": steady_rate(samples, 1, events),
        "drain_s": samples[-1][0] - started,
        **cpu,
    }


def steady_rate(samples: list[tuple[float, int, int]], column: int, total: int) -> float:
    """Events/s between the samples where 10% and 90% of `total` were reached."""

    def first_at(fraction: float) -> tuple[float, int]:
        for sample in samples:
            if sample[column] >= fraction * total:
                return sample[0], sample[column]
        return samples[-1][0], samples[-1][column]

    (t0, n0), (t1, n1) = first_at(0.1), first_at(0.9)
    return (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--raw-events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="postgres,sqlite")
    args = parser.parse_args()
    results: dict[str, Any] = {"events": args.events, "runs": args.runs}
    with Infrastructure() as infra, tempfile.TemporaryDirectory() as tmp:
        print(f"broker: {infra.kafka_bootstrap}; PostgreSQL ({infra.kind}); {os.cpu_count()} cores")
        raw = [
            asyncio.run(raw_kafka(infra.kafka_bootstrap, args.raw_events)) for _ in range(args.runs)
        ]
        results["raw_kafka_events_per_s"] = statistics.median(raw)
        print(f"raw aiokafka produce+consume: {results['raw_kafka_events_per_s']:,.0f} events/s")
        for backend in args.backends.split(","):
            runs = []
            for run in range(args.runs):
                runs.append(pipe_run(infra, backend, args.events, Path(tmp)))
                print(f"  {backend} run {run + 1}: {runs[-1]['pipe_events_per_s']:,.0f} events/s")
            results[backend] = median_of(runs)
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


def print_table(results: dict[str, Any]) -> None:
    print(f"\nmedians of {results['runs']} runs, {results['events']:,} events each")
    print(f"{'measure':<34}{'postgres':>14}{'sqlite':>14}")
    rows = [
        ("pipe events/s (steady)", "pipe_events_per_s", "{:,.0f}"),
        ("relay events/s (steady)", "relay_events_per_s", "{:,.0f}"),
        ("time to drain (s)", "drain_s", "{:.1f}"),
        ("relay process CPU (s)", "source_cpu_s", "{:.1f}"),
        ("inbox process CPU (s)", "sink_cpu_s", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        cells = [
            fmt.format(results[b][key]) if b in results else "-" for b in ("postgres", "sqlite")
        ]
        print(f"{label:<34}{cells[0]:>14}{cells[1]:>14}")
    print(f"{'raw aiokafka produce+consume':<34}{results['raw_kafka_events_per_s']:>14,.0f}")


if __name__ == "__main__":
    main()
