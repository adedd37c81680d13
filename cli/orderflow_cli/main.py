"""The `orderflow` command."""

from __future__ import annotations

import typer

from orderflow_cli import demo, pipe

app = typer.Typer(help="orderflow: event-sourced order processing on Kafka.", no_args_is_help=True)
app.command("demo")(demo.demo)
app.command("pipe")(pipe.pipe)


@app.callback()
def main() -> None:
    """orderflow's operator and engineer tools."""
