"""The saga's invariants, checked from what each service reports (events.md, "Invariants").

`check(shop)` reads every order (cart), payment (payment), stock level and
reservation (inventory) through the admin APIs, and every notice sent from
`notification.events`, and returns a report: figures plus every violation found.
The failure-path tests and the fault suite use it; a test asserts
`report.violations == []`.

Each figure names one way the system could be wrong:
- `lost_orders`: not in a final state and past its deadline (stuck);
- `double_authorizations`: more than one successful authorisation for an order;
- `double_captures`: captured more than authorised, or captured after a void;
- `over_refunds`: refunded more than captured;
- `oversold_units`: units committed beyond what came in, or counters that do not add up;
- `duplicate_notices`: a notice sent more than once;
- `unsettled_cancels`: a cancelled order whose money was kept or whose stock is still held.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from orderflow_events import NOTIFICATION_EVENTS, NotificationSent

from orderflow_devinfra.shop import Shop

FINAL_STATES = frozenset({"delivered", "partially_returned", "returned", "cancelled"})
SHIPPED_STATES = frozenset(
    {"shipped", "delivered", "return_requested", "partially_returned", "returned"}
)
FIGURES = (
    "lost_orders",
    "double_authorizations",
    "double_captures",
    "over_refunds",
    "oversold_units",
    "duplicate_notices",
    "unsettled_cancels",
)


@dataclass
class Violation:
    figure: str
    subject: str
    detail: str


@dataclass
class InvariantReport:
    orders: int = 0
    states: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def add(self, figure: str, subject: str, detail: str) -> None:
        self.violations.append(Violation(figure, subject, detail))

    @property
    def figures(self) -> dict[str, int]:
        counts = Counter(v.figure for v in self.violations)
        return {figure: counts.get(figure, 0) for figure in FIGURES}

    def summary(self) -> str:
        lines = [f"{self.orders} orders, states {self.states}, figures {self.figures}"]
        lines += [f"  {v.figure}: {v.subject}: {v.detail}" for v in self.violations[:50]]
        return "\n".join(lines)


async def check(shop: Shop) -> InvariantReport:
    """Read every service's state and check each invariant."""
    report = InvariantReport()
    orders = _pages(shop, "cart", "/admin/orders")
    payments = {p["order_id"]: p for p in _pages(shop, "payment", "/payments")}
    stock = _pages(shop, "inventory", "/stock")
    reservations = {r["order_id"]: r for r in _pages(shop, "inventory", "/reservations")}
    report.orders = len(orders)
    report.states = dict(Counter(o["status"] for o in orders))
    _check_orders(report, orders)
    _check_money(report, payments.values())
    _check_stock(report, stock, orders)
    _check_cancels(report, orders, payments, reservations)
    await _check_notices(report, shop)
    return report


def _check_orders(report: InvariantReport, orders: list[dict[str, Any]]) -> None:
    for order in orders:
        if order["status"] not in FINAL_STATES and order.get("past_deadline"):
            detail = f"{order['status']} since {order.get('status_since')}"
            report.add("lost_orders", order["order_id"], detail)


def _check_money(report: InvariantReport, payments: Any) -> None:
    for payment in payments:
        subject = payment["order_id"]
        authorized = _amount(payment.get("authorized"))
        captured = _amount(payment.get("captured"))
        refunded = _amount(payment.get("refunded"))
        if payment.get("authorizations", 0) > 1:
            report.add("double_authorizations", subject, f"{payment['authorizations']} times")
        if captured > authorized:
            report.add("double_captures", subject, f"captured {captured} > authorized {authorized}")
        if payment.get("voided") and captured > 0:
            report.add("double_captures", subject, f"captured {captured} after a void")
        if refunded > captured:
            report.add("over_refunds", subject, f"refunded {refunded} > captured {captured}")


def _check_stock(
    report: InvariantReport, stock: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> None:
    shipped: dict[str, int] = defaultdict(int)
    for order in orders:
        if order["status"] in SHIPPED_STATES:
            for line in order.get("lines", []):
                shipped[line["sku"]] += line["quantity"]
    for item in stock:
        sku = item["sku"]
        counters = {k: item[k] for k in ("on_hand", "reserved", "available", "committed")}
        if any(value < 0 for value in counters.values()):
            report.add("oversold_units", sku, f"negative counter {counters}")
        if item["reserved"] > item["on_hand"]:
            report.add("oversold_units", sku, f"reserved {item['reserved']} > {item['on_hand']}")
        came_in = item.get("received", 0) + item.get("restocked", 0)
        if item["on_hand"] != came_in - item["committed"]:
            detail = f"on_hand {item['on_hand']} != in {came_in} - committed {item['committed']}"
            report.add("oversold_units", sku, detail)
        if item["committed"] != shipped.get(sku, 0):
            detail = f"committed {item['committed']} != shipped in orders {shipped.get(sku, 0)}"
            report.add("oversold_units", sku, detail)


def _check_cancels(
    report: InvariantReport,
    orders: list[dict[str, Any]],
    payments: dict[str, dict[str, Any]],
    reservations: dict[str, dict[str, Any]],
) -> None:
    for order in orders:
        if order["status"] != "cancelled":
            continue
        subject = order["order_id"]
        payment = payments.get(subject)
        if payment is not None:
            kept = _amount(payment.get("captured")) - _amount(payment.get("refunded"))
            held = _amount(payment.get("authorized")) > 0 and not (
                payment.get("voided") or payment.get("status") in ("declined", "refunded")
            )
            if kept > 0 or (held and _amount(payment.get("captured")) == 0):
                report.add("unsettled_cancels", subject, f"payment {payment.get('status')}")
        reservation = reservations.get(subject)
        if reservation is not None and reservation.get("status") == "reserved":
            report.add("unsettled_cancels", subject, "stock still reserved")


async def _check_notices(report: InvariantReport, shop: Shop) -> None:
    try:
        events = await shop.events(NOTIFICATION_EVENTS, at_least=1, timeout=5)
    except AssertionError:  # no notice at all
        return
    # A relay may publish a batch again after a crash or a broker restart (same ce_id):
    # consumers skip those. A notice sent twice is two distinct NotificationSent events.
    distinct = {e.id: e.data for e in events if isinstance(e.data, NotificationSent)}
    sent = Counter(str(data.notification_id) for data in distinct.values())
    for notice_id, times in sent.items():
        if times > 1:
            report.add("duplicate_notices", notice_id, f"sent {times} times")


def _pages(shop: Shop, service: str, path: str, size: int = 100) -> list[dict[str, Any]]:
    running = shop.services[service]
    items: list[dict[str, Any]] = []
    with httpx.Client(base_url=running.url, headers=running.admin_headers, timeout=30) as http:
        for page in _page_numbers():
            response = http.get(path, params={"page": page, "size": size})
            response.raise_for_status()
            body = response.json()
            items.extend(body["items"])
            if len(body["items"]) < size:
                return items
    return items


def _page_numbers() -> Iterator[int]:
    page = 1
    while True:
        yield page
        page += 1


def _amount(money: dict[str, Any] | None) -> Decimal:
    return Decimal(money["amount"]) if money else Decimal(0)
