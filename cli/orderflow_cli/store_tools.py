"""`orderflow state` and `orderflow rebuild`: a service's aggregates and read models, read
straight from its event store (the service's own settings and `build`)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from eventsourcing.application import AggregateNotFoundError
from orderflow_runtime.context import context_of
from orderflow_runtime.logs import configure_logging
from orderflow_runtime.parallel_rebuild import can_fork
from orderflow_runtime.projections import Projections
from orderflow_runtime.service import ServiceSpec, tune_garbage_collector
from orderflow_runtime.settings import ServiceSettings
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, Integer, create_engine, func, select, text
from sqlalchemy import Table as SqlTable

from orderflow_cli import services
from orderflow_cli.progress import progress_bar
from orderflow_cli.store_diff import RowDifference, aggregate_attributes, diff_tables, json_safe

REBUILD_BATCH = 5_000
"""Events per transaction of a rebuild (a live catch-up uses the chassis' 1,000)."""
REBUILD_WORKERS = min(os.cpu_count() or 1, 4)
"""Processes of a rebuild whose read models are all per aggregate (one per core, to 4)."""

Service = Annotated[
    str, typer.Argument(help="catalog, cart, payment, inventory, fulfillment or notification.")
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The service's store (postgresql://...); default: <NAME>_DATABASE_URL, else SQLite.",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder of the SQLite store; default: <NAME>_DATA_DIR."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]


def consoles(as_json: bool) -> tuple[Console, Console]:
    """(what the command prints, where progress and messages go): stderr when --json."""
    err = Console(stderr=True)
    return (err if as_json else Console()), err


def fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextlib.contextmanager
def opened(
    service: str, database_url: str | None, data_dir: Path | None, **settings: Any
) -> Iterator[tuple[ServiceSettings, ServiceSpec]]:
    """The service built on its store, closed afterwards (its logs: warnings, on stderr)."""
    configure_logging(f"orderflow-{service}", "WARNING")
    try:
        loaded = services.load(service, **services.overrides(database_url, data_dir), **settings)
    except services.UnknownServiceError as error:
        raise fail(str(error)) from None
    try:
        yield loaded
    finally:
        services.close(loaded[1])


def parse_time(value: str) -> datetime:
    """RFC 3339 / ISO 8601; a time without an offset is UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"not a time: {value!r} (use e.g. 2025-03-01T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------- state


def state(
    service: Service,
    aggregate_id: Annotated[
        str, typer.Argument(help="Aggregate id; or an order id / sku the service derives it from.")
    ],
    version: Annotated[
        int | None, typer.Option("--version", help="The state after event N.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="The state at this time (RFC 3339, UTC if no offset)."),
    ] = None,
    database_url: StoreUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """An aggregate as it was after event N or at a time, and the list of its events."""
    if version is not None and at is not None:
        raise fail("give --version or --at, not both")
    with opened(service, database_url, data_dir, aggregate_cache_size=0) as (_, spec):
        report = aggregate_state(spec, services.info(service), aggregate_id, version=version,
                                 at=parse_time(at) if at else None)  # fmt: skip
    if report is None:
        raise fail(f"{service} has no aggregate {aggregate_id}", 1)
    if "error" in report:
        raise fail(report["error"], 1)
    if as_json:
        typer.echo(json.dumps(report))
        return
    show_state(Console(), report)


def aggregate_state(
    spec: ServiceSpec,
    info: services.ServiceInfo,
    aggregate_id: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any] | None:
    """{"service", "id", "type", "version", "latest_version", "attributes", "events"}; None
    when there is no such aggregate, {"error": ...} when the version or time is out of range."""
    app = spec.app
    for candidate in info.candidate_ids(aggregate_id):
        events: list[Any] = list(app.events.get(candidate))
        if events:
            break
    else:
        return None
    latest = events[-1].originator_version
    if at is not None:
        before = [e for e in events if e.timestamp <= at]
        if not before:
            first = events[0].timestamp.isoformat()
            return {"error": f"{candidate} did not exist yet at {at.isoformat()} (since {first})"}
        version = before[-1].originator_version
    if version is not None and not events[0].originator_version <= version <= latest:
        return {"error": f"{candidate} has versions 1 to {latest}, not {version}"}
    try:
        aggregate: Any = app.repository.get(candidate, version=version)
    except AggregateNotFoundError:  # pragma: no cover - events were just read
        return None
    shown = aggregate.version
    return {
        "service": info.name,
        "id": str(candidate),
        "type": type(aggregate).__qualname__,
        "version": shown,
        "latest_version": latest,
        "at": at.isoformat() if at else None,
        "attributes": aggregate_attributes(aggregate),
        "events": [event_row(e, applied=e.originator_version <= shown) for e in events],
    }


def event_row(domain_event: Any, *, applied: bool = True) -> dict[str, Any]:
    cause = context_of(domain_event)
    return {
        "version": domain_event.originator_version,
        "type": type(domain_event).__qualname__,
        "timestamp": domain_event.timestamp.isoformat(),
        "causation_id": cause.causation_id,
        "correlation_id": cause.correlation_id,
        "applied": applied,
    }


def show_state(console: Console, report: dict[str, Any]) -> None:
    title = f"{report['service']} {report['type']} {report['id']}"
    title += f" at version {report['version']} of {report['latest_version']}"
    attributes = Table(title=title, show_header=True)
    attributes.add_column("attribute", style="bold")
    attributes.add_column("value", overflow="fold")
    for name, value in report["attributes"].items():
        shown = value if isinstance(value, str) else json.dumps(value)
        attributes.add_row(name, shown)
    console.print(attributes)
    events = Table(title="events")
    for column in ("v", "event", "time (UTC)", "caused by", "correlation"):
        events.add_column(column, justify="right" if column == "v" else "left")
    for row in report["events"]:
        style = "" if row["applied"] else "dim"
        events.add_row(
            str(row["version"]), row["type"], row["timestamp"], row["causation_id"] or "-",
            row["correlation_id"] or "-", style=style,
        )  # fmt: skip
    console.print(events)
    if report["version"] < report["latest_version"]:
        console.print("[dim]dimmed: events after the version shown[/dim]")


# ---------------------------------------------------------------- rebuild


def rebuild(
    service: Service,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Rebuild into a scratch copy and compare it with the live read models "
            "(exit 1 on a difference); the live tables are not rebuilt.",
        ),
    ] = False,
    batch: Annotated[int, typer.Option("--batch", help="Events per transaction.")] = REBUILD_BATCH,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes, each projecting a share of the aggregates, when every read "
            "model of the service allows it (else one).",
        ),
    ] = REBUILD_WORKERS,
    database_url: StoreUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Rebuild a service's read models from its event store (in place, or --verify)."""
    printer, err = consoles(as_json)
    tune_garbage_collector()  # as a service process does: decoding allocates a lot
    with opened(service, database_url, data_dir, aggregate_cache_size=0) as (settings, spec):
        projections = spec.projections
        if projections is None:
            raise fail(f"{service} has no read models")
        if verify:
            report = verify_read_models(settings, projections, err, workers=workers)
        else:
            err.print(
                f"[yellow]warning:[/yellow] rebuilding {service}'s read models in place: stop "
                "the service first (its API reads them, and a running replica would race)."
            )
            report = rebuild_in_place(projections, err, batch_size=batch, workers=workers)
    report["service"] = service
    if as_json:
        typer.echo(json.dumps(report, default=str))
    else:
        show_rebuild(printer, report)
    if report.get("differences"):
        raise typer.Exit(1)


@contextlib.contextmanager
def _progress(
    console: Console | None, description: str, total: int
) -> Iterator[Callable[[int, int], None] | None]:
    """A bar that follows the projections' position (notification ids up to `total`)."""
    if console is None:
        yield None
        return
    with progress_bar(console) as bar:
        task = bar.add_task(description, total=total or None)
        yield lambda _read, position: bar.update(task, completed=position)


def rebuild_in_place(
    projections: Projections,
    console: Console | None = None,
    *,
    batch_size: int = REBUILD_BATCH,
    workers: int = REBUILD_WORKERS,
) -> dict[str, Any]:
    """`Projections.rebuild()` with a progress bar; the figures of the run."""
    head = projections.app.max_notification_id()
    started, cpu = time.perf_counter(), _cpu_seconds()
    with _progress(console, "rebuilding", head) as on_batch:
        projected = projections.rebuild(
            stop=head, batch_size=batch_size, on_batch=on_batch, workers=workers
        )
    return _figures(projections, head, projected, started, cpu, _workers(projections, workers))


def _workers(projections: Projections, workers: int) -> int:
    return workers if workers > 1 and projections.per_aggregate and can_fork() else 1


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished workers."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _figures(
    projections: Projections, head: int, projected: int, started: float, cpu: float, workers: int
) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    return {
        "read_models": [m.name for m in projections.models],
        "events": head,
        "projected": projected,
        "workers": workers,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu, 3),
        "events_per_s": round(head / seconds) if seconds > 0 else None,
        "rows": table_counts(projections.engine, projections),
    }


def table_counts(engine: Engine, projections: Projections) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for model in projections.models:
            for table in model.metadata.sorted_tables:
                query = select(func.count()).select_from(table)
                counts[table.name] = int(conn.execute(query).scalar() or 0)
    return counts


@contextlib.contextmanager
def scratch_engine(settings: ServiceSettings) -> Iterator[Engine]:
    """Empty tables beside the live ones: a temporary SQLite file, or a temporary schema in
    the service's PostgreSQL database (dropped afterwards)."""
    if settings.database_url is None:
        with tempfile.TemporaryDirectory(prefix="orderflow-verify-") as tmp:
            engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.sqlite'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    url = settings.database_url.get_secret_value()
    url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    schema = f"orderflow_verify_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def verify_read_models(
    settings: ServiceSettings,
    live: Projections,
    console: Console | None = None,
    *,
    batch_size: int = REBUILD_BATCH,
    workers: int = REBUILD_WORKERS,
) -> dict[str, Any]:
    """Rebuild into scratch tables up to the live read models' position; compare every row.

    The live read models are first caught up (what the running service does anyway), so
    both sides cover the same events. A service still writing meanwhile may show
    differences of events stored after that point: run it on a quiet service.
    """
    live.catch_up()
    stop = min(live.positions().values(), default=0)
    with scratch_engine(settings) as engine:
        scratch = Projections(live.app, live.models, engine)
        started, cpu = time.perf_counter(), _cpu_seconds()
        with _progress(console, "rebuilding a scratch copy", stop) as on_batch:
            projected = scratch.rebuild(
                stop=stop, batch_size=batch_size, on_batch=on_batch, workers=workers
            )
        report = _figures(scratch, stop, projected, started, cpu, _workers(scratch, workers))
        differences = compare_read_models(live, scratch)
    moved = min(live.positions().values(), default=0)
    report["position"] = stop
    report["differences"] = [d.as_json() for d in differences]
    if moved != stop:
        report["warning"] = (
            f"the live read models moved from {stop} to {moved} while comparing: "
            "differences may be events projected meanwhile"
        )
    return report


def compare_read_models(live: Projections, rebuilt: Projections) -> list[RowDifference]:
    """Every table of every read model, row by row by primary key (see `comparison_keys`)."""
    differences: list[RowDifference] = []
    for model in live.models:
        for table in model.metadata.sorted_tables:
            keys, surrogates = comparison_keys(table)
            order = [table.c[k] for k in keys]
            with live.engine.connect() as a, rebuilt.engine.connect() as b:
                live_rows = [dict(r._mapping) for r in a.execute(select(table).order_by(*order))]
                new_rows = [dict(r._mapping) for r in b.execute(select(table).order_by(*order))]
            for row in (*live_rows, *new_rows):
                for name in surrogates:
                    row.pop(name, None)
            differences += diff_tables(table.name, keys, live_rows, new_rows)
    return differences


def comparison_keys(table: SqlTable) -> tuple[list[str], set[str]]:
    """The columns that match a live row with its rebuilt one, and the columns left out.

    Normally the primary key. A single integer primary key numbered by the database
    (autoincrement) is a surrogate that a rebuild numbers afresh - and PostgreSQL's
    sequences skip the numbers of rolled-back inserts - so when the table has a unique
    column, rows are matched by that column and the surrogate is not compared.
    """
    primary = list(table.primary_key.columns)
    if (
        len(primary) == 1
        and isinstance(primary[0].type, Integer)
        and primary[0].autoincrement in (True, "auto")
    ):
        natural = next((c for c in table.columns if c.unique), None)
        if natural is not None:
            return [natural.name], {primary[0].name}
    return [c.name for c in primary] or [c.name for c in table.columns], set()


def show_rebuild(console: Console, report: dict[str, Any]) -> None:
    rate = report["events_per_s"]
    what = "verified" if "differences" in report else "rebuilt"
    console.print(
        f"{report['service']}: {what} {', '.join(report['read_models'])} from "
        f"{report['events']:,} stored events ({report['projected']:,} projected) in "
        f"{report['seconds']:.2f} s: {rate or 0:,} events/s"
    )
    for table, count in report["rows"].items():
        console.print(f"  {table}: {count:,} rows")
    if "differences" not in report:
        return
    if report.get("warning"):
        console.print(f"[yellow]warning:[/yellow] {report['warning']}")
    differences = report["differences"]
    if not differences:
        console.print("[green]no difference[/green] between the live and the rebuilt read models")
        return
    table = Table(title=f"{len(differences)} differences (live vs rebuilt)")
    for column in ("table", "key", "column", "live", "rebuilt"):
        table.add_column(column, overflow="fold")
    for d in differences:
        key = ", ".join(f"{k}={v}" for k, v in d["key"].items())
        table.add_row(d["table"], key, d["column"], _cell(d["live"]), _cell(d["rebuilt"]))
    console.print(table)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(json_safe(value))
