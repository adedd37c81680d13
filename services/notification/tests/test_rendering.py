"""Every template renders from the contract's sample events; HTML is escaped."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from orderflow_events import (
    Delivered,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    Shipped,
)
from orderflow_notification import content
from orderflow_notification.rendering import render

DESCRIBE = {
    Shipped: (content.SHIPPING_CONFIRMATION, content.shipped),
    Delivered: (content.DELIVERY_CONFIRMATION, content.delivered),
    OrderCancelled: (content.ORDER_CANCELLED, content.cancelled),
    PaymentDeclined: (content.PAYMENT_DECLINED, content.declined),
    PaymentRefunded: (content.PAYMENT_REFUNDED, content.refunded),
}


def context_for(make: Any, kind: Any, name: str = "Ada Lovelace") -> tuple[str, dict[str, Any]]:
    order_id = uuid4()
    placed = make(OrderPlaced, order_id)
    if kind is OrderPlaced:
        template, data = content.ORDER_CONFIRMATION, {}
    else:
        template, describe = DESCRIBE[kind]
        data = describe(make(kind, order_id))
    return template, content.personalised(data, order_id, name, content.receipt(placed))


@pytest.mark.parametrize("kind", [OrderPlaced, *DESCRIBE])
def test_every_template_renders_all_four_parts(make: Any, kind: Any) -> None:
    template, context = context_for(make, kind)

    rendered = render(template, context)

    assert rendered.subject
    assert "\n" not in rendered.subject
    assert context["order_number"] in rendered.subject
    assert rendered.text.startswith("Hello Ada Lovelace,")
    assert "<html" in rendered.html
    assert 0 < len(rendered.sms) <= 160


def test_the_receipt_is_itemised_and_shows_only_brand_and_last4(make: Any) -> None:
    rendered = render(*context_for(make, OrderPlaced))

    for part in (rendered.text, rendered.html):
        assert "TSHIRT-RED-M" in part
        assert "19.90 EUR" in part
        assert "39.80 EUR" in part
        assert "4.90 EUR" in part
        assert "8.49 EUR" in part
        assert "53.19 EUR" in part
        assert "4242" in part
        assert "tok_" not in part
        assert "SW1Y 4JH" in part


def test_shipping_notice_names_carrier_and_tracking(make: Any) -> None:
    rendered = render(*context_for(make, Shipped))
    assert "JD014600006281230704" in rendered.text
    assert "dhl" in rendered.text
    assert "2 x T-shirt" in rendered.text


def test_refund_subject_shows_the_amount(make: Any) -> None:
    assert "39.80 EUR" in render(*context_for(make, PaymentRefunded)).subject


def test_html_is_escaped_and_text_is_not(make: Any) -> None:
    rendered = render(*context_for(make, Delivered, name="<script>x</script>"))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>x</script>" in rendered.text
