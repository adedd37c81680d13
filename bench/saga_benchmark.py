"""Saga benchmark: the whole shop under checkout load, measured from its own events.

Not a test: it prints figures and writes bench/results/latest.json and latest.png.

Kafka and PostgreSQL (fsync on) from `Infrastructure`; the six services as separate
processes (`LOG_LEVEL=WARNING`, each on its own database; fulfillment's sandbox carrier
delivers `--delivery-delay` seconds after shipping; notification mails an SMTP sink on
loopback, in a process of its own). The catalog is seeded with ample stock. Then
customers (aiohttp, one connection pool) go through the whole flow - open a cart, add one
to three products, check out with an approved card - at each offered rate of `--rates`
for `--seconds` (open loop), then `--customers` of them back to back for `--max-seconds`
(maximum throughput; longer, as its first seconds deliver little while the saga fills
up), then at half the rate the max run accepted for `--half-max-seconds` (the rate of the
latency aim: p99 checkout -> Shipped under 500 ms at half the maximum; as long as the max
run by default, so that its p99 is not the third worst of a few hundred orders; it starts
once the machine is quiet again after the max run; `--no-half-max` skips it). After each
phase the shop drains (every order delivered) before the next.

Measured, per phase, from the six topics read at the end (ce_time of each event):

- orders/s: orders whose Delivered falls inside the phase's window, / its length;
- latency from the checkout's 201 (driver's clock) to Shipped and to Delivered, and
  between the saga's steps placed -> authorized -> reserved -> shipped -> delivered;
- events each service published inside the window, per second;
- CPU of each process over the window (utime + stime from /proc, % of all cores), the
  broker and PostgreSQL (with its backends) included, and the driver itself.

Also the raw aiokafka produce+consume ceiling on the same broker (before the shop
starts), the rate of rebuilding the cart's read model from its store afterwards, and
`rebuild_events_per_s`: bench/rebuild_benchmark.py's catalog store on PostgreSQL
(100,000 events; its read model needs every event), the median of three
rebuilds, in a process of its own, once the machine is quiet again after the shop (up to
60 s).

    .venv/bin/python bench/saga_benchmark.py [--rates 2,4,6,8] [--seconds 20]
        [--max-seconds 60] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from orderflow_cli import storefront
from orderflow_devinfra import Infrastructure
from orderflow_devinfra.mail import CountingMailSink
from orderflow_devinfra.shop import SERVICES, ServiceConfig, Shop, wait_ready
from pipe_benchmark import raw_kafka
from saga_driver import Customers, Load, max_load, offered_load
from saga_measure import (
    cpu_share,
    cpu_snapshot,
    machine_busy,
    phase_figures,
    read_all,
    stage_times,
    topic_counts,
)
from saga_report import chart, print_table

RESULTS = Path(__file__).parent / "results"
T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rates", default="2,4,6,8", help="offered orders/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--customers", type=int, default=64, help="max run: customers at once")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="length of the max run (its first seconds deliver little: the saga fills up)",
    )
    parser.add_argument("--no-max", action="store_true", help="skip the max-throughput run")
    parser.add_argument(
        "--no-half-max",
        action="store_true",
        help="skip the phase at half the rate the max run accepted (the latency aim's rate)",
    )
    parser.add_argument(
        "--half-max-seconds",
        type=float,
        default=60.0,
        help="length of the phase at half the max rate (its p99 is the headline's)",
    )
    parser.add_argument("--raw-events", type=int, default=200_000)
    parser.add_argument("--delivery-delay", default="0.5", help="FULFILLMENT_DELIVERY_DELAY_S")
    parser.add_argument("--stock", type=int, default=1_000_000, help="units per product")
    parser.add_argument(
        "--rebuild-events", type=int, default=100_000, help="store size for rebuild_benchmark.run"
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rates x 8 s")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="wait up to this many seconds for the machine to be quiet (< 20%% busy) first",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.rates, args.seconds, args.max_seconds, args.raw_events = "2,6", 8.0, 8.0, 50_000
        args.half_max_seconds = 8.0
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # topic-creation chatter
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    background = wait_quiet(args.wait_quiet)
    started = time.monotonic()
    with (
        Infrastructure() as infra,
        tempfile.TemporaryDirectory() as tmp,
        CountingMailSink() as mail,
    ):
        kind = infra.kind
        say(f"broker: {infra.kafka_bootstrap}; PostgreSQL ({kind}); {os.cpu_count()} cores")
        raw = asyncio.run(raw_kafka(infra.kafka_bootstrap, args.raw_events))
        say(f"raw aiokafka produce+consume: {raw:,.0f} events/s")
        shop = Shop(
            infra.kafka_bootstrap,
            lambda: infra.create_database(f"bench_{uuid.uuid4().hex[:10]}"),
            Path(tmp),
            namespace=f"bench{uuid.uuid4().hex[:8]}.",
        )
        try:
            start_shop(shop, mail, args.delivery_delay)
            storefront.seed(shop, units_per_sku=args.stock)
            say("catalog seeded")
            roots = process_roots(shop, infra)
            phases, idle = asyncio.run(drive(shop, rates, args, roots))
        except BaseException:
            for name, running in shop.services.items():
                print(f"--- {name}\n{running.process.log_tail(20)}")
            raise
        finally:
            shop.stop_all()
        say("services stopped")
        cart_rebuild = rebuild_cart(shop.services["cart"].config)
        say(f"cart read model rebuilt: {cart_rebuild['events']:,} events")
        rebuild = rebuild_benchmark(infra, args.rebuild_events) or cart_rebuild
        rebuild["cart_store"] = cart_rebuild
        mails = mail.count
    results = summarise(phases, args, raw, rebuild, infra_kind=kind)
    results["emails_sent"] = mails
    results["idle_cpu_percent"] = {k: round(v, 1) for k, v in idle.items()}
    results["background_busy_percent"] = round(background, 1)
    results["wall_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(_finite(results), indent=2) + "\n")
    chart(results, args.out / "latest.png")
    print_table(results)
    print(
        f"\nwritten: {args.out / 'latest.json'}, {args.out / 'latest.png'} ({results['wall_s']} s)"
    )


def wait_quiet(timeout: float, threshold: float = 20.0, before: str = "the start") -> float:
    """The machine's busy % before a measurement (other jobs share the cores and skew
    every figure); waits up to `timeout` s for it to fall under `threshold`."""
    deadline = time.monotonic() + timeout
    while True:
        busy = machine_busy(3.0)
        if busy < threshold or time.monotonic() >= deadline:
            break
        say(f"machine {busy:.0f}% busy before {before}; waiting")
    if busy >= threshold:
        say(f"! the machine is {busy:.0f}% busy before {before}: the figures will be low")
    return busy


def start_shop(shop: Shop, mail: CountingMailSink, delivery_delay: str) -> None:
    settings = {
        "notification": {"smtp_host": "127.0.0.1", "smtp_port": str(mail.port)},
        "fulfillment": {"delivery_delay_s": delivery_delay},
    }
    for service in SERVICES:
        shop.launch(service, log_level="WARNING", **settings.get(service, {}))
    for running in shop.services.values():
        wait_ready(running)
    say("services ready: " + ", ".join(f"{s} {r.url}" for s, r in shop.services.items()))


def process_roots(shop: Shop, infra: Infrastructure) -> dict[str, tuple[int, bool]]:
    """The processes whose CPU is measured: name -> (pid, count its descendants)."""
    roots = {name: (running.process.pid, True) for name, running in shop.services.items()}
    if infra.local_kafka is not None and infra.local_kafka.pid:
        roots["kafka"] = (infra.local_kafka.pid, True)
    if infra.local_postgres is not None and infra.local_postgres.pid:
        roots["postgres"] = (infra.local_postgres.pid, True)
    roots["driver"] = (os.getpid(), False)  # its children are the services
    return roots


async def drive(
    shop: Shop, rates: list[float], args: argparse.Namespace, roots: dict[str, tuple[int, bool]]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    customers = Customers(shop.services["cart"].url, connections=max(64, args.customers))
    offsets = AIOKafkaConsumer(bootstrap_servers=shop.kafka_bootstrap, group_id=None)
    await offsets.start()
    loads: list[tuple[Load, dict[str, float]]] = []
    try:
        await first_order(customers)
        warmup = Load("warm-up", 2.0)
        await offered_load(customers, warmup, 5.0, lambda: None)
        total = 1 + len(warmup.accepted)
        await drain(offsets, shop.namespace, total, args.drain_timeout)
        say(f"warmed up: {total} orders delivered")
        before = cpu_snapshot(roots)
        await asyncio.sleep(5.0)
        idle = cpu_share(before, cpu_snapshot(roots), 5.0)
        say("idle shop, CPU % of all cores: " + ", ".join(f"{k} {v:.1f}" for k, v in idle.items()))
        plan: list[Load] = [Load(f"{r:g}/s", r) for r in rates]
        if not args.no_max:
            plan.append(Load(f"max {args.customers}", None))
        half_max: Load | None = None
        for load in plan:  # the max run appends the half-max phase to the plan
            before = cpu_snapshot(roots)
            after: dict[str, float] = {}

            def at_end(after: dict[str, float] = after) -> None:
                after.update(cpu_snapshot(roots))

            if load.offered_per_s is None:
                await max_load(customers, load, args.max_seconds, args.customers, at_end)
            elif load is half_max:
                await offered_load(customers, load, args.half_max_seconds, at_end)
            else:
                await offered_load(customers, load, args.seconds, at_end)
            total += len(load.accepted)
            waited = await drain(offsets, shop.namespace, total, args.drain_timeout)
            in_window = sum(1 for t in load.accepted.values() if t <= load.window[1])
            say(
                f"  {load.name}: {in_window} checkouts accepted in the {load.seconds:.1f} s window"
                f" ({len(load.accepted)} in all, {sum(load.errors.values())} failed; the last"
                f" customer done {load.finished_at - load.window[1]:.1f} s after it);"
                f" drained {waited:.1f} s later"
            )
            loads.append((load, cpu_share(before, after, load.seconds)))
            half = round(in_window / load.seconds / 2, 1)  # of the rate accepted at max
            if load.offered_per_s is None and half > 0 and not args.no_half_max:
                half_max = Load(f"{half:g}/s (half max)", half)
                plan.append(half_max)
                # Not in the max run's wake (the stores' autovacuum, the broker's flushes):
                # the aim's rate is measured on the machine as the lower rates found it.
                await asyncio.to_thread(wait_quiet, 60.0, before="the half-max phase")
    finally:
        await offsets.stop()
        await customers.close()
    events = await read_all(shop.kafka_bootstrap, shop.namespace)
    say(f"read {len(events):,} events from the topics")
    stages = stage_times(events)
    phases: list[dict[str, Any]] = []
    for load, cpu in loads:
        figures = phase_figures(load, events, stages, cpu)
        figures["customers"] = args.customers if load.offered_per_s is None else None
        figures["half_max"] = load is half_max
        phases.append(figures)
    return phases, idle


async def first_order(customers: Customers, timeout: float = 120) -> None:
    """Until one customer gets through: cart has heard of the catalog's products."""
    probe = Load("first", None)
    deadline = time.monotonic() + timeout
    while not probe.accepted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no checkout went through: {probe.errors}")
        await customers.checkout(probe)
        await asyncio.sleep(0.2)


async def drain(consumer: AIOKafkaConsumer, namespace: str, orders: int, timeout: float) -> float:
    """Until every order so far was delivered and notified and the topics went quiet."""
    started = time.monotonic()
    quiet_since, last = started, None
    while time.monotonic() - started < timeout:
        counts = await topic_counts(consumer, namespace)
        if counts != last:
            quiet_since, last = time.monotonic(), counts
        done = counts["fulfillment.events"] >= 2 * orders  # Shipped + Delivered
        done = done and counts["notification.events"] >= 3 * orders  # placed, shipped, delivered
        if done and time.monotonic() - quiet_since >= 1.0:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    say(f"  ! not drained after {timeout:.0f} s: {last} for {orders} orders")
    return time.monotonic() - started


def rebuild_cart(config: ServiceConfig) -> dict[str, Any]:
    """Drop and refill the cart's read model from its store, in this process; events/s."""
    from orderflow_cart.application import CartApplication
    from orderflow_cart.projections import OrderList
    from orderflow_cart.settings import CartSettings
    from orderflow_cli.store_tools import REBUILD_WORKERS
    from orderflow_runtime.projections import Projections, read_model_engine

    settings = CartSettings(
        service_name="cart",
        kafka_bootstrap_servers=config.kafka_bootstrap,
        database_url=config.database_url,
        topic_namespace=config.namespace,
        http_port=0,
        log_level="WARNING",
    )
    app = CartApplication(settings)
    engine = read_model_engine(settings)
    try:
        projections = Projections(app, [OrderList(settings.deadlines())], engine)
        started = time.perf_counter()
        events = projections.rebuild(workers=REBUILD_WORKERS)
        seconds = time.perf_counter() - started
        stored = app.max_notification_id()
        return {  # events/s as rebuild_benchmark counts them: stored events / wall seconds
            "events": stored,
            "projected": events,
            "seconds": seconds,
            "events_per_s": stored / seconds if seconds else math.nan,
            "source": "Projections.rebuild() of the cart's store after the run",
        }
    finally:
        engine.dispose()
        app.close()


def rebuild_benchmark(infra: Infrastructure, events: int) -> dict[str, Any] | None:
    """bench/rebuild_benchmark.py on a PostgreSQL catalog store (its read model needs
    every event), in a process of its own as `orderflow rebuild` runs. Forked
    from a large process, the workers share its heap: with 3 million objects in the parent
    the median rebuild was 3-6% slower (two runs each way). None when it fails (the cart's
    store is used)."""
    # Here, not at the top: importing it imports the six services (0.75 s; the driver
    # needs only the name of the variable).
    from rebuild_benchmark import DATABASE_URL_ENV

    url = infra.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
    # One rebuild right after the max run measured 45,137-70,642 events/s, and 74,954-76,325
    # on its own minutes later: make sure nothing else (other jobs) shares the cores.
    started = time.monotonic()
    busy = wait_quiet(60.0, threshold=10.0, before="the rebuild")
    waited = time.monotonic() - started
    script = Path(__file__).with_name("rebuild_benchmark.py")
    command = [sys.executable, str(script), "--stores", "catalog", "--backends", "postgres"]
    completed = subprocess.run(
        [*command, "--events", str(events)],
        env={**os.environ, DATABASE_URL_ENV: url},
        capture_output=True,
        text=True,
        check=False,
    )
    reports = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not reports:
        say(f"! rebuild_benchmark.py failed ({completed.returncode}); using the cart's store")
        say(completed.stderr.strip()[-2000:])
        return None
    result: dict[str, Any] = json.loads(reports[-1])
    say(f"rebuild_benchmark.py: catalog store on PostgreSQL, {result['events']:,} events")
    result["source"] = "bench/rebuild_benchmark.py --stores catalog --backends postgres"
    result["quiet_wait_s"], result["busy_before_percent"] = round(waited, 1), round(busy, 1)
    return result


def summarise(
    phases: list[dict[str, Any]],
    args: argparse.Namespace,
    raw: float,
    rebuild: dict[str, Any],
    *,
    infra_kind: str,
) -> dict[str, Any]:
    fixed = [p for p in phases if p["offered_per_s"] is not None]
    top = [p for p in phases if p["offered_per_s"] is None]
    kept = [p for p in fixed if p["kept_up"] and not p["half_max"]]
    halves = [p for p in phases if p["half_max"]]
    headline = halves[0] if halves else kept[-1] if kept else fixed[0] if fixed else phases[0]
    best = top[0] if top else max(fixed, key=lambda p: p["orders_per_s"])
    return {
        "orders_per_s": best["orders_per_s"],
        "p50_ship_ms": headline["ship_ms"]["p50"],
        "p99_ship_ms": headline["ship_ms"]["p99"],
        "headline_rate": headline["offered_per_s"],
        "half_max_rate": halves[0]["offered_per_s"] if halves else None,
        "raw_kafka_events_per_s": raw,
        "rebuild_events_per_s": rebuild["events_per_s"],
        "rebuild": rebuild,
        "notes": (
            "orders_per_s: orders delivered within the window of the max run (or the best "
            "rate); p50/p99_ship_ms: checkout 201 -> Shipped ce_time at headline_rate: half "
            "the rate the max run accepted (the phase run after it, half_max), else the "
            "highest offered rate the shop kept up with (kept_up)."
        ),
        "cores": os.cpu_count(),
        "infra": infra_kind,
        "seconds": args.seconds,
        "max_seconds": args.max_seconds,
        "half_max_seconds": args.half_max_seconds,
        "rates": [p["offered_per_s"] for p in fixed],
        "customers": args.customers,
        "delivery_delay_s": float(args.delivery_delay),
        "quick": args.quick,
        "phases": phases,
    }


def _finite(value: Any) -> Any:
    """NaN (no sample) as null, so that the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


if __name__ == "__main__":
    main()
