"""What the saga benchmark measures: CPU from /proc, and the saga from its own events.

Every figure about the saga comes from the topics, read once at the end: each order's
`ce_time` of OrderPlaced, PaymentAuthorized, StockReserved, Shipped and Delivered (the
time each service recorded the fact), compared with the driver's wall-clock time of the
checkout's 201. Same machine, same clock.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from orderflow_events import (
    ALL_TOPICS,
    Delivered,
    OrderPlaced,
    PaymentAuthorized,
    Shipped,
    StockReserved,
    service_of,
)
from saga_driver import Load

STAGES: tuple[tuple[str, str], ...] = (
    ("placed", OrderPlaced.ce_type),
    ("authorized", PaymentAuthorized.ce_type),
    ("reserved", StockReserved.ce_type),
    ("shipped", Shipped.ce_type),
    ("delivered", Delivered.ce_type),
)
STAGE_OF = {ce_type: stage for stage, ce_type in STAGES}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- CPU ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, list[str]]:
    """(ppid, the fields after the command name) of /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), fields


def _process_table() -> dict[int, tuple[int, list[str]]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                table[int(entry)] = _stat(int(entry))
    return table


def cpu_snapshot(roots: Mapping[str, tuple[int, bool]]) -> dict[str, float]:
    """CPU seconds so far of each named process (utime + stime).

    `roots`: name -> (pid, with_tree). With the tree, the process's descendants count
    too, the live ones by their own time and the finished ones through the parent's
    cutime/cstime (PostgreSQL's backends). Also `machine_busy` and `machine_total`
    (all cores, from /proc/stat).
    """
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seconds: dict[str, float] = {}
    for name, (root, tree) in roots.items():
        if root not in table:
            continue
        ticks = 0
        stack, first = [root], True
        while stack:
            pid = stack.pop()
            fields = table[pid][1]
            ticks += int(fields[11]) + int(fields[12])
            if tree and first:
                ticks += int(fields[13]) + int(fields[14])
            if tree:
                stack.extend(children.get(pid, []))
            first = False
        seconds[name] = ticks / CLK_TCK
    cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = cpu[3] + cpu[4]
    seconds["machine_total"] = sum(cpu) / CLK_TCK
    seconds["machine_busy"] = (sum(cpu) - idle) / CLK_TCK
    return seconds


def cpu_share(
    before: Mapping[str, float], after: Mapping[str, float], seconds: float
) -> dict[str, float]:
    """Each process's CPU over the window as % of all cores (100 = every core busy)."""
    cores = os.cpu_count() or 1
    share = {
        name: 100 * (after[name] - before[name]) / (seconds * cores)
        for name in before
        if name in after and not name.startswith("machine_")
    }
    total = after["machine_total"] - before["machine_total"]
    share["machine"] = 100 * (after["machine_busy"] - before["machine_busy"]) / total
    share["other"] = max(0.0, share["machine"] - sum(v for k, v in share.items() if k != "machine"))
    return share


def machine_busy(seconds: float) -> float:
    """% of all cores busy over the next `seconds` (whatever runs: other jobs too)."""
    before = cpu_snapshot({})
    time.sleep(seconds)
    after = cpu_snapshot({})
    busy = after["machine_busy"] - before["machine_busy"]
    return 100 * busy / (after["machine_total"] - before["machine_total"])


# -- the topics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    topic: str
    type: str
    subject: str | None
    time: float
    """ce_time, epoch seconds."""


async def read_all(bootstrap: str, namespace: str, timeout: float = 120) -> list[Event]:
    """Every record of the six topics, start to current end; headers only (no validation)."""
    topics = [namespace + topic for topic in ALL_TOPICS]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    events: list[Event] = []
    try:
        partitions = await _partitions(consumer, topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                topic = tp.topic[len(namespace) :]
                for record in records:
                    headers = {name: value.decode() for name, value in record.headers}
                    subject = headers.get("ce_subject")
                    stamp = datetime.fromisoformat(headers["ce_time"]).timestamp()
                    events.append(Event(topic, headers["ce_type"], subject, stamp))
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise RuntimeError(
                f"could not read the topics to their end: {sorted(map(str, pending))}"
            )
    finally:
        await consumer.stop()
    return events


async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    metadata = await consumer._client.fetch_all_metadata()
    found = []
    for topic in topics:
        for partition in sorted(metadata.partitions_for_topic(topic) or ()):
            found.append(TopicPartition(topic, partition))
    return found


async def topic_counts(consumer: AIOKafkaConsumer, namespace: str) -> dict[str, int]:
    """Records on each of the six topics so far (end offsets; the drain check)."""
    partitions = await _partitions(consumer, [namespace + topic for topic in ALL_TOPICS])
    ends = await consumer.end_offsets(partitions)
    counts = dict.fromkeys(ALL_TOPICS, 0)
    for tp, end in ends.items():
        counts[tp.topic[len(namespace) :]] += end
    return counts


# -- the figures -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def stage_times(events: Iterable[Event]) -> dict[str, dict[str, float]]:
    """order id -> stage -> ce_time of the first event of that stage."""
    orders: dict[str, dict[str, float]] = {}
    for event in events:
        stage = STAGE_OF.get(event.type)
        if stage is None or event.subject is None:
            continue
        times = orders.setdefault(event.subject, {})
        if stage not in times or event.time < times[stage]:
            times[stage] = event.time
    return orders


def phase_figures(
    load: Load,
    events: list[Event],
    stages: dict[str, dict[str, float]],
    cpu: dict[str, float],
) -> dict[str, Any]:
    """The figures of one phase (one offered rate, or the maximum-throughput run)."""
    start, end = load.window
    seconds = end - start
    delivered_in_window = sum(
        1 for times in stages.values() if start <= times.get("delivered", -1) <= end
    )
    ship_ms, deliver_ms = [], []
    steps: dict[str, list[float]] = {}
    for order_id, accepted in load.accepted.items():
        times = stages.get(order_id, {})
        if "shipped" in times:
            ship_ms.append(1000 * (times["shipped"] - accepted))
        if "delivered" in times:
            deliver_ms.append(1000 * (times["delivered"] - accepted))
        for (a, _), (b, _) in [*itertools.pairwise(STAGES), (STAGES[0], STAGES[3])]:
            if a in times and b in times:
                steps.setdefault(f"{a}->{b}", []).append(1000 * (times[b] - times[a]))
    published: dict[str, int] = {}
    for event in events:
        if start <= event.time <= end:
            service = service_of(event.topic)
            published[service] = published.get(service, 0) + 1
    accepted_in_window = sum(1 for t in load.accepted.values() if t <= end)
    middle = (start + end) / 2
    halves: tuple[list[float], list[float]] = ([], [])
    for order_id, accepted in load.accepted.items():
        if "shipped" in stages.get(order_id, {}):
            halves[accepted > middle].append(1000 * (stages[order_id]["shipped"] - accepted))
    first, second = percentile(halves[0], 50), percentile(halves[1], 50)
    kept_up = (
        load.offered_per_s is not None
        and accepted_in_window >= 0.95 * load.offered_per_s * seconds
        and len(deliver_ms) == len(load.accepted)
        and second <= 1.5 * first + 100
    )
    return {
        "offered_per_s": load.offered_per_s,
        "seconds": seconds,
        "customers_started": load.started,
        "orders_accepted": len(load.accepted),
        "accepted_per_s": accepted_in_window / seconds,
        "orders_per_s": delivered_in_window / seconds,
        "orders_delivered": len(deliver_ms),
        "orders_not_delivered": len(load.accepted) - len(deliver_ms),
        "kept_up": kept_up,
        "ship_p50_ms_halves": [first, second],
        "http_errors": load.errors,
        "checkout_flow_ms": _summary([1000 * s for s in load.flow_s]),
        "ship_ms": _summary(ship_ms),
        "deliver_ms": _summary(deliver_ms),
        "stages_ms": {name: _summary(values) for name, values in steps.items()},
        "events_per_s": {s: n / seconds for s, n in sorted(published.items())},
        "cpu_percent": {name: round(value, 1) for name, value in cpu.items()},
        "cpu_ms_per_order": cpu_ms_per_order(cpu, accepted_in_window / seconds),
    }


def cpu_ms_per_order(cpu_percent: Mapping[str, float], accepted_per_s: float) -> dict[str, float]:
    """CPU time per accepted order, by process (from its share of all cores over the
    window); empty when no order was accepted."""
    if accepted_per_s <= 0:
        return {}
    cores = os.cpu_count() or 1
    return {
        name: round(percent / 100 * cores * 1000 / accepted_per_s, 2)
        for name, percent in cpu_percent.items()
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values, default=math.nan),
        "n": len(values),
    }
