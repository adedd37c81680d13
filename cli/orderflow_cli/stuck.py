"""`orderflow stuck`: orders past their deadline, as the cart service reports them.

The cart's `GET /orders/stuck` (operator endpoint, X-API-Key) answers a list of
`{"order_id", "status", "since", "deadline_at", "expired"}`, or the same list
under `"items"`; both are accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from orderflow_cli.options import AsJson, fail, out, print_json

FIELDS = ("order_id", "status", "since", "deadline_at", "expired")


def stuck(
    cart_url: Annotated[
        str, typer.Option(envvar="ORDERFLOW_CART_URL", help="The cart service's base URL.")
    ] = "http://127.0.0.1:8002",
    api_key: Annotated[
        str | None, typer.Option(envvar="ORDERFLOW_API_KEY", help="Operator key (X-API-Key).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Orders past their deadline (cart's GET /orders/stuck), most overdue first."""
    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        response = httpx.get(f"{cart_url.rstrip('/')}/orders/stuck", headers=headers, timeout=15)
    except httpx.HTTPError as error:
        fail(f"cart at {cart_url} did not answer: {error}")
    if response.status_code != 200:
        fail(f"cart answered {response.status_code}: {response.text[:300]}")
    orders = stuck_orders(response.json(), datetime.now(UTC))
    if as_json:
        print_json(orders)
        return
    table = Table(title=f"{len(orders)} orders past their deadline")
    for column in ("order", "status", "since", "deadline", "overdue", "expired"):
        table.add_column(column)
    for order in orders:
        overdue = order["overdue_s"]
        table.add_row(
            order["order_id"],
            order["status"],
            str(order["since"] or ""),
            str(order["deadline_at"] or ""),
            "" if overdue is None else f"{overdue:,.0f} s",
            "yes" if order["expired"] else "no",
        )
    out.print(table)


def stuck_orders(body: Any, now: datetime) -> list[dict[str, Any]]:
    """The answer's orders (a list, or one under "items") with `overdue_s`, most overdue first."""
    items = body.get("items", []) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise typer.BadParameter(f"unexpected answer from cart: {str(body)[:200]}")
    orders = []
    for item in items:
        order = {name: item.get(name) for name in FIELDS}
        order["order_id"] = str(order["order_id"])
        order["expired"] = bool(order["expired"])
        deadline = _time(order["deadline_at"])
        order["overdue_s"] = None if deadline is None else (now - deadline).total_seconds()
        orders.append(order)
    return sorted(orders, key=lambda o: -(o["overdue_s"] or 0.0))


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
