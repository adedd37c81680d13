"""`orderflow dlq list|show|redrive|purge`: the dead letters of the shop and what became of them.

Dead letters are read from the `<topic>.dlq` topics on the broker; what was done
with each (redriven, purged: who, when) is in the archive database's audit table
`dlq_actions`. `list` hides the handled ones unless `--all`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Engine

from orderflow_cli.archive_db import engine_for, fates, record_actions
from orderflow_cli.dead_letters import (
    Coordinates,
    DeadLetter,
    all_dlq_topics,
    dlq_name,
    parse_coordinates,
    read_at,
    read_letters,
)
from orderflow_cli.kafka_io import writer
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

app = typer.Typer(help="Dead letters: list, show, redrive to their topic, purge.")

TopicFilter = Annotated[
    str | None, typer.Option("--topic", help="Only this topic's dead letters (payment.events).")
]
Selection = Annotated[
    list[str] | None, typer.Argument(help="TOPIC PARTITION OFFSET of each dead letter.")
]
AllPending = Annotated[bool, typer.Option("--all", help="Every dead letter not handled yet.")]
Force = Annotated[bool, typer.Option(help="Also act on dead letters already handled.")]


@app.command("list")
def list_(
    topic: TopicFilter = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also the redriven and purged ones, with their fate.")
    ] = False,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """The dead letters waiting for someone (reason, consumer, error, attempts, origin), oldest
    first."""
    letters = _letters(bootstrap, namespace, topic, engine_for(database_url))
    rows = [letter.summary() for letter in letters if show_all or letter.fate is None]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} dead letters")
    columns = ("dead letter", "failed at", "consumer", "reason", "tries", "event", "error")
    for column in (*columns, *(("fate",) if show_all else ())):
        table.add_column(column, overflow="fold")
    for row in rows:
        fate = row["fate"]
        table.add_row(
            f"{row['topic']} {row['partition']} {row['offset']}",
            (row["failed_at"] or "")[:19],
            row["consumer"],
            row["reason"],
            str(row["attempts"]),
            f"{row['event_type']}\n{row['event_id']}",
            (row["error"] or "")[:120],
            *((f"{fate['action']} by {fate['who']}" if fate else "pending",) if show_all else ()),
        )
    out.print(table)


def _letters(bootstrap: str, namespace: str, topic: str | None, engine: Engine) -> list[DeadLetter]:
    topics = [dlq_name(namespace, topic)] if topic else all_dlq_topics(namespace)
    with progress_bar(console) as progress:
        task = progress.add_task("reading dead letters", total=None)
        letters = asyncio.run(read_letters(bootstrap, topics, lambda n: progress.advance(task, n)))
    known = fates(engine)
    letters.sort(key=lambda x: (x.record.header("dlq_failed_at") or "", x.coordinates))
    return [DeadLetter(x.record, known.get(x.coordinates)) for x in letters]


@app.command("show")
def show(
    topic: Annotated[str, typer.Argument(help="The dead-letter topic (or its event topic).")],
    partition: int,
    offset: int,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """One dead letter in full: every header, the key, the value, and its fate."""
    letter = _select(bootstrap, namespace, engine_for(database_url), [topic, partition, offset])[0]
    details = letter.full()
    if as_json:
        print_json(details)
        return
    record = details.pop("record")
    for name, value in details.items():
        out.print(f"[bold]{name}[/bold]: {value}")
    out.print("[bold]headers[/bold]:")
    for name, value in record["headers"].items():
        out.print(f"  {name}: {value}")
    out.print(f"[bold]key[/bold]: {record['key']}")
    out.print_json(data=record.get("value"))


def _select(bootstrap: str, namespace: str, engine: Engine, args: list[Any]) -> list[DeadLetter]:
    try:
        coordinates = parse_coordinates([str(a) for a in args], namespace)
        letters = asyncio.run(read_at(bootstrap, coordinates))
    except (ValueError, LookupError) as error:
        fail(str(error))
    known = fates(engine)
    return [DeadLetter(x.record, known.get(x.coordinates)) for x in letters]


def _chosen(
    selection: list[str] | None,
    every: bool,
    topic: str | None,
    force: bool,
    common: tuple[str, str, Engine],
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """(letters to act on, handled letters skipped) for `--all` or TOPIC PARTITION OFFSET..."""
    bootstrap, namespace, engine = common
    if every == bool(selection):
        fail("give --all or TOPIC PARTITION OFFSET ...")
    if every:
        letters = _letters(bootstrap, namespace, topic, engine)
    else:
        letters = _select(bootstrap, namespace, engine, list(selection or []))
    skipped = [x for x in letters if x.fate is not None and not force]
    return [x for x in letters if x.fate is None or force], skipped


@app.command("redrive")
def redrive(
    selection: Selection = None,
    every: AllPending = False,
    topic: TopicFilter = None,
    force: Force = False,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Send dead letters back to their original topic (header orderflow_redriven=<dlq coords>)."""
    engine = engine_for(database_url)
    letters, skipped = _chosen(selection, every, topic, force, (bootstrap, namespace, engine))
    targets = asyncio.run(_redrive(bootstrap, letters))
    record_actions(engine, "redrive", [_audit(x, t) for x, t in zip(letters, targets, strict=True)])
    _report("redriven", letters, skipped, targets, as_json)


async def _redrive(bootstrap: str, letters: list[DeadLetter]) -> list[str]:
    """Publish each letter to its original topic; where each landed (topic:partition:offset)."""
    targets = []
    async with writer(bootstrap) as producer:
        for letter in letters:
            topic = letter.original_topic
            partitions = await producer.partitions_for(topic)
            part = letter.original_partition
            metadata = await producer.send_and_wait(
                topic,
                letter.record.value,
                key=letter.record.key,
                headers=letter.redrive_headers(),
                partition=part if part is not None and part in partitions else None,
            )
            targets.append(f"{metadata.topic}:{metadata.partition}:{metadata.offset}")
    return targets


@app.command("purge")
def purge(
    selection: Selection = None,
    every: AllPending = False,
    topic: TopicFilter = None,
    force: Force = False,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
    namespace: Namespace = "",
    database_url: DatabaseUrl = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Mark dead letters as handled without redriving them (they stay on the topic)."""
    engine = engine_for(database_url)
    letters, skipped = _chosen(selection, every, topic, force, (bootstrap, namespace, engine))
    record_actions(engine, "purge", [_audit(x, None) for x in letters])
    _report("purged", letters, skipped, [None] * len(letters), as_json)


def _audit(letter: DeadLetter, target: str | None) -> dict[str, Any]:
    topic, partition, offset = letter.coordinates
    return {
        "dlq_topic": topic,
        "partition": partition,
        "offset": offset,
        "event_id": letter.record.header("ce_id"),
        "event_type": letter.record.header("ce_type"),
        "target": target,
    }


def _report(
    verb: str,
    done: list[DeadLetter],
    skipped: list[DeadLetter],
    targets: Sequence[str | None],
    as_json: bool,
) -> None:
    def coordinates(letter: DeadLetter) -> Coordinates:
        return letter.coordinates

    if as_json:
        print_json(
            {
                verb: [
                    {"dead_letter": ":".join(map(str, coordinates(x))), "target": t}
                    for x, t in zip(done, targets, strict=True)
                ],
                "skipped": [":".join(map(str, coordinates(x))) for x in skipped],
            }
        )
        return
    for letter, target in zip(done, targets, strict=True):
        where = f" -> {target}" if target else ""
        out.print(f"{verb} {' '.join(map(str, coordinates(letter)))}{where}")
    for letter in skipped:
        out.print(f"skipped {' '.join(map(str, coordinates(letter)))}: already {letter.fate}")
    out.print(f"{len(done)} {verb}, {len(skipped)} skipped (already handled; --force to redo)")
