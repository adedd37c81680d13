"""`orderflow lag`: how far each consumer group is behind, per partition of the shop's topics."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from aiokafka.admin import AIOKafkaAdminClient
from orderflow_events import TOPIC_SERVICE
from rich.table import Table

from orderflow_cli.archive import ARCHIVE_GROUP
from orderflow_cli.kafka_io import partitions_of, reader, shop_topics
from orderflow_cli.options import DEFAULT_BOOTSTRAP, AsJson, Bootstrap, Namespace, out, print_json

DEFAULT_GROUPS = (*TOPIC_SERVICE.values(), ARCHIVE_GROUP)
"""The six services' groups (each is named after its service) and the archive's."""


def lag(
    groups: Annotated[
        list[str] | None,
        typer.Option("--group", help="Consumer group (repeat); default: the six and the archive."),
    ] = None,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    as_json: AsJson = False,
) -> None:
    """Consumer lag per group and partition (end offset minus committed offset), with totals."""
    report = asyncio.run(group_lags(bootstrap, namespace, list(groups or DEFAULT_GROUPS)))
    if as_json:
        print_json(report)
        return
    table = Table(title=f"consumer lag: {report['total']} records")
    for column in ("group", "topic", "partition", "committed", "end", "lag"):
        right = column in ("committed", "end", "lag")
        table.add_column(column, justify="right" if right else "left")
    for group in report["groups"]:
        if not group["partitions"]:
            table.add_row(group["group"], "[dim]no committed offsets[/dim]", "", "", "", "")
        for row in group["partitions"]:
            if row["committed"] is None and row["end"] == 0:
                continue  # an empty partition the group never had anything from
            committed = "-" if row["committed"] is None else str(row["committed"])
            table.add_row(
                group["group"], row["topic"], str(row["partition"]), committed,
                str(row["end"]), str(row["lag"]),
            )  # fmt: skip
        table.add_row(f"[bold]{group['group']}[/bold]", "total", "", "", "", str(group["lag"]))
    out.print(table)


async def group_lags(bootstrap: str, namespace: str, groups: list[str]) -> dict[str, Any]:
    """{"groups": [{"group", "lag", "partitions": [...]}], "total"} for the shop's topics."""
    topics = set(shop_topics(namespace))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with reader(bootstrap) as consumer:
            found = []
            for group in groups:
                committed = {
                    tp: meta.offset
                    for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                    if tp.topic in topics and meta.offset >= 0
                }
                parts = await partitions_of(consumer, sorted({tp.topic for tp in committed}))
                starts = await consumer.beginning_offsets(parts) if parts else {}
                ends = await consumer.end_offsets(parts) if parts else {}
                rows = [
                    partition_lag(tp.topic, tp.partition, committed.get(tp), starts[tp], ends[tp])
                    for tp in parts
                ]
                total = sum(r["lag"] for r in rows)
                found.append({"group": group, "lag": total, "partitions": rows})
    finally:
        await admin.close()
    return {"groups": found, "total": sum(g["lag"] for g in found)}


def partition_lag(
    topic: str, partition: int, committed: int | None, start: int, end: int
) -> dict[str, Any]:
    """A partition the group has not committed on yet lags from the log start."""
    position = start if committed is None else max(committed, start)
    return {
        "topic": topic,
        "partition": partition,
        "committed": committed,
        "end": end,
        "lag": max(0, end - position),
    }
