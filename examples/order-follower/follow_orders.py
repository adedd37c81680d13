"""Follow orderflow orders from the outside: print each order's status as its events arrive.

An example subscriber: it needs only the public contract (`orderflow_events`) and a
Kafka client (`aiokafka`). It reads `orders.events`, `payment.events`,
`inventory.events` and `fulfillment.events` in its own consumer group, from the
earliest offset the first time, and keeps each order's status in memory:

    placed -> paid -> reserved -> shipped -> delivered
    cancelled (with its reason), return_requested, partially_returned, returned

Events of different topics arrive in no particular order, so the status is the
furthest stage the order's events prove, not the last event seen. Records are
deduplicated by `ce_id`; unknown event types (newer versions) are skipped; other
invalid records are reported on stderr and skipped.

    python follow_orders.py --bootstrap-servers localhost:9092 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer
from orderflow_events import (
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    Delivered,
    Envelope,
    InvalidRecord,
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorized,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    Shipped,
    StockReserved,
    from_record,
)

TOPICS = (ORDERS_EVENTS, PAYMENT_EVENTS, INVENTORY_EVENTS, FULFILLMENT_EVENTS)
STAGES = ("placed", "paid", "reserved", "shipped", "delivered")
"""The happy path, in order: an order's status is the furthest stage reached."""
SEEN_IDS_KEPT = 100_000
"""How many ce_ids are remembered for deduplication (oldest forgotten first)."""


@dataclass
class Order:
    """What the events received so far say about one order."""

    order_id: str
    stage: int = -1  # index into STAGES; -1: nothing of the happy path seen yet
    cancel_reason: str | None = None
    open_returns: set[str] = field(default_factory=set)
    closed_returns: set[str] = field(default_factory=set)
    shipped: Counter[str] = field(default_factory=Counter)
    returned: Counter[str] = field(default_factory=Counter)
    events: int = 0

    def apply(self, envelope: Envelope) -> None:
        self.events += 1
        match envelope.data:
            case OrderPlaced():
                self._reach("placed")
            case PaymentAuthorized():
                self._reach("paid")
            case StockReserved():
                self._reach("reserved")
            case Shipped(lines=lines):
                self._reach("shipped")
                self.shipped = Counter({line.sku: line.quantity for line in lines})
            case Delivered():
                self._reach("delivered")
            case OrderCancelled(reason=reason):
                self.cancel_reason = reason.value
            case ReturnRequested(return_id=return_id):
                if str(return_id) not in self.closed_returns:
                    self.open_returns.add(str(return_id))
            case ReturnRejected(return_id=return_id):
                self._close_return(str(return_id))
            case ReturnReceived(return_id=return_id, lines=lines):
                self._close_return(str(return_id))
                for line in lines:
                    self.returned[line.sku] += line.quantity
            case _:
                pass  # payment captures, voids, stock commits...: no change of status

    def _reach(self, stage: str) -> None:
        self.stage = max(self.stage, STAGES.index(stage))

    def _close_return(self, return_id: str) -> None:
        self.open_returns.discard(return_id)
        self.closed_returns.add(return_id)

    @property
    def status(self) -> str:
        if self.cancel_reason is not None:
            return "cancelled"
        if self.open_returns:
            return "return_requested"
        if self.returned:
            whole = all(self.returned[sku] >= qty for sku, qty in self.shipped.items())
            return "returned" if whole else "partially_returned"
        return STAGES[self.stage] if self.stage >= 0 else "unknown"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.cancel_reason, "events": self.events}


@dataclass
class Follower:
    """Applies records to orders; writes one line per applied order event."""

    out: TextIO
    err: TextIO
    as_json: bool = False
    orders: dict[str, Order] = field(default_factory=dict)
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    counts: Counter[str] = field(default_factory=Counter)

    def handle(self, topic: str, partition: int, offset: int, record: Any) -> None:
        try:
            envelope = from_record(record.key, record.value, record.headers)
        except InvalidRecord as error:
            if error.reason == "unknown_type":  # a newer event type or version: skip it
                self.counts["unknown_types"] += 1
                return
            self.counts["invalid"] += 1
            print(f"invalid record {topic}[{partition}]@{offset}: {error}", file=self.err)
            return
        if envelope.id in self.seen:
            self.counts["duplicates"] += 1
            return
        self.seen[envelope.id] = None
        if len(self.seen) > SEEN_IDS_KEPT:
            self.seen.popitem(last=False)
        order_id = getattr(envelope.data, "order_id", None)
        if order_id is None:  # about a sku (stock levels, goods receipts), not an order
            self.counts["not_about_an_order"] += 1
            return
        order = self.orders.setdefault(str(order_id), Order(str(order_id)))
        order.apply(envelope)
        self.counts["events"] += 1
        self._report(order, envelope)

    def _report(self, order: Order, envelope: Envelope) -> None:
        when = envelope.time.isoformat().replace("+00:00", "Z")
        if self.as_json:
            line = {
                "order_id": order.order_id,
                **order.as_json(),
                "event": envelope.type,
                "event_id": envelope.id,
                "time": when,
            }
            print(json.dumps(line), file=self.out, flush=True)
        else:
            reason = f" ({order.cancel_reason})" if order.cancel_reason else ""
            print(
                f"{when}  order {order.order_id}  {order.status}{reason}  <- {envelope.type}",
                file=self.out,
                flush=True,
            )

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.counts["events"],
            "duplicates": self.counts["duplicates"],
            "unknown_types": self.counts["unknown_types"],
            "invalid": self.counts["invalid"],
            "not_about_an_order": self.counts["not_about_an_order"],
            "orders": {order_id: order.as_json() for order_id, order in self.orders.items()},
        }


async def follow(args: argparse.Namespace, follower: Follower, stop: asyncio.Event) -> None:
    topics = [f"{args.namespace}{topic}" for topic in TOPICS]
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=args.bootstrap_servers,
        group_id=args.group,
        client_id=args.group,
        auto_offset_reset="earliest",  # a new group starts from the beginning
        enable_auto_commit=False,  # committed after each batch is applied
    )
    await consumer.start()
    last_activity = time.monotonic()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for partition, records in batch.items():
                for record in records:
                    follower.handle(partition.topic, partition.partition, record.offset, record)
            if batch:
                await consumer.commit()
            if batch or not consumer.assignment():  # idle counts once partitions are ours
                last_activity = time.monotonic()
            idle = time.monotonic() - last_activity
            if args.exit_after_idle is not None and idle >= args.exit_after_idle:
                break
    finally:
        await consumer.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print each orderflow order's status as its events arrive."
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or localhost:9092)",
    )
    parser.add_argument(
        "--group", default="order-follower", help="consumer group (default: order-follower)"
    )
    parser.add_argument(
        "--namespace", default="", help="topic name prefix of the deployment, e.g. 'staging.'"
    )
    parser.add_argument(
        "--json", action="store_true", help="JSON lines: one per event, a summary at the end"
    )
    parser.add_argument(
        "--exit-after-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS without a new record (default: run until interrupted)",
    )
    return parser.parse_args(argv)


async def amain(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    follower = Follower(out=sys.stdout, err=sys.stderr, as_json=args.json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)
    await follow(args, follower, stop)
    summary = follower.summary()
    if args.json:
        print(json.dumps({"summary": summary}), flush=True)
    else:
        counts = {k: v for k, v in summary.items() if k != "orders"}
        print(f"{len(summary['orders'])} order(s); {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(amain()))
