"""The example subscriber (examples/order-follower) as an outsider runs it: a separate
process on the real broker, knowing only the public contract.

Two orders are published into a namespace of their own (one delivered, one cancelled
for lack of stock), plus a redelivered duplicate, an event type from the future, a
record that is not JSON and a stock-level event that belongs to no order.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from orderflow_events import (
    CancelReason,
    Delivered,
    IntegrationEvent,
    ItemCondition,
    KafkaRecord,
    OrderCancelled,
    PaymentAuthorized,
    PaymentVoided,
    ReceivedLine,
    ReturnReceived,
    ReturnRequested,
    Shipped,
    StockLevelLow,
    StockLine,
    StockReservationFailed,
    StockReserved,
    headers_dict,
    to_record,
)
from orderflow_events.samples import sample_events, sample_order_placed

FOLLOWER = Path(__file__).parents[2] / "examples" / "order-follower" / "follow_orders.py"
STAGES = ["placed", "paid", "reserved", "shipped", "delivered"]


def _sample(cls: type[IntegrationEvent], order_id: UUID, **changes: Any) -> IntegrationEvent:
    event = next(e for e in sample_events() if type(e) is cls)
    return event.model_copy(update={"order_id": order_id, **changes})


def _record(event: IntegrationEvent, event_id: str | None = None) -> KafkaRecord:
    return to_record(event, event_id=event_id or str(uuid4()), time=datetime.now(UTC))


async def _publish(bootstrap: str, namespace: str, records: list[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                namespace + record.topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def _follow(bootstrap: str, namespace: str, group: str) -> tuple[list[dict[str, Any]], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FOLLOWER),
        "--bootstrap-servers",
        bootstrap,
        "--namespace",
        namespace,
        "--group",
        group,
        "--json",
        "--exit-after-idle",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()[-3000:]
    return [json.loads(line) for line in stdout.decode().splitlines()], stderr.decode()


async def test_the_follower_reports_each_orders_status(kafka_bootstrap: str) -> None:
    namespace = f"t{uuid4().hex[:10]}."
    delivered, cancelled = uuid4(), uuid4()
    authorized = _record(_sample(PaymentAuthorized, delivered))
    happy = [
        _record(sample_order_placed().model_copy(update={"order_id": delivered})),
        authorized,
        _record(_sample(StockReserved, delivered)),
        _record(_sample(Shipped, delivered)),
        _record(_sample(Delivered, delivered)),
    ]
    unhappy = [
        _record(sample_order_placed().model_copy(update={"order_id": cancelled})),
        _record(_sample(PaymentAuthorized, cancelled)),
        _record(_sample(StockReservationFailed, cancelled)),
        _record(_sample(OrderCancelled, cancelled, reason=CancelReason.OUT_OF_STOCK)),
        _record(_sample(PaymentVoided, cancelled)),
    ]
    placed = _record(sample_order_placed().model_copy(update={"order_id": delivered}))
    future = KafkaRecord(
        placed.topic,
        placed.key,
        placed.value,
        [(name, b"orders.placed.v9" if name == "ce_type" else v) for name, v in placed.headers],
    )
    broken = _record(_sample(OrderCancelled, cancelled))
    broken = KafkaRecord(broken.topic, broken.key, b'{"order_id": "', broken.headers)
    sku_event = next(e for e in sample_events() if isinstance(e, StockLevelLow))
    extras = [
        KafkaRecord(authorized.topic, authorized.key, authorized.value, authorized.headers),
        future,
        broken,
        _record(sku_event),
    ]
    await _publish(kafka_bootstrap, namespace, [*happy, *unhappy, *extras])
    group = f"order-follower-{uuid4().hex[:8]}"

    lines, stderr = await _follow(kafka_bootstrap, namespace, group)

    *updates, last = lines
    assert last["summary"] == {
        "events": 10,
        "duplicates": 1,
        "unknown_types": 1,
        "invalid": 1,
        "not_about_an_order": 1,
        "orders": {
            str(delivered): {"status": "delivered", "reason": None, "events": 5},
            str(cancelled): {"status": "cancelled", "reason": "out_of_stock", "events": 5},
        },
    }
    ids = {headers_dict(record.headers)["ce_id"] for record in [*happy, *unhappy]}
    assert {line["event_id"] for line in updates} == ids
    assert len(updates) == len(ids)
    happy_path = [line["status"] for line in updates if line["order_id"] == str(delivered)]
    assert happy_path == sorted(happy_path, key=STAGES.index)  # never goes back
    assert happy_path[-1] == "delivered"
    cancels = [line for line in updates if line["order_id"] == str(cancelled)]
    assert cancels[-1]["status"] == "cancelled"
    assert cancels[-1]["reason"] == "out_of_stock"
    assert "malformed_json" in stderr
    assert all(line["time"].endswith("Z") for line in updates)

    # The group committed its offsets: a second run has nothing new to report.
    again, _ = await _follow(kafka_bootstrap, namespace, group)
    assert again == [
        {
            "summary": {
                "events": 0,
                "duplicates": 0,
                "unknown_types": 0,
                "invalid": 0,
                "not_about_an_order": 0,
                "orders": {},
            }
        }
    ]


def _load_follower() -> Any:
    spec = importlib.util.spec_from_file_location("follow_orders", FOLLOWER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_status_is_the_furthest_stage_and_returns_count_units() -> None:
    """No broker: the follower's bookkeeping, fed out of order, with two partial returns."""
    follow_orders = _load_follower()
    out, err = io.StringIO(), io.StringIO()
    follower = follow_orders.Follower(out=out, err=err)
    order_id = uuid4()
    first, second = uuid4(), uuid4()
    two = [StockLine(sku="TSHIRT-RED-M", quantity=2)]
    one = [ReceivedLine(sku="TSHIRT-RED-M", quantity=1, condition=ItemCondition.RESELLABLE)]
    events = [
        _sample(Delivered, order_id),  # other topics' events may come first
        sample_order_placed().model_copy(update={"order_id": order_id}),
        _sample(Shipped, order_id, lines=two),
        _sample(ReturnRequested, order_id, return_id=first),
        _sample(ReturnReceived, order_id, return_id=first, lines=one),
        _sample(ReturnRequested, order_id, return_id=second),
        _sample(ReturnReceived, order_id, return_id=second, lines=one),
    ]
    statuses = []
    for offset, event in enumerate(events):
        record = _record(event)
        follower.handle(record.topic, 0, offset, SimpleNamespace(**record.__dict__))
        statuses.append(follower.orders[str(order_id)].status)

    assert statuses == [
        "delivered",
        "delivered",
        "delivered",
        "return_requested",
        "partially_returned",
        "return_requested",
        "returned",
    ]
    assert f"order {order_id}  returned  <- fulfillment.return_received.v1" in out.getvalue()
    assert err.getvalue() == ""
