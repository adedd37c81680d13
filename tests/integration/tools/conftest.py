"""Fixtures of the tools' tests: the `orderflow` command on the real broker and PostgreSQL.

`tools` gives each test its own topic namespace, archive database (PostgreSQL) and
archive consumer group; `tools.run(...)` runs a command in-process (typer's runner,
fast) and `tools.run_process(...)` through the installed `orderflow` entry point.
Both return the parsed JSON of stdout when `--json` is among the arguments. The tests
are plain functions: the commands run their own event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer
from orderflow_cli.main import app
from orderflow_events import IntegrationEvent, KafkaRecord, to_record
from orderflow_events.samples import sample_events
from orderflow_runtime.kafka import ensure_topics
from typer.testing import CliRunner

ORDERFLOW = Path(sys.executable).parent / "orderflow"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Tools:
    bootstrap: str
    namespace: str
    database_url: str
    tmp: Path

    @property
    def group(self) -> str:
        return f"{self.namespace}orderflow-archive"

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"

    def args(self, *args: str, kafka: bool = True, archive: bool = True) -> list[str]:
        """`args` plus the options of this test's shop: namespace, broker, archive."""
        return [
            *args,
            *("--namespace", self.namespace),
            *(("--bootstrap", self.bootstrap) if kafka else ()),
            *(("--database-url", self.database_url) if archive else ()),
        ]

    def run(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        """In-process; args as the user types them (add `self.args(...)` for the options)."""
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output[-3000:]
        if code != 0:
            return result.output  # with stderr: what the user was told
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def run_process(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        """Through the installed entry point, as a separate process."""
        result = subprocess.run(
            [str(ORDERFLOW), *args],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == code, result.stderr[-3000:]
        return json.loads(result.stdout) if "--json" in args and code == 0 else result.stdout

    def publish(self, records: Sequence[KafkaRecord], **send: Any) -> None:
        """Send `records` (in this order) to their topics in this test's namespace."""
        asyncio.run(self._publish(records, **send))

    async def _publish(self, records: Sequence[KafkaRecord], **send: Any) -> None:
        await ensure_topics(self.bootstrap, {self.topic(r.topic) for r in records}, partitions=4)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for record in records:
                await producer.send_and_wait(
                    self.topic(record.topic),
                    record.value,
                    key=record.key,
                    headers=record.headers,
                    **send,
                )
        finally:
            await producer.stop()


@pytest.fixture
def tools(kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path) -> Tools:
    return Tools(kafka_bootstrap, f"t{uuid.uuid4().hex[:10]}.", database_url_factory(), tmp_path)


def _template(ce_type: str) -> IntegrationEvent:
    return next(e for e in sample_events() if e.ce_type == ce_type)


HAPPY_PATH: tuple[tuple[str, str | None, int], ...] = (
    # (event, index of its cause in this list, seconds after T0)
    ("orders.placed.v1", None, 0),
    ("payment.authorized.v1", "0", 1),
    ("inventory.stock_reserved.v1", "1", 2),
    ("fulfillment.shipped.v1", "2", 60),
    ("payment.captured.v1", "3", 61),
    ("inventory.stock_committed.v1", "3", 59),  # a skewed clock: stamped before its cause
    ("fulfillment.delivered.v1", "3", 120),
)


@dataclass
class OrderRecords:
    order_id: str
    ids: list[str]
    records: list[KafkaRecord]


def order_records(order_id: UUID | None = None, start: datetime = T0) -> OrderRecords:
    """The happy path of one order as its producers publish it (ids, causes, sequences)."""
    order_id = order_id or uuid.uuid4()
    ids = [str(uuid.uuid4()) for _ in HAPPY_PATH]
    records = []
    for number, (ce_type, cause, seconds) in enumerate(HAPPY_PATH):
        event = _template(ce_type).model_copy(update={"order_id": order_id})
        records.append(
            to_record(
                event,
                event_id=ids[number],
                time=start + timedelta(seconds=seconds),
                causation_id=None if cause is None else ids[int(cause)],
                sequence=number + 1,
            )
        )
    return OrderRecords(str(order_id), ids, records)
