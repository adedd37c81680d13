"""The `orderflow` command."""

from __future__ import annotations

import typer

from orderflow_cli import (
    archive,
    demo,
    dlq,
    export,
    lag,
    pipe,
    replay,
    store_tools,
    stuck,
    timeline,
)

app = typer.Typer(help="orderflow: event-sourced order processing on Kafka.", no_args_is_help=True)
app.command("demo")(demo.demo)
app.command("pipe")(pipe.pipe)
app.add_typer(archive.app, name="archive")
app.command("timeline")(timeline.timeline)
app.command("export")(export.export)
app.command("import")(export.import_)
app.add_typer(dlq.app, name="dlq")
app.command("lag")(lag.lag)
app.command("stuck")(stuck.stuck)
app.command("state")(store_tools.state)
app.command("rebuild")(store_tools.rebuild)
app.command("replay")(replay.replay)


@app.callback()
def main() -> None:
    """orderflow's operator and engineer tools."""
