"""The test harness itself: real broker and database, restart, pause, cleanup."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from orderflow_devinfra import Infrastructure, LocalKafka, LocalPostgres
from orderflow_devinfra.kafka_admin import create_topics, delete_topics, list_topics
from orderflow_devinfra.kafka_local import new_cluster_id
from orderflow_devinfra.postgres_local import normalize_url, with_database


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int, wait: float = 20) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(wait):
            while len(values) < count:
                msg = await consumer.getone()
                assert msg.value is not None
                values.append(msg.value)
    finally:
        await consumer.stop()
    return values


pytestmark = pytest.mark.integration


def _topic() -> str:
    return f"harness-{uuid4().hex[:8]}"


# -- unit tests: no infrastructure ----------------------------------------------------


def test_cluster_id_format() -> None:
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_url_helpers() -> None:
    assert normalize_url("postgresql+psycopg://u:p@h:1/d") == "postgresql://u:p@h:1/d"
    assert normalize_url("postgres://h/d") == "postgresql://h/d"
    assert with_database("postgresql://u@h:5/postgres?sslmode=disable", "x") == (
        "postgresql://u@h:5/x?sslmode=disable"
    )


# -- the shared infrastructure --------------------------------------------------------


async def test_kafka_produce_consume(infra: Infrastructure, kafka_bootstrap: str) -> None:
    topic = _topic()
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    await create_topics(kafka_bootstrap, [topic], partitions=2)  # idempotent
    assert topic in await list_topics(kafka_bootstrap)
    await _produce(kafka_bootstrap, topic, b"hello")
    assert await _consume(kafka_bootstrap, topic, 1) == [b"hello"]
    await delete_topics(kafka_bootstrap, [topic, "never-existed"])


def test_postgres_create_database(database_url_factory: Callable[[], str]) -> None:
    first, second = database_url_factory(), database_url_factory()
    assert first != second
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int primary key, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'a')")
        assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone() == ("a",)
    with psycopg.connect(second) as conn:  # a different, empty database
        count = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()
        assert count == (0,)


# -- private servers for fault injection ----------------------------------------------


async def test_kafka_restart_and_kill_keep_data(local_kafka: LocalKafka) -> None:
    bootstrap = local_kafka.bootstrap_servers
    topic = _topic()
    await _produce(bootstrap, topic, b"before-restart")  # auto-created topic

    assert await asyncio.to_thread(local_kafka.restart) == bootstrap
    await _produce(bootstrap, topic, b"after-restart")

    local_kafka.kill()
    assert not local_kafka.running
    assert await asyncio.to_thread(local_kafka.start) == bootstrap
    values = await _consume(bootstrap, topic, 2)
    assert values == [b"before-restart", b"after-restart"]


def test_postgres_pause_resume(local_postgres: LocalPostgres) -> None:
    url = local_postgres.url
    with psycopg.connect(url, autocommit=True) as conn, ThreadPoolExecutor(1) as pool:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        local_postgres.pause()
        try:
            pending = pool.submit(lambda: conn.execute("SELECT 2").fetchone())
            with pytest.raises(FutureTimeout):
                pending.result(timeout=1)  # hangs while paused
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(url, connect_timeout=1)
        finally:
            local_postgres.resume()
        assert pending.result(timeout=10) == (2,)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL the Python that owns a server: the watchdog reaps it and its temp dir."""
    script = (
        "import sys, time\n"
        "from orderflow_devinfra import LocalPostgres\n"
        "pg = LocalPostgres(fast=True)\n"
        "pg.start()\n"
        "print(pg.pid, pg.workdir, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        pid_text, workdir = proc.stdout.readline().split()
        pid = int(pid_text)
        assert Path(f"/proc/{pid}").exists()
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_alive(pid) or Path(workdir).exists()):
        time.sleep(0.1)
    assert not _alive(pid), "postmaster outlived its parent"
    assert not Path(workdir).exists(), "temp dir left behind"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
