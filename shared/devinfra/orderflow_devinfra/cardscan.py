"""Looking for card numbers and secrets where they must never be: stores, topics, logs.

A card number (PAN) here is 13 to 19 digits, optionally grouped by single spaces or
dashes, that passes the Luhn check and stands on its own (no letter or digit right
before or after it). Identifiers that merely contain long digit runs are removed
first: UUIDs (dashed) and hex strings of 16+ characters with a letter in them
(trace and span ids, hashes), so that a trace id is not taken for a card.
Matches are reported masked (first six and last four digits), never in full.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from orderflow_events.card import luhn_valid
from psycopg import sql

_TRACEPARENT: Final = re.compile(r"\b[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b")
"""A W3C traceparent: its span id is 16 random hex digits, all decimal one time in 1,850,
and with the flags (`-03`) it makes an 18-digit run that passes Luhn one time in ten."""
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_HEX_ID: Final = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}(?![0-9A-Za-z])"
)
_PAN: Final = re.compile(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])")


def mask(digits: str) -> str:
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def card_numbers(text: str) -> list[str]:
    """The card numbers in `text`, masked."""
    cleaned = _HEX_ID.sub(" ", _UUID.sub(" ", _TRACEPARENT.sub(" ", text)))
    found = []
    for match in _PAN.finditer(cleaned):
        digits = re.sub(r"[ -]", "", match.group())
        if luhn_valid(digits):
            found.append(mask(digits))
    return found


@dataclass
class Finding:
    where: str
    what: str


@dataclass
class ScanReport:
    scanned: dict[str, int] = field(default_factory=dict)
    """How many rows / records / log lines were read, by kind."""
    findings: list[Finding] = field(default_factory=list)

    def add_scanned(self, kind: str, count: int) -> None:
        self.scanned[kind] = self.scanned.get(kind, 0) + count

    def summary(self, limit: int = 20) -> str:
        head = [f"scanned {self.scanned}, {len(self.findings)} finding(s)"]
        return "\n".join(head + [f"  {f.where}: {f.what}" for f in self.findings[:limit]])


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def scan_databases(urls: Iterable[str], report: ScanReport | None = None) -> ScanReport:
    """Every row of every table (outside the system schemas) of each database."""
    report = report or ScanReport()
    for url in urls:
        database = url.rsplit("/", 1)[-1].split("?")[0]
        with psycopg.connect(url) as conn:  # a transaction: server-side cursors need one
            tables = conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' "
                "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            for schema, table in tables:
                query = sql.SQL("SELECT * FROM {}.{}").format(
                    sql.Identifier(str(schema)), sql.Identifier(str(table))
                )
                rows = 0
                with conn.cursor(name=f"scan_{table}"[:60]) as cursor:
                    cursor.execute(query)
                    for row in cursor:
                        rows += 1
                        for value in row:
                            for found in card_numbers(_text(value)):
                                report.findings.append(Finding(f"{database}.{table}", found))
                report.add_scanned("rows", rows)
    return report


async def scan_topics(
    bootstrap: str, topics: Iterable[str], report: ScanReport | None = None
) -> ScanReport:
    """Every record (key, value, headers) of each topic, from the start to its end now."""
    report = report or ScanReport()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            if not tps:
                continue
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            remaining = {tp for tp in tps if ends[tp] > 0}
            records = 0
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=2000)
                if not batch:
                    break
                for tp, part in batch.items():
                    for record in part:
                        records += 1
                        texts = [_text(record.key), _text(record.value)]
                        texts += [f"{k}={_text(v)}" for k, v in record.headers]
                        for text in texts:
                            for found in card_numbers(text):
                                report.findings.append(Finding(f"{topic}@{record.offset}", found))
                        if record.offset + 1 >= ends[tp]:
                            remaining.discard(tp)
            report.add_scanned("records", records)
    finally:
        await consumer.stop()
    return report


def scan_logs(paths: Iterable[Path], report: ScanReport | None = None) -> ScanReport:
    report = report or ScanReport()
    for path in paths:
        lines = 0
        with path.open(errors="replace") as log:
            for number, line in enumerate(log, 1):
                lines += 1
                for found in card_numbers(line):
                    report.findings.append(Finding(f"{path.name}:{number}", found))
        report.add_scanned("log_lines", lines)
    return report


def find_secrets(paths: Iterable[Path], secrets: dict[str, str]) -> list[Finding]:
    """Where any of `secrets` (name -> value) appears verbatim in the files."""
    findings = []
    for path in paths:
        text = path.read_text(errors="replace")
        for name, value in secrets.items():
            if value and value in text:
                findings.append(Finding(str(path.name), f"secret {name} appears"))
    return findings


def scan_topics_sync(bootstrap: str, topics: Iterable[str]) -> ScanReport:
    return asyncio.run(scan_topics(bootstrap, list(topics)))
