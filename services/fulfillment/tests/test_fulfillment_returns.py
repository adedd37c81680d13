"""Returns decided on the order's Shipment: authorised (RMA and a label from the carrier
that delivered) or rejected (not delivered, past the window, more than is left to return,
a sku not shipped); once per return."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from orderflow_events import ReturnAuthorized, ReturnLabel, ReturnRejected, Shipped, StockLine
from orderflow_fulfillment.dispatch import SandboxCarrier
from orderflow_fulfillment.domain import Shipment
from orderflow_fulfillment.rates import default_carriers
from orderflow_fulfillment.returns import ReturnStatus, rma_of

if TYPE_CHECKING:
    from conftest import Harness


def test_a_return_of_a_delivered_order_gets_an_rma_and_a_label(harness: Harness) -> None:
    # Given a delivered order of 2 units (swiftship express)
    order = harness.delivered_order()
    [shipped] = harness.published(Shipped)

    # When the customer returns one unit a day after delivery
    request = harness.return_requested(order.order_id, 1)
    harness.deliver(request)

    # Then an RMA and a prepaid label from the carrier that delivered it
    [authorized] = harness.published(ReturnAuthorized)
    assert (authorized.order_id, authorized.return_id) == (order.order_id, request.return_id)
    assert re.fullmatch(r"RMA-[0-9A-F]{10}", authorized.rma)
    assert authorized.rma == rma_of(request.return_id)
    assert authorized.lines == [StockLine(sku="TSHIRT-RED-M", quantity=1)]
    label = authorized.label
    assert label.carrier == shipped.carrier == "swiftship"
    assert re.fullmatch(r"SW\d{12}", label.tracking_number)
    assert label.tracking_number != shipped.tracking_number
    assert label.url == f"https://labels.swiftship.example/{label.tracking_number}"
    assert harness.published(ReturnRejected) == []


def test_a_redelivered_request_is_decided_once(harness: Harness) -> None:
    order = harness.delivered_order()
    request = harness.return_requested(order.order_id, 2)
    harness.deliver(request, request)
    assert len(harness.published(ReturnAuthorized)) == 1
    assert harness.published(ReturnRejected) == []  # not "nothing left to return"


def test_the_label_is_the_same_for_the_same_return() -> None:
    carrier = SandboxCarrier(default_carriers()[0], "EUR")
    return_id = uuid.uuid4()
    assert carrier.buy_return_label(return_id) == carrier.buy_return_label(return_id)
    assert carrier.buy_return_label(return_id) != carrier.buy_return_label(uuid.uuid4())


@pytest.mark.parametrize("stage", ["unknown", "placed", "shipped"])
def test_an_order_not_delivered_cannot_be_returned(harness: Harness, stage: str) -> None:
    order = harness.order()
    if stage != "unknown":
        harness.deliver(order)
    if stage == "shipped":
        harness.deliver(harness.reserved(order.order_id))
    request = harness.return_requested(order.order_id, 1)
    harness.deliver(request)
    [rejected] = harness.published(ReturnRejected)
    assert rejected.return_id == request.return_id
    assert "not been delivered" in rejected.reason
    assert harness.published(ReturnAuthorized) == []


@pytest.mark.parametrize(
    ("after", "authorised"),
    [
        (timedelta(days=30), True),
        (timedelta(days=30, seconds=1), False),
    ],
)
def test_the_return_window_is_judged_when_the_customer_asked(
    harness: Harness, after: timedelta, authorised: bool
) -> None:
    order = harness.delivered_order()
    harness.deliver(harness.return_requested(order.order_id, 1, after=after))
    assert len(harness.published(ReturnAuthorized)) == int(authorised)
    rejected = harness.published(ReturnRejected)
    assert len(rejected) == int(not authorised)
    if rejected:
        assert "return window ended on 2025-03-31" in rejected[0].reason


def test_open_and_received_returns_count_against_the_shipped_quantity(harness: Harness) -> None:
    # Given a delivered order of 2 units, one of which is authorised for return
    order = harness.delivered_order()
    first = harness.return_requested(order.order_id, 1)
    harness.deliver(first)

    # When two more are asked for, then one, then one again
    too_many = harness.return_requested(order.order_id, 2)
    second = harness.return_requested(order.order_id, 1)
    third = harness.return_requested(order.order_id, 1)
    harness.deliver(too_many, second, third)

    # Then only the one left may come back
    authorized = [a.return_id for a in harness.published(ReturnAuthorized)]
    rejected = {r.return_id: r.reason for r in harness.published(ReturnRejected)}
    assert authorized == [first.return_id, second.return_id]
    assert set(rejected) == {too_many.return_id, third.return_id}
    assert "Only 1 unit(s) of TSHIRT-RED-M" in rejected[too_many.return_id]
    assert "Only 0 unit(s)" in rejected[third.return_id]


def test_units_authorised_but_never_received_may_be_asked_for_again(harness: Harness) -> None:
    # Given both units authorised, and only one found in the parcel (the other is lost)
    order = harness.delivered_order()
    first = harness.return_requested(order.order_id, 2)
    harness.deliver(first)
    rma = rma_of(first.return_id)
    received = [{"sku": "TSHIRT-RED-M", "quantity": 1, "condition": "resellable"}]
    harness.app.receive_return(
        order.order_id, rma, received, harness.reserved(order.order_id).reserved_at
    )

    # When the customer returns one unit again, then another
    again, more = (harness.return_requested(order.order_id, 1) for _ in range(2))
    harness.deliver(again, more)

    # Then the unit that did not arrive may still come back, no more
    assert [a.return_id for a in harness.published(ReturnAuthorized)][1:] == [again.return_id]
    assert [r.return_id for r in harness.published(ReturnRejected)] == [more.return_id]


def test_a_sku_that_was_not_shipped_cannot_be_returned(harness: Harness) -> None:
    order = harness.delivered_order()
    harness.deliver(harness.return_requested(order.order_id, 1, sku="MUG-BLUE"))
    [rejected] = harness.published(ReturnRejected)
    assert rejected.reason == "MUG-BLUE was not shipped with this order."


def test_the_window_comes_from_the_settings(harness: Harness, tmp_path: Path) -> None:
    settings = harness.settings.model_copy(
        update={"return_window_s": 60, "data_dir": tmp_path / "short"}
    )
    short = type(harness)(settings)
    try:
        order = short.delivered_order()
        short.deliver(short.return_requested(order.order_id, 1, after=timedelta(seconds=60)))
        short.deliver(short.return_requested(order.order_id, 1, after=timedelta(seconds=61)))
        assert len(short.published(ReturnAuthorized)) == len(short.published(ReturnRejected)) == 1
    finally:
        short.projections.engine.dispose()
        short.app.close()


def test_state_rebuilt_from_the_events_equals_the_live_state(harness: Harness) -> None:
    order = harness.delivered_order()
    first, second = (harness.return_requested(order.order_id, 2) for _ in range(2))
    harness.deliver(first, second)
    lines = [{"sku": "TSHIRT-RED-M", "quantity": 2, "condition": "damaged"}]
    harness.app.receive_return(order.order_id, rma_of(first.return_id), lines, first.requested_at)
    live = harness.app.repository.get(Shipment.create_id(order.order_id))
    harness.app.forget([live.id])
    rebuilt = None
    for domain_event in harness.app.repository.event_store.get(live.id):
        rebuilt = domain_event.mutate(rebuilt)
    assert vars(rebuilt) == vars(live)
    statuses = [r.status for r in live.returns.values()]
    assert statuses == [ReturnStatus.RECEIVED, ReturnStatus.REJECTED]
    assert ReturnLabel.model_validate(live.returns[first.return_id].label)
