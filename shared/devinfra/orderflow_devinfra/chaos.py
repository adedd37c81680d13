"""The fault-injection soak: the whole shop under crashes, a broker restart and a hung database.

`python -m orderflow_devinfra.chaos [--orders N] [--seconds S] [--report PATH]` (and
`make chaos`) starts its own Kafka broker (`LocalKafka`) and PostgreSQL server
(`LocalPostgres`), the six services as processes on PostgreSQL (`Shop`) and an SMTP
sink, then:

1. customers shop concurrently (`chaos_customers`): approved, declined, flaky and
   timing-out cards, a limited product that runs out, cancels, returns received by
   the warehouse; some also try to type card numbers into forms (`--card-probes`);
2. meanwhile a controller thread SIGKILLs a random service every few seconds and
   starts it again, restarts the broker (same port, same data) and pauses PostgreSQL
   (SIGSTOP, then SIGCONT) for a few seconds; a service that dies by itself is
   counted (`unexpected_exits`) and started again;
3. it waits for the system to drain: every order final, no notice waiting to be sent,
   no consumer group behind (the cart's deadlines are short, so that an order stuck by
   a fault is expired within the run);
4. it checks the saga's invariants (`invariants.check`), snapshots every order as each
   service reports it, stops and restarts all services (and rebuilds the cart's read
   models), snapshots again and counts every difference (`state_mismatches`).

The figures go to stdout and, as JSON, to `--report` (default
`chaos/results/latest.json`). `Soak` is reusable: tests run a short one and then look
at its stores, topics and logs (`tests/chaos/`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from orderflow_events import NOTIFICATION_EVENTS, NotificationSent, from_record

from orderflow_devinfra import invariants
from orderflow_devinfra.chaos_customers import Caller, Outcome, seed, shop_once
from orderflow_devinfra.kafka_local import LocalKafka
from orderflow_devinfra.kafka_reading import read_topic
from orderflow_devinfra.mail import MailSink
from orderflow_devinfra.postgres_local import LocalPostgres
from orderflow_devinfra.sample_shop import CATALOG, customer
from orderflow_devinfra.shop import SERVICES, RunningService, Shop, wait_ready

INPUTS: dict[str, tuple[str, ...]] = {
    "catalog": (),
    "cart": ("catalog.events", "payment.events", "inventory.events", "fulfillment.events"),
    "payment": ("orders.events", "fulfillment.events"),
    "inventory": ("catalog.events", "orders.events", "payment.events", "fulfillment.events"),
    "fulfillment": ("catalog.events", "orders.events", "inventory.events"),
    "notification": ("orders.events", "payment.events", "fulfillment.events", "inventory.events"),
}
"""Each service's input topics (docs/services.md), for its consumer group's lag."""
OUTPUTS: dict[str, str] = {
    "catalog": "catalog.events",
    "cart": "orders.events",
    "payment": "payment.events",
    "inventory": "inventory.events",
    "fulfillment": "fulfillment.events",
    "notification": "notification.events",
}
OPEN_STATES = ("placed", "payment_authorized", "stock_reserved", "shipped", "return_requested")
VIOLATION_FIGURES = (
    *invariants.FIGURES,
    "state_mismatches",
    "unexpected_exits",
    "card_probes_accepted",
    "undrained_orders",
)


@dataclass
class SoakConfig:
    orders: int = 10_000
    seconds: float | None = None
    """Stop taking new customers after this long (None: when `orders` have shopped)."""
    workers: int = 8
    seed: int = 7
    kill_every_s: tuple[float, float] = (3.0, 7.0)
    down_s: tuple[float, float] = (0.2, 2.0)
    """How long a killed service stays down before it is started again."""
    broker_restarts: int = 1
    postgres_pauses: int = 1
    pause_s: float = 4.0
    card_probe_share: float = 0.0
    """Share of customers who first try card numbers in the forms (all must be refused)."""
    deadline_s: float = 30.0
    """The cart's deadlines before shipment (placed, authorised, reserved)."""
    drain_timeout_s: float = 600.0
    limited_units: int = 5
    report_path: Path | None = None
    workdir: Path | None = None
    """Logs go to `<workdir>/logs`; a temp dir when None."""
    quiet: bool = False


@dataclass
class SoakReport:
    orders: int = 0
    checkouts: int = 0
    kills: int = 0
    kills_by_service: dict[str, int] = field(default_factory=dict)
    unexpected_exits: int = 0
    broker_restarts: int = 0
    postgres_pauses: int = 0
    lost_orders: int = 0
    double_authorizations: int = 0
    double_captures: int = 0
    over_refunds: int = 0
    oversold_units: int = 0
    duplicate_notices: int = 0
    unsettled_cancels: int = 0
    state_mismatches: int = 0
    undrained_orders: int = 0
    card_probes: int = 0
    card_probes_accepted: int = 0
    states: dict[str, int] = field(default_factory=dict)
    cancel_reasons: dict[str, int] = field(default_factory=dict)
    cancels_asked: int = 0
    returns_received: int = 0
    emails: int = 0
    notices_sent: int = 0
    notices_failed: int = 0
    notice_failures: dict[str, int] = field(default_factory=dict)
    """Why the failed notices failed: error text -> notices (a kill mid-send leaves
    claims with an unknown outcome; anything else deserves a look)."""
    dead_letters: dict[str, int] = field(default_factory=dict)
    customer_errors: int = 0
    http_retries: dict[str, int] = field(default_factory=dict)
    seconds_driving: float = 0.0
    seconds_to_drain: float = 0.0
    seconds_total: float = 0.0
    snapshot_items: int = 0
    read_models_verified: dict[str, int] = field(default_factory=dict)
    """Service -> stored events its read models were rebuilt from and compared with live."""
    rebuild_rates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Service -> how its scratch rebuild went: events, projected, workers, seconds,
    events_per_s (as `orderflow rebuild --verify --json` reports them)."""
    violations: list[str] = field(default_factory=list)
    """The first violations found, one line each (figure, subject, detail)."""
    notes: list[str] = field(default_factory=list)

    @property
    def violation_count(self) -> int:
        return sum(getattr(self, figure) for figure in VIOLATION_FIGURES)

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["violation_total"] = self.violation_count
        return body

    def summary(self) -> str:
        figures = ", ".join(f"{f}={getattr(self, f)}" for f in VIOLATION_FIGURES)
        return (
            f"orders {self.orders} (checkouts {self.checkouts}), states {self.states}\n"
            f"faults: kills {self.kills} {self.kills_by_service}, broker restarts "
            f"{self.broker_restarts}, postgres pauses {self.postgres_pauses}, unexpected exits "
            f"{self.unexpected_exits}\n"
            f"violations: {figures}\n"
            f"cancel reasons {self.cancel_reasons}, returns received {self.returns_received}, "
            f"emails {self.emails} (notices failed {self.notices_failed}: "
            f"{self.notice_failures}), "
            f"dead letters {self.dead_letters}\n"
            f"card probes {self.card_probes} (accepted {self.card_probes_accepted})\n"
            f"compared after a restart of all six: {self.snapshot_items} API views; read "
            f"models rebuilt and verified (stored events): {self.read_models_verified}\n"
            f"rebuild events/s (workers): "
            + ", ".join(
                f"{name} {rate['events_per_s'] or 0:,} ({rate['workers']})"
                for name, rate in self.rebuild_rates.items()
            )
            + "\n"
            f"time: driving {self.seconds_driving:.0f} s, to drain {self.seconds_to_drain:.0f} s, "
            f"total {self.seconds_total:.0f} s"
        )


class Soak:
    """`with Soak(config) as soak: report = soak.run()`; the shop stays up until exit."""

    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.admin_key = f"chaos-admin-{secrets.token_hex(12)}"
        self.db_password = f"chaos-pw-{secrets.token_hex(12)}"
        self.webhook_key = f"chaos-hook-{secrets.token_hex(12)}"
        self.kafka = LocalKafka()
        self.postgres = LocalPostgres(fast=True)
        self.mail = MailSink()
        self.workdir = config.workdir
        self.database_urls: dict[str, str] = {}
        self.shop: Shop | None = None
        self.caller: Caller | None = None
        self.report = SoakReport()
        self._stack = contextlib.ExitStack()
        self._lock = threading.RLock()
        """Held while the controller has a service down: the drain never sees it half-way."""

    # -- set-up -------------------------------------------------------------------

    def __enter__(self) -> Soak:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        if self.workdir is None:
            tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="orderflow-chaos-"))
            self.workdir = Path(tmp)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.say("starting Kafka and PostgreSQL")
        self._stack.enter_context(self.kafka)
        self._stack.enter_context(self.postgres)
        self._stack.enter_context(self.mail)
        self.shop = Shop(
            self.kafka.bootstrap_servers,
            self._new_database,
            self.workdir / "logs",
            namespace="",
            admin_key=self.admin_key,
        )
        self._stack.callback(self.shop.stop_all)
        self.caller = Caller(self.shop)
        deadline = str(self.config.deadline_s)
        settings: dict[str, dict[str, str]] = {
            "cart": {
                "deadline_placed_s": deadline,
                "deadline_payment_authorized_s": deadline,
                "deadline_stock_reserved_s": str(self.config.deadline_s * 2),
                "deadline_poll_s": "1",
            },
            "notification": {"smtp_host": "127.0.0.1", "smtp_port": str(self.mail.port)},
            "fulfillment": {"delivery_delay_s": "1", "carrier_webhook_key": self.webhook_key},
            "payment": {"gateway_retry_delay_s": "0.05"},
        }
        self.say("starting the six services")
        for service in SERVICES:
            self.shop.launch(service, **settings.get(service, {}))
        for running in self.shop.services.values():
            wait_ready(running, timeout=120)

    def _new_database(self) -> str:
        name = f"chaos_{len(self.database_urls)}"
        self.postgres.create_database(name)
        url = f"postgresql://postgres:{self.db_password}@127.0.0.1:{self.postgres.port}/{name}"
        self.database_urls[name] = url
        return url

    def say(self, text: str) -> None:
        if not self.config.quiet:
            print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)

    @property
    def log_paths(self) -> list[Path]:
        assert self.workdir is not None
        logs = sorted((self.workdir / "logs").glob("*.log"))
        return [*logs, self.kafka.log_path, self.postgres.log_path]

    @property
    def secrets(self) -> dict[str, str]:
        return {
            "admin_api_key": self.admin_key,
            "database_password": self.db_password,
            "carrier_webhook_key": self.webhook_key,
        }

    # -- the run ------------------------------------------------------------------

    def run(self) -> SoakReport:
        assert self.shop is not None
        assert self.caller is not None
        started = time.monotonic()
        report = self.report
        seed(self.caller, units_per_sku=max(20, self.config.orders), limited_units=5)
        self.say(f"catalog of {len(CATALOG)} products listed and stocked; customers arrive")
        outcomes = self._drive_with_faults()
        report.seconds_driving = time.monotonic() - started
        report.checkouts = sum(1 for o in outcomes if o.order_id)
        report.cancels_asked = sum(1 for o in outcomes if o.cancel_asked)
        report.returns_received = sum(1 for o in outcomes if o.returned)
        report.card_probes = sum(o.card_probes for o in outcomes)
        accepted = [a for o in outcomes for a in o.card_probes_accepted]
        report.card_probes_accepted = len(accepted)
        report.violations += [f"card_probes_accepted: {a}" for a in accepted[:20]]
        errors = [o.error for o in outcomes if o.error]
        report.customer_errors = len(errors)
        report.notes += [f"customer gave up: {e}" for e in errors[:5]]
        report.http_retries = dict(self.caller.retries)

        self.say("faults stopped; waiting for the shop to drain")
        drain_started = time.monotonic()
        report.undrained_orders = self._drain()
        report.seconds_to_drain = time.monotonic() - drain_started
        self.say(f"drained in {report.seconds_to_drain:.0f} s; checking invariants")
        self._check_invariants()
        self._count_outcomes()
        self.say("snapshot, restart of every service, snapshot again")
        self._compare_after_restart()
        report.seconds_total = time.monotonic() - started
        self.say(report.summary())
        if self.config.report_path is not None:
            self.config.report_path.parent.mkdir(parents=True, exist_ok=True)
            self.config.report_path.write_text(json.dumps(report.as_json(), indent=2) + "\n")
            self.say(f"report written to {self.config.report_path}")
        return report

    def _drive_with_faults(self) -> list[Outcome]:
        assert self.caller is not None
        stop = threading.Event()
        placed = Counter[str]()
        controller = threading.Thread(
            target=self._faults, args=(stop, placed), name="chaos-controller", daemon=True
        )
        controller.start()
        config = self.config
        until = time.monotonic() + config.seconds if config.seconds else None
        customers = [
            customer(
                i, random.Random(config.seed * 100_003 + i), probe_share=config.card_probe_share
            )
            for i in range(config.orders)
        ]
        caller = self.caller
        progress_every = max(1, config.orders // 10)
        progress_lock = threading.Lock()

        def visit(index: int) -> Outcome:
            if until is not None and time.monotonic() > until:
                return Outcome()
            outcome = shop_once(caller, customers[index], random.Random(config.seed + index))
            with progress_lock:
                placed["done"] += 1
                if placed["done"] % progress_every == 0:
                    self.say(f"{placed['done']}/{config.orders} customers done")
            return outcome

        try:
            with ThreadPoolExecutor(config.workers, thread_name_prefix="customer") as pool:
                outcomes = list(pool.map(visit, range(config.orders)))
        finally:
            stop.set()
            controller.join(timeout=300)
        # Faults not yet injected (a short run): inject them now, before the drain.
        self._late_faults()
        return outcomes

    # -- faults ---------------------------------------------------------------------

    def _faults(self, stop: threading.Event, placed: Counter[str]) -> None:
        config = self.config
        rng = self.rng
        broker_at = [(i + 1) / (config.broker_restarts + 1) for i in range(config.broker_restarts)]
        pause_at = [
            (i + 1.5) / (config.postgres_pauses + 1.5) for i in range(config.postgres_pauses)
        ]
        victims: list[str] = []
        while not stop.wait(rng.uniform(*config.kill_every_s)):
            try:
                self._revive_crashed()
                progress = placed["done"] / max(1, config.orders)
                if broker_at and progress >= broker_at[0]:
                    broker_at.pop(0)
                    self._restart_broker()
                elif pause_at and progress >= pause_at[0]:
                    pause_at.pop(0)
                    self._pause_postgres()
                else:
                    if not victims:  # every service in turn, in a random order each round
                        victims = rng.sample(SERVICES, len(SERVICES))
                    self._kill_one(victims.pop())
            except Exception as error:  # the run goes on; the figures will tell
                self.report.notes.append(f"controller: {error!r}"[:500])
                self.say(f"controller error: {error!r}"[:500])
        self._pending_broker = len(broker_at)
        self._pending_pauses = len(pause_at)

    _pending_broker = 0
    _pending_pauses = 0

    def _late_faults(self) -> None:
        for _ in range(self._pending_broker):
            self._restart_broker()
        for _ in range(self._pending_pauses):
            self._pause_postgres()
        self._revive_crashed()
        assert self.shop is not None
        for running in self.shop.services.values():
            wait_ready(running, timeout=180)

    def _kill_one(self, service: str) -> None:
        """SIGKILL, a short time down, start again (not waiting: the next fault may hit it)."""
        assert self.shop is not None
        running = self.shop.services[service]
        with self._lock:
            running.process.kill()
            self.report.kills += 1
            self.report.kills_by_service[service] = self.report.kills_by_service.get(service, 0) + 1
            time.sleep(self.rng.uniform(*self.config.down_s))
            running.process.start()

    def _start_again(self, running: RunningService) -> None:
        running.process.start()
        wait_ready(running, timeout=180)

    def _revive_crashed(self) -> None:
        """A service that died without our help is a finding: count it, log it, restart it."""
        assert self.shop is not None
        for service, running in self.shop.services.items():
            if not running.process.running:
                with self._lock:
                    self.report.unexpected_exits += 1
                    tail = running.process.log_tail(15)
                    self.report.violations.append(f"unexpected_exits: {service}: {tail[-800:]}")
                    self.say(f"{service} exited by itself; starting it again:\n{tail}")
                    self._start_again(running)

    def _restart_broker(self) -> None:
        self.say("restarting the Kafka broker")
        with self._lock:
            self.kafka.restart()
            self.report.broker_restarts += 1

    def _pause_postgres(self) -> None:
        self.say(f"pausing PostgreSQL for {self.config.pause_s:.0f} s")
        with self._lock:
            self.postgres.pause()
            try:
                time.sleep(self.config.pause_s)
            finally:
                self.postgres.resume()
            self.report.postgres_pauses += 1

    # -- drain and checks ---------------------------------------------------------------

    def _drain(self) -> int:
        """Until every order is final, no notice pending, no consumer behind; open orders left."""
        deadline = time.monotonic() + self.config.drain_timeout_s
        open_orders = -1
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self._revive_crashed()
            open_orders = self._open_orders()
            idle = open_orders == 0 and self._pending_notices() == 0 and self._lag() == 0
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3:  # timers (deliveries) may still fire
                    return 0
            else:
                quiet_since = None
            time.sleep(1)
        self.report.violations.append(f"undrained_orders: {open_orders} open after the timeout")
        return max(open_orders, 1)

    def _open_orders(self) -> int:
        assert self.caller is not None
        total = 0
        for status in OPEN_STATES:
            response = self.caller.call(
                "cart", "GET", "/admin/orders", params={"status": status, "size": 1}
            )
            total += int(response.json()["total"])
        return total

    def _pending_notices(self) -> int:
        assert self.caller is not None
        pending = 0
        for status in ("requested", "claimed"):
            response = self.caller.call(
                "notification", "GET", "/notices", params={"status": status}
            )
            pending += len(response.json())
        return pending

    def _lag(self) -> int:
        try:
            return asyncio.run(total_lag(self.kafka.bootstrap_servers, INPUTS))
        except KafkaError:
            return -1

    def _check_invariants(self) -> None:
        assert self.shop is not None
        checked = asyncio.run(invariants.check(self.shop))
        report = self.report
        report.orders = checked.orders
        report.states = dict(sorted(checked.states.items()))
        for figure, count in checked.figures.items():
            setattr(report, figure, count)
        report.violations += [
            f"{v.figure}: {v.subject}: {v.detail}" for v in checked.violations[:50]
        ]
        # invariants.check reads the notices within 5 s: too short for a long run's topic
        sent = asyncio.run(sent_notices(self.kafka.bootstrap_servers))
        duplicates = {notice: times for notice, times in sent.items() if times > 1}
        report.notices_sent = sum(sent.values())
        # ... and what customers saw: an email is its notice's Message-ID
        delivered = Counter(str(m.get("Message-ID", "")) for m in self.mail.messages)
        duplicates.update({mid: n for mid, n in delivered.items() if mid and n > 1})
        if len(duplicates) > report.duplicate_notices:
            report.duplicate_notices = len(duplicates)
            report.violations += [
                f"duplicate_notices: {n}: sent {t}x" for n, t in duplicates.items()
            ]

    def _count_outcomes(self) -> None:
        assert self.shop is not None
        assert self.caller is not None
        report = self.report
        reasons: Counter[str] = Counter()
        for row in _pages(
            self.shop.services["cart"], "/admin/orders", params={"status": "cancelled"}
        ):
            reasons[str(row.get("cancel_reason"))] += 1
        report.cancel_reasons = dict(sorted(reasons.items()))
        report.emails = len(self.mail.messages)
        failed = self.caller.call(  # at most once: a send cut short by a kill is not retried
            "notification", "GET", "/notices", params={"status": "failed", "limit": 1000}
        )
        report.notices_failed = len(failed.json())
        why = Counter(str(row.get("error")) for row in failed.json())
        report.notice_failures = dict(why.most_common())
        report.dead_letters = asyncio.run(
            dead_letter_counts(self.kafka.bootstrap_servers, [f"{t}.dlq" for t in OUTPUTS.values()])
        )

    def _compare_after_restart(self) -> None:
        assert self.shop is not None
        before = snapshot(self.shop)
        for running in self.shop.services.values():
            running.process.stop(grace_s=20)
        for running in self.shop.services.values():
            running.process.start()
        for running in self.shop.services.values():
            wait_ready(running, timeout=180)
        self._drain()
        cart = self.shop.services["cart"]
        with httpx.Client(base_url=cart.url, headers=cart.admin_headers, timeout=300) as http:
            http.post("/admin/read-models/rebuild").raise_for_status()
        after = snapshot(self.shop)
        mismatches = [
            key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
        ]
        self.report.snapshot_items = len(before)
        self.report.state_mismatches = len(mismatches)
        for key in sorted(mismatches)[:20]:
            self.report.violations.append(
                f"state_mismatches: {key}: before {str(before.get(key))[:300]} "
                f"after {str(after.get(key))[:300]}"
            )
        for service, differences in self._verify_read_models().items():
            self.report.state_mismatches += len(differences)
            self.report.violations += [
                f"state_mismatches: {service} read model rebuilt differs: {d}"[:400]
                for d in differences[:10]
            ]

    def _verify_read_models(self) -> dict[str, list[str]]:
        """`orderflow rebuild SERVICE --verify` for every service with read models: each
        is rebuilt from its store into scratch tables and compared row by row with live."""
        assert self.shop is not None
        found: dict[str, list[str]] = {}
        command = Path(sys.executable).with_name("orderflow")
        for service, running in self.shop.services.items():
            url = running.config.database_url
            if url is None:
                continue
            done = subprocess.run(
                [str(command), "rebuild", service, "--verify", "--database-url", url, "--json"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if "has no read models" in done.stderr:
                continue
            try:
                report = json.loads(done.stdout)
            except json.JSONDecodeError:
                found[service] = [f"verify failed ({done.returncode}): {done.stderr[-300:]}"]
                continue
            self.report.read_models_verified[service] = int(report.get("events", 0))
            self.report.rebuild_rates[service] = {
                key: report.get(key)
                for key in ("events", "projected", "workers", "seconds", "events_per_s")
            }
            found[service] = [json.dumps(d, default=str) for d in report.get("differences", [])]
        return found


# -- reading the shop ------------------------------------------------------------------


def _pages(
    running: RunningService, path: str, *, params: dict[str, Any] | None = None, size: int = 100
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=60) as http:
        page = 1
        while True:
            response = http.get(path, params={**(params or {}), "page": page, "size": size})
            response.raise_for_status()
            found = response.json()["items"]
            items.extend(found)
            if len(found) < size:
                return items
            page += 1


def snapshot(shop: Shop) -> dict[str, Any]:
    """Everything each service reports about every order, every product and the stock.

    Keys are `<service> <path>`; values are (status code, body).
    """
    cart = shop.services["cart"]
    orders = [str(row["order_id"]) for row in _pages(cart, "/admin/orders")]
    per_order = {
        "cart": "/orders/{}",
        "payment": "/payments/{}",
        "inventory": "/orders/{}/stock",
        "fulfillment": "/shipments/{}",
        "notification": "/notices?order_id={}&limit=1000",
    }
    paths: list[tuple[str, str]] = [
        (service, template.format(order_id))
        for order_id in orders
        for service, template in per_order.items()
    ]
    views: dict[str, Any] = {
        "cart /admin/orders": _pages(cart, "/admin/orders"),
        "catalog /products": _pages(shop.services["catalog"], "/products", size=100),
        "inventory /stock": _pages(shop.services["inventory"], "/stock"),
        "inventory /reservations": _pages(shop.services["inventory"], "/reservations"),
        "payment /payments": _pages(shop.services["payment"], "/payments"),
    }
    local = threading.local()

    def fetch(item: tuple[str, str]) -> tuple[str, Any]:
        service, path = item
        running = shop.services[service]
        clients: dict[str, httpx.Client] = local.__dict__.setdefault("clients", {})
        http = clients.get(running.url)
        if http is None:
            http = httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=60)
            clients[running.url] = http
        response = http.get(path)
        return f"{service} {path}", (response.status_code, response.json())

    with ThreadPoolExecutor(4) as pool:
        views.update(pool.map(fetch, paths))
    return views


async def total_lag(bootstrap: str, inputs: dict[str, tuple[str, ...]]) -> int:
    """Records not yet committed by each service's consumer group, over its input topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata of every topic
        lag = 0
        for group, topics in inputs.items():
            if not topics:
                continue
            committed = await admin.list_consumer_group_offsets(group)
            tps = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                done = committed[tp].offset if tp in committed else 0
                lag += max(0, ends[tp] - max(done, 0))
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def sent_notices(bootstrap: str) -> Counter[str]:
    """How often each notice was recorded as sent (distinct NotificationSent events).

    A record the relay published again after a crash or a broker restart has the same
    ce_id (consumers skip it); a notice sent twice would be two distinct events.
    """
    records = await read_topic(bootstrap, NOTIFICATION_EVENTS, at_least=1, timeout=600)
    seen: set[str] = set()
    sent: Counter[str] = Counter()
    for record in records:
        envelope = from_record(record.key, record.value, record.headers)
        if isinstance(envelope.data, NotificationSent) and envelope.id not in seen:
            seen.add(envelope.id)
            sent[str(envelope.data.notification_id)] += 1
    return sent


async def dead_letter_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata of every topic
        counts: dict[str, int] = {}
        for topic in topics:
            tps = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not tps:
                continue
            begins = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            total = sum(ends[tp] - begins[tp] for tp in tps)
            if total:
                counts[topic] = total
        return counts
    finally:
        await consumer.stop()


# -- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> SoakConfig:
    parser = argparse.ArgumentParser(
        prog="python -m orderflow_devinfra.chaos", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--orders", type=int, default=10_000, help="customers (default 10000)")
    parser.add_argument("--seconds", type=float, default=None, help="stop taking customers after")
    parser.add_argument("--workers", type=int, default=8, help="concurrent customers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--postgres-pauses", type=int, default=1)
    parser.add_argument("--pause-seconds", type=float, default=4.0)
    parser.add_argument("--card-probes", type=float, default=0.02, help="share of customers")
    parser.add_argument("--deadline-seconds", type=float, default=30.0)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the logs here")
    parser.add_argument(
        "--report", type=Path, default=Path("chaos/results/latest.json"), help="JSON report"
    )
    args = parser.parse_args(argv)
    return SoakConfig(
        orders=args.orders,
        seconds=args.seconds,
        workers=args.workers,
        seed=args.seed,
        broker_restarts=args.broker_restarts,
        postgres_pauses=args.postgres_pauses,
        pause_s=args.pause_seconds,
        card_probe_share=args.card_probes,
        deadline_s=args.deadline_seconds,
        drain_timeout_s=args.drain_timeout,
        workdir=args.workdir,
        report_path=args.report,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    with Soak(config) as soak:
        report = soak.run()
    return 1 if report.violation_count else 0


def run_soak(config: SoakConfig, after: Callable[[Soak], None] | None = None) -> SoakReport:
    """Run one soak; `after(soak)` looks at the shop before it is torn down."""
    with Soak(config) as soak:
        report = soak.run()
        if after is not None:
            after(soak)
    return report


if __name__ == "__main__":
    sys.exit(main())
