"""Each invariant check finds the violation it names (and nothing in a sound state)."""

from __future__ import annotations

from typing import Any

from orderflow_devinfra.invariants import (
    InvariantReport,
    _check_cancels,
    _check_money,
    _check_orders,
    _check_stock,
)


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def payment(**overrides: Any) -> dict[str, Any]:
    sound = {
        "order_id": "o1",
        "status": "captured",
        "authorized": eur("10.00"),
        "captured": eur("10.00"),
        "refunded": eur("0.00"),
        "voided": False,
        "authorizations": 1,
    }
    return {**sound, **overrides}


def stock(**overrides: Any) -> dict[str, Any]:
    sound = {
        "sku": "A",
        "on_hand": 8,
        "reserved": 1,
        "available": 7,
        "committed": 2,
        "received": 10,
        "restocked": 0,
    }
    return {**sound, **overrides}


def shipped_order(quantity: int = 2) -> dict[str, Any]:
    return {"order_id": "o1", "status": "delivered", "lines": [{"sku": "A", "quantity": quantity}]}


def figures(check: Any, *args: Any) -> dict[str, int]:
    report = InvariantReport()
    check(report, *args)
    return {k: v for k, v in report.figures.items() if v}


def test_sound_state_has_no_violation() -> None:
    assert figures(_check_money, [payment()]) == {}
    assert figures(_check_stock, [stock()], [shipped_order()]) == {}
    assert (
        figures(_check_orders, [{"order_id": "o", "status": "placed", "past_deadline": False}])
        == {}
    )


def test_money_violations() -> None:
    assert figures(_check_money, [payment(authorizations=2)]) == {"double_authorizations": 1}
    assert figures(_check_money, [payment(captured=eur("11.00"))]) == {"double_captures": 1}
    assert figures(_check_money, [payment(voided=True)]) == {"double_captures": 1}
    assert figures(_check_money, [payment(refunded=eur("10.01"))]) == {"over_refunds": 1}


def test_stock_violations() -> None:
    assert figures(_check_stock, [stock(on_hand=-1, available=-2)], [shipped_order()]) == {
        "oversold_units": 3  # negative, more reserved than on hand, no longer adds up
    }
    assert figures(_check_stock, [stock(reserved=9, available=-1)], [shipped_order()])
    assert figures(_check_stock, [stock()], [shipped_order(quantity=3)]) == {"oversold_units": 1}


def test_a_stuck_order_is_lost() -> None:
    stuck = {"order_id": "o", "status": "stock_reserved", "past_deadline": True}
    assert figures(_check_orders, [stuck]) == {"lost_orders": 1}
    done = {"order_id": "o", "status": "delivered", "past_deadline": True}
    assert figures(_check_orders, [done]) == {}


def test_a_cancel_that_kept_money_or_stock() -> None:
    orders = [{"order_id": "o1", "status": "cancelled"}]
    kept = {"o1": payment()}
    assert figures(_check_cancels, orders, kept, {}) == {"unsettled_cancels": 1}
    voided = {"o1": payment(status="voided", voided=True, captured=eur("0.00"))}
    assert figures(_check_cancels, orders, voided, {}) == {}
    held = {"o1": {"order_id": "o1", "status": "reserved"}}
    assert figures(_check_cancels, orders, voided, held) == {"unsettled_cancels": 1}
