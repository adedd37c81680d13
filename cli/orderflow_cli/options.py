"""Options every tool command shares, and how commands print."""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from orderflow_cli.archive_db import DATABASE_URL_ENV, DEFAULT_DATABASE_URL

Bootstrap = Annotated[
    str,
    typer.Option("--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers."),
]
Namespace = Annotated[
    str, typer.Option("--namespace", help="Topic prefix of the shop (as TOPIC_NAMESPACE).")
]
DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar=DATABASE_URL_ENV,
        help="The archive: postgresql://... or sqlite:///path.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_URL = DEFAULT_DATABASE_URL

console = Console(stderr=True)
"""Tables, progress and messages go to stderr only when --json is on; else stdout."""
out = Console()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
