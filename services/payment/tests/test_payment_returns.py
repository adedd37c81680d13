"""Refunds of received returns: the returned units at their price plus their share of the
tax (and shipping per policy), never more than captured minus refunded, once per return;
a return without a capture is recorded, not refunded (or refunded once the capture comes).

The sample order: 2 x 19.90 EUR, shipping 4.90, tax 8.49 (19 % of 44.70), total 53.19.
One shirt back: 19.90 + 8.49 x 19.90 / 44.70 (3.7797 -> 3.78) = 23.68.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow_events import (
    Money,
    OrderLine,
    PaymentCaptured,
    PaymentRefunded,
    PaymentVoided,
)
from orderflow_payment.domain import NAMESPACE, Payment

if TYPE_CHECKING:
    from conftest import Harness

ONE_SHIRT = Money.of("23.68", "EUR")
SHIRT = "TSHIRT-RED-M"


def refunds(harness: Harness) -> list[tuple[Money, uuid.UUID | None]]:
    return [(r.amount, r.return_id) for r in harness.published(PaymentRefunded)]


def test_a_received_return_refunds_its_units_and_their_tax(harness: Harness) -> None:
    # Given a captured order
    order = harness.captured_order()

    # When one shirt comes back
    returned = harness.return_received(order.order_id)
    harness.deliver(returned)

    # Then 23.68 is refunded, named after the return
    [refund] = harness.published(PaymentRefunded)
    assert (refund.amount, refund.return_id) == (ONE_SHIRT, returned.return_id)
    assert refund.refund_id == uuid.uuid5(NAMESPACE, f"refund:{returned.return_id}")
    view = harness.app.payment(order.order_id)
    assert (view.status, view.refunded, view.returns) == ("captured", Decimal("23.68"), 1)


def test_the_refund_goes_through_the_gateway_keyed_by_its_id(harness: Harness) -> None:
    calls: list[tuple[Any, ...]] = []
    original = harness.gateway.refund
    harness.gateway.refund = lambda *args: calls.append(args) or original(*args)  # type: ignore[method-assign]
    order = harness.captured_order()
    returned = harness.return_received(order.order_id)
    harness.deliver(returned)
    harness.deliver(returned)  # a redelivery under a new ce_id
    [(_, amount, key)] = calls
    assert amount == ONE_SHIRT
    assert key == str(uuid.uuid5(NAMESPACE, f"refund:{returned.return_id}"))
    assert len(harness.published(PaymentRefunded)) == 1


def test_every_unit_counts_whatever_its_condition(harness: Harness) -> None:
    order = harness.captured_order()
    harness.deliver(
        harness.return_received(order.order_id, (SHIRT, 1, "damaged"), (SHIRT, 1, "defective"))
    )
    assert refunds(harness)[0][0] == Money.of("47.36", "EUR")  # 39.80 + 7.5594 -> 7.56


def test_two_partial_returns_refund_twice_and_keep_the_shipping(harness: Harness) -> None:
    order = harness.captured_order()
    first, second = (harness.return_received(order.order_id) for _ in range(2))
    harness.deliver(first)
    harness.deliver(second)
    assert refunds(harness) == [(ONE_SHIRT, first.return_id), (ONE_SHIRT, second.return_id)]
    view = harness.app.payment(order.order_id)
    assert view.refunded == Decimal("47.36") <= view.captured == Decimal("53.19")
    assert view.status == "captured"  # 4.90 shipping and its 0.93 tax are kept


def test_on_full_return_the_last_units_bring_the_shipping_back(
    harness: Harness, tmp_path: Path
) -> None:
    settings = harness.settings_for_test(tmp_path, refund_shipping="on_full_return")
    full = type(harness)(settings)
    try:
        order = full.captured_order()
        first, second = (full.return_received(order.order_id) for _ in range(2))
        full.deliver(first)
        full.deliver(second)
        # 23.68, then 23.68 + 4.90 + 8.49 x 4.90 / 44.70 (0.9307 -> 0.93) = 29.51
        assert refunds(full) == [
            (ONE_SHIRT, first.return_id),
            (Money.of("29.51", "EUR"), second.return_id),
        ]
        view = full.app.payment(order.order_id)
        assert (view.status, view.refunded) == ("refunded", Decimal("53.19"))
    finally:
        full.projections.engine.dispose()
        full.app.close()


def test_rounded_tax_shares_never_refund_more_than_was_captured(harness: Harness) -> None:
    # Given three 0.01 items with 0.02 tax: each item's share 0.00667 rounds up to 0.01
    order = harness.order().model_copy(
        update={
            "lines": [
                OrderLine(sku=sku, name=sku, quantity=1, unit_price=Money.of("0.01", "EUR"))
                for sku in ("A-1", "B-1", "C-1")
            ],
            "subtotal": Money.of("0.03", "EUR"),
            "shipping_fee": Money.of("0", "EUR"),
            "tax": Money.of("0.02", "EUR"),
            "total": Money.of("0.05", "EUR"),
        }
    )
    harness.deliver(order)
    harness.deliver(harness.shipped(order.order_id))

    # When each comes back on its own
    for sku in ("A-1", "B-1", "C-1"):
        harness.deliver(harness.return_received(order.order_id, (sku, 1, "resellable")))

    # Then the third refund is clipped to what is left: 0.02 + 0.02 + 0.01 = 0.05
    assert [amount for amount, _ in refunds(harness)] == [
        Money.of("0.02", "EUR"),
        Money.of("0.02", "EUR"),
        Money.of("0.01", "EUR"),
    ]
    assert harness.app.payment(order.order_id).status == "refunded"


def test_a_return_after_a_full_refund_refunds_nothing(harness: Harness) -> None:
    order = harness.captured_order()
    harness.deliver(harness.cancelled(order.order_id))  # refunded in full (a cancel)
    harness.deliver(harness.return_received(order.order_id))
    assert refunds(harness) == [(Money.of("53.19", "EUR"), None)]
    assert harness.app.payment(order.order_id).returns == 1


def test_a_return_for_a_voided_payment_is_recorded_and_not_refunded(harness: Harness) -> None:
    order = harness.order()
    harness.deliver(order)
    harness.deliver(harness.cancelled(order.order_id))
    harness.deliver(harness.return_received(order.order_id))
    harness.deliver(harness.shipped(order.order_id))
    assert len(harness.published(PaymentVoided)) == 1
    assert harness.published(PaymentRefunded) == harness.published(PaymentCaptured) == []
    view = harness.app.payment(order.order_id)
    assert (view.status, view.returns, view.refunded) == ("voided", 1, Decimal(0))


def test_a_return_for_a_declined_payment_is_recorded_and_not_refunded(harness: Harness) -> None:
    order = harness.order("tok_decline_funds")
    harness.deliver(order)
    harness.deliver(harness.return_received(order.order_id))
    assert harness.published(PaymentRefunded) == []
    assert harness.app.payment(order.order_id).returns == 1


def test_a_return_before_the_capture_is_refunded_once_the_capture_comes(
    harness: Harness,
) -> None:
    # Given Shipped and the return reached payment before OrderPlaced (another topic)
    order = harness.order()
    returned = harness.return_received(order.order_id)
    harness.deliver(harness.shipped(order.order_id))
    harness.deliver(returned)
    assert harness.published(PaymentRefunded) == []

    # When the order arrives: authorised, then the parked capture
    harness.deliver(order)
    harness.deliver(returned)

    # Then the return is refunded right after the capture, once
    assert len(harness.published(PaymentCaptured)) == 1
    assert refunds(harness) == [(ONE_SHIRT, returned.return_id)]


def test_state_rebuilt_from_the_events_equals_the_live_state(harness: Harness) -> None:
    order = harness.captured_order()
    harness.deliver(harness.return_received(order.order_id))
    harness.deliver(harness.cancelled(order.order_id))
    live = harness.app.repository.get(Payment.create_id(order.order_id))
    harness.app.forget([live.id])
    rebuilt = None
    for domain_event in harness.app.repository.event_store.get(live.id):
        rebuilt = domain_event.mutate(rebuilt)
    assert vars(rebuilt) == vars(live)
    assert [r.return_id is None for r in live.refunds] == [False, True]
    assert live.refunded == live.captured == Decimal("53.19")
