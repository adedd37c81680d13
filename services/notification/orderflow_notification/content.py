"""What each notice says: template names and their data, as plain storable values.

The data of a notice is stored with it (Decimal, str, int, datetime, lists and
dicts), so that a notice parked until its order's contact is known, or rendered
after a restart, says exactly what the event said.
"""

from __future__ import annotations

from typing import Any, Final

from orderflow_events import (
    CancelReason,
    Delivered,
    Money,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnRejected,
    Shipped,
    StockReservationFailed,
)

ORDER_CONFIRMATION: Final = "order_confirmation"
SHIPPING_CONFIRMATION: Final = "shipping_confirmation"
DELIVERY_CONFIRMATION: Final = "delivery_confirmation"
ORDER_CANCELLED: Final = "order_cancelled"
PAYMENT_DECLINED: Final = "payment_declined"
PAYMENT_REFUNDED: Final = "payment_refunded"
RETURN_AUTHORIZED: Final = "return_authorized"
RETURN_REJECTED: Final = "return_rejected"
TEMPLATES: Final = (
    ORDER_CONFIRMATION,
    SHIPPING_CONFIRMATION,
    DELIVERY_CONFIRMATION,
    ORDER_CANCELLED,
    PAYMENT_DECLINED,
    PAYMENT_REFUNDED,
    RETURN_AUTHORIZED,
    RETURN_REJECTED,
)

# The reason in the customer's words: "we have cancelled your order <number> <words>".
CANCEL_WORDS: Final = {
    CancelReason.PAYMENT_DECLINED: "because we could not take the payment for it",
    CancelReason.OUT_OF_STOCK: "because some of the items are no longer in stock",
    CancelReason.CUSTOMER: "as you asked",
    CancelReason.EXPIRED: "because we could not complete it in time",
}
DECLINE_WORDS: Final = {
    "insufficient_funds": "your card was declined for insufficient funds",
    "card_expired": "your card has expired",
    "card_declined": "your bank declined the payment",
    "do_not_honor": "your bank declined the payment",
    "fraud_suspected": "your bank declined the payment",
    "gateway_unavailable": "our payment provider could not be reached",
}
DEFAULT_DECLINE_WORDS: Final = "the payment was declined"


def money(value: Money) -> dict[str, Any]:
    return {"amount": value.amount, "currency": value.currency}


def receipt(placed: OrderPlaced) -> dict[str, Any]:
    """The itemised receipt: lines, amounts, address, card brand and last four only."""
    address = placed.shipping_address
    return {
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "attributes": dict(line.attributes),
                "quantity": line.quantity,
                "unit_price": line.unit_price.amount,
                "line_total": line.unit_price.amount * line.quantity,
            }
            for line in placed.lines
        ],
        "currency": placed.currency,
        "subtotal": placed.subtotal.amount,
        "shipping_fee": placed.shipping_fee.amount,
        "tax": placed.tax.amount,
        "total": placed.total.amount,
        "shipping_method": placed.shipping_method.value,
        "shipping_address": address.model_dump(mode="python", exclude={"phone"}),
        "payment": {"brand": placed.payment.brand, "last4": placed.payment.last4},
        "placed_at": placed.placed_at,
    }


def shipped(event: Shipped) -> dict[str, Any]:
    return {
        "carrier": event.carrier,
        "service_level": event.service_level,
        "tracking_number": event.tracking_number,
        "parcel": [{"sku": line.sku, "quantity": line.quantity} for line in event.lines],
        "shipped_at": event.shipped_at,
    }


def delivered(event: Delivered) -> dict[str, Any]:
    return {"delivered_at": event.delivered_at}


def cancelled(event: OrderCancelled) -> dict[str, Any]:
    # `detail` is for operators and may be internal: the customer gets the reason's words,
    # and for out_of_stock the short items (`completed` adds them from the inventory).
    return {"reason": event.reason.value, "reason_text": CANCEL_WORDS[event.reason]}


def shortage(event: StockReservationFailed) -> list[dict[str, Any]]:
    """The lines inventory could not reserve, to name them in the cancel notice."""
    return [
        {"sku": line.sku, "requested": line.requested, "available": line.available}
        for line in event.unavailable
    ]


def return_authorized(event: ReturnAuthorized) -> dict[str, Any]:
    label = event.label
    return {
        "return_id": event.return_id,
        "rma": event.rma,
        "label": {
            "carrier": label.carrier,
            "tracking_number": label.tracking_number,
            "url": label.url,
        },
        # Only a web address becomes a link in the HTML body; anything else stays text.
        "label_is_link": label.url.startswith(("https://", "http://")),
        "items": [{"sku": line.sku, "quantity": line.quantity} for line in event.lines],
        "authorized_at": event.authorized_at,
    }


def return_rejected(event: ReturnRejected) -> dict[str, Any]:
    return {"return_id": event.return_id, "reason": event.reason, "rejected_at": event.rejected_at}


def declined(event: PaymentDeclined) -> dict[str, Any]:
    words = DECLINE_WORDS.get(event.reason, DEFAULT_DECLINE_WORDS)
    return {"reason": event.reason, "reason_text": words}


def refunded(event: PaymentRefunded) -> dict[str, Any]:
    return {
        "refund": money(event.amount),
        "refund_id": event.refund_id,
        "for_return": event.return_id is not None,
        "return_id": event.return_id,
        "refunded_at": event.refunded_at,
    }


def completed(
    template: str, data: dict[str, Any], short: list[dict[str, Any]] | None, rmas: dict[str, str]
) -> dict[str, Any]:
    """A notice's data plus what the order's other events told: the short items of an
    out-of-stock cancel, the RMA of a refunded return."""
    if template == ORDER_CANCELLED:
        out_of_stock = data.get("reason") == CancelReason.OUT_OF_STOCK.value
        return {**data, "short_items": list(short or []) if out_of_stock else []}
    if template == PAYMENT_REFUNDED:
        return_id = data.get("return_id")
        return {**data, "rma": rmas.get(str(return_id)) if return_id else None}
    return data


def personalised(
    data: dict[str, Any], order_id: Any, name: str, order: dict[str, Any]
) -> dict[str, Any]:
    """A notice's data: the event's, plus the customer's name and the order's receipt."""
    return {
        **data,
        "order_id": str(order_id),
        "order_number": order_number(order_id),
        "customer_name": name,
        "receipt": order,
        "product_names": {line["sku"]: line["name"] for line in order.get("lines", [])},
    }


def order_number(order_id: Any) -> str:
    """A short order reference for subject lines: the first 8 hex digits of the id."""
    return str(order_id).replace("-", "")[:8].upper()
