"""Every template renders from the contract's sample events; HTML is escaped."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from orderflow_events import (
    CancelReason,
    Delivered,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnLabel,
    ReturnRejected,
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
    ReturnAuthorized: (content.RETURN_AUTHORIZED, content.return_authorized),
    ReturnRejected: (content.RETURN_REJECTED, content.return_rejected),
}
SHORT = [
    {"sku": "TSHIRT-RED-M", "requested": 2, "available": 0},
    {"sku": "GONE-1", "requested": 1, "available": 1},
]


def context_for(
    make: Any,
    kind: Any,
    name: str = "Ada Lovelace",
    short: list[dict[str, Any]] | None = None,
    rmas: dict[str, str] | None = None,
    **changes: Any,
) -> tuple[str, dict[str, Any]]:
    order_id = uuid4()
    placed = make(OrderPlaced, order_id)
    if kind is OrderPlaced:
        template, data = content.ORDER_CONFIRMATION, {}
    else:
        template, describe = DESCRIBE[kind]
        data = describe(make(kind, order_id, **changes))
    context = content.personalised(data, order_id, name, content.receipt(placed))
    return template, content.completed(template, context, short, rmas or {})


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


def test_an_out_of_stock_cancel_names_each_short_item(make: Any) -> None:
    reason = CancelReason.OUT_OF_STOCK
    rendered = render(*context_for(make, OrderCancelled, short=SHORT, reason=reason))

    for part in (rendered.text, rendered.html):
        assert "because some of the items are no longer in stock" in part
        assert "T-shirt (TSHIRT-RED-M): you ordered 2, we had none" in part
        assert "GONE-1: you ordered 1, we had 1" in part


def test_a_customer_cancel_says_as_you_asked_and_names_nothing(make: Any) -> None:
    reason = CancelReason.CUSTOMER
    rendered = render(*context_for(make, OrderCancelled, short=SHORT, reason=reason))

    assert "we have cancelled your order" in rendered.text
    assert "as you asked." in rendered.text
    assert "TSHIRT-RED-M" not in rendered.text  # a shortage matters only to out_of_stock
    assert "sorry" not in rendered.text


def test_a_notice_stored_before_short_items_existed_still_renders(make: Any) -> None:
    template, context = context_for(make, OrderCancelled)
    del context["short_items"]

    assert "as you asked" in render(template, context).text


def test_the_return_notice_has_the_rma_the_label_and_the_items(make: Any) -> None:
    rendered = render(*context_for(make, ReturnAuthorized))

    assert "RMA-2025-0001" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "RMA-2025-0001" in part
        assert "https://labels.example.com/RMA-2025-0001.pdf" in part
        assert "JD014600006281239999" in part
        assert "2 x T-shirt" in part
    assert '<a href="https://labels.example.com/RMA-2025-0001.pdf">' in rendered.html


def test_a_label_url_that_is_no_web_address_is_never_a_link(make: Any) -> None:
    label = ReturnLabel(carrier="dhl", tracking_number="T", url='javascript:alert("x")')
    rendered = render(*context_for(make, ReturnAuthorized, label=label))

    assert "<a href" not in rendered.html
    assert "javascript:alert(&#34;x&#34;)" in rendered.html


def test_a_rejected_return_gives_the_reason(make: Any) -> None:
    rendered = render(*context_for(make, ReturnRejected, reason="Outside the <b>window</b>"))

    assert "Outside the <b>window</b>" in rendered.text
    assert "Outside the &lt;b&gt;window&lt;/b&gt;" in rendered.html


def test_a_refund_for_a_return_mentions_the_return(make: Any) -> None:
    template, context = context_for(make, PaymentRefunded, rmas={})
    with_rma = content.completed(template, context, None, {str(context["return_id"]): "RMA-5"})
    cancel_refund = render(*context_for(make, PaymentRefunded, return_id=None)).text

    assert "for the items you returned." in render(template, context).text
    assert "for the items you returned (return RMA-5)" in render(template, with_rma).text
    assert "returned" not in cancel_refund
    assert "39.80 EUR" in cancel_refund
