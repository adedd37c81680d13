"""`orderflow pipe`: the chassis pipe alone, with visible progress.

A local Kafka broker and the two probe services
(separate processes, SQLite stores): orders stored by the source are relayed to
`orders.events` and applied by the sink through its idempotent inbox.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from orderflow_devinfra import Infrastructure
from orderflow_devinfra.processes import ServiceProcess
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=True)


def pipe(
    orders: Annotated[int, typer.Option(help="How many orders to push through.", min=1)] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
) -> None:
    """Start a local broker and the chassis pipe, push orders through, print what happened."""
    with Infrastructure(postgres=False) as infra, tempfile.TemporaryDirectory() as tmp:
        console.print(f"Kafka ({infra.kafka_kind}) at {infra.kafka_bootstrap}; stores in {tmp}")
        ports = {"source": free_port(), "sink": free_port()}
        processes = [probe_process(role, infra.kafka_bootstrap, Path(tmp), ports) for role in ports]
        try:
            for process in processes:
                process.start()
            result = run_orders(orders, ports, processes)
        finally:
            for process in processes:
                process.stop()
    if as_json:
        typer.echo(json.dumps(result))
    else:
        print_summary(result)


def probe_process(role: str, bootstrap: str, tmp: Path, ports: dict[str, int]) -> ServiceProcess:
    env = {
        "PROBE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROBE_DATA_DIR": str(tmp / "data"),
        "PROBE_HTTP_PORT": str(ports[role]),
        "PROBE_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess(
        f"probe-{role}", ["orderflow_runtime.probe", role], env, tmp / f"{role}.log"
    )


def run_orders(
    orders: int, ports: dict[str, int], processes: list[ServiceProcess]
) -> dict[str, Any]:
    source, sink = (f"http://127.0.0.1:{ports[role]}" for role in ("source", "sink"))
    with httpx.Client(timeout=60) as http:
        wait_ready(http, source, processes)
        wait_ready(http, sink, processes)
        started = time.monotonic()
        placed = 0
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            stored = progress.add_task("stored by the source", total=orders)
            applied = progress.add_task("applied by the sink ", total=orders)
            while placed < orders:
                count = min(250, orders - placed)
                http.post(f"{source}/probe/orders", params={"count": count}).raise_for_status()
                placed += count
                progress.update(stored, completed=placed)
                progress.update(applied, completed=stats(http, sink)["applied"])
            deadline = time.monotonic() + 120
            while (done := stats(http, sink)["applied"]) < orders:
                if time.monotonic() > deadline:
                    fail(f"only {done} of {orders} applied after 120 s")
                progress.update(applied, completed=done)
                time.sleep(0.1)
            progress.update(applied, completed=done)
        seconds = time.monotonic() - started
        return {
            "orders": orders,
            "published": stats(http, source)["published"],
            "applied": done,
            "seconds": round(seconds, 2),
            "events_per_s": round(orders / seconds, 1),
        }


def wait_ready(http: httpx.Client, base: str, processes: list[ServiceProcess]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http.get(f"{base}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not all(p.running for p in processes):
            dead = next(p for p in processes if not p.running)
            fail(f"{dead.name} exited:\n{dead.log_tail()}")
        time.sleep(0.2)
    fail(f"{base} not ready after 60 s")


def stats(http: httpx.Client, base: str) -> dict[str, int]:
    response = http.get(f"{base}/probe/stats")
    response.raise_for_status()
    result: dict[str, int] = response.json()
    return result


def fail(message: str) -> NoReturn:
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def print_summary(result: dict[str, Any]) -> None:
    table = Table(title="chassis pipe: store -> relay -> Kafka -> inbox -> store")
    for column in ("orders", "published", "applied", "seconds", "events/s"):
        table.add_column(column, justify="right")
    table.add_row(
        *(str(result[k]) for k in ("orders", "published", "applied", "seconds")),
        f"{result['events_per_s']:,}",
    )
    Console().print(table)
