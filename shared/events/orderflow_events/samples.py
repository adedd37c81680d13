"""One valid, deterministic instance of every event type: for tests, docs and demos."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from orderflow_events import catalog, fulfillment, inventory, notification, orders, payment
from orderflow_events.base import IntegrationEvent
from orderflow_events.card import PaymentMethod
from orderflow_events.common import StockLine
from orderflow_events.money import Money

ORDER_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0001")
PAYMENT_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0002")
RESERVATION_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0003")
SHIPMENT_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0004")
RETURN_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0005")
REFUND_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0006")
OTHER_ID = UUID("0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0007")
SKU = "TSHIRT-RED-M"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _eur(amount: str) -> Money:
    return Money(amount=amount, currency="EUR")


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample_order_placed() -> orders.OrderPlaced:
    """Two shirts at 19.90 EUR, express, paid by a tokenised visa."""
    return orders.OrderPlaced(
        order_id=ORDER_ID,
        customer_email="ada@example.com",
        lines=[
            orders.OrderLine(
                sku=SKU,
                name="T-shirt",
                quantity=2,
                unit_price=_eur("19.90"),
                attributes={"colour": "red", "size": "M"},
            )
        ],
        subtotal=_eur("39.80"),
        shipping_fee=_eur("4.90"),
        tax=_eur("8.49"),
        total=_eur("53.19"),
        shipping_address=orders.Address(
            name="Ada Lovelace",
            line1="12 St James's Square",
            city="London",
            postal_code="SW1Y 4JH",
            country="GB",
        ),
        shipping_method=orders.ShippingMethod.EXPRESS,
        payment=PaymentMethod(token="tok_9f8e7d6c5b4a", brand="visa", last4="4242"),
        placed_at=T0,
        expires_at=_at(7 * 24 * 60),
    )


def sample_events() -> list[IntegrationEvent]:
    """One instance per registered event type, in saga order where there is one."""
    lines = [StockLine(sku=SKU, quantity=2)]
    total = _eur("53.19")
    return [
        catalog.ProductListed(
            sku=SKU,
            name="T-shirt",
            category="apparel",
            image_urls=["https://img.example.com/tshirt-red.jpg"],
            weight_grams=180,
            price=_eur("19.90"),
            attributes={"colour": "red", "size": "M"},
            reorder_point=5,
            listed_at=_at(-600),
        ),
        catalog.ProductUpdated(
            sku=SKU,
            name="T-shirt, organic",
            category="apparel",
            weight_grams=180,
            updated_at=_at(-500),
        ),
        catalog.PriceChanged(
            sku=SKU, price=_eur("19.90"), previous_price=_eur("24.90"), changed_at=_at(-400)
        ),
        catalog.ProductDelisted(sku="MUG-OLD", delisted_at=_at(-300)),
        sample_order_placed(),
        payment.PaymentAuthorized(
            order_id=ORDER_ID,
            payment_id=PAYMENT_ID,
            amount=total,
            auth_code="A1B2C3",
            brand="visa",
            last4="4242",
            authorized_at=_at(1),
        ),
        inventory.StockReserved(
            order_id=ORDER_ID, reservation_id=RESERVATION_ID, lines=lines, reserved_at=_at(2)
        ),
        fulfillment.Shipped(
            order_id=ORDER_ID,
            shipment_id=SHIPMENT_ID,
            carrier="dhl",
            service_level="express",
            tracking_number="JD014600006281230704",
            lines=lines,
            shipping_cost=_eur("6.20"),
            shipped_at=_at(60),
        ),
        payment.PaymentCaptured(
            order_id=ORDER_ID,
            payment_id=PAYMENT_ID,
            amount=total,
            shipment_id=SHIPMENT_ID,
            captured_at=_at(61),
        ),
        inventory.StockCommitted(
            order_id=ORDER_ID,
            reservation_id=RESERVATION_ID,
            lines=lines,
            shipment_id=SHIPMENT_ID,
            committed_at=_at(61),
        ),
        fulfillment.Delivered(order_id=ORDER_ID, shipment_id=SHIPMENT_ID, delivered_at=_at(1440)),
        orders.CancellationRequested(
            order_id=UUID("0f7c2d7e-54c4-4c1c-8f51-4c1d7d3c9a11"),
            reason=orders.CancelReason.CUSTOMER,
            requested_at=_at(5),
        ),
        fulfillment.ShipmentStopped(
            order_id=UUID("0f7c2d7e-54c4-4c1c-8f51-4c1d7d3c9a11"),
            reason="customer",
            stopped_at=_at(6),
        ),
        orders.ReturnRequested(
            order_id=ORDER_ID,
            return_id=RETURN_ID,
            lines=lines[:1],
            reason="Too small",
            requested_at=_at(2880),
        ),
        fulfillment.ReturnAuthorized(
            order_id=ORDER_ID,
            return_id=RETURN_ID,
            rma="RMA-2025-0001",
            lines=lines,
            label=fulfillment.ReturnLabel(
                carrier="dhl",
                tracking_number="JD014600006281239999",
                url="https://labels.example.com/RMA-2025-0001.pdf",
            ),
            authorized_at=_at(2890),
        ),
        fulfillment.ReturnReceived(
            order_id=ORDER_ID,
            return_id=RETURN_ID,
            rma="RMA-2025-0001",
            received_at=_at(5760),
            lines=[
                fulfillment.ReceivedLine(
                    sku=SKU, quantity=2, condition=fulfillment.ItemCondition.RESELLABLE
                )
            ],
        ),
        inventory.StockRestocked(
            origin=inventory.RestockOrigin.RETURN,
            order_id=ORDER_ID,
            return_id=RETURN_ID,
            reservation_id=RESERVATION_ID,
            lines=lines,
            restocked_at=_at(5761),
        ),
        payment.PaymentRefunded(
            order_id=ORDER_ID,
            payment_id=PAYMENT_ID,
            refund_id=REFUND_ID,
            amount=_eur("39.80"),
            return_id=RETURN_ID,
            refunded_at=_at(5762),
        ),
        fulfillment.ReturnRejected(
            order_id=ORDER_ID,
            return_id=OTHER_ID,
            reason="Outside the return window",
            rejected_at=_at(9000),
        ),
        orders.OrderCancelled(
            order_id=ORDER_ID, reason=orders.CancelReason.CUSTOMER, cancelled_at=_at(3)
        ),
        payment.PaymentDeclined(
            order_id=ORDER_ID,
            payment_id=PAYMENT_ID,
            reason="insufficient_funds",
            attempts=1,
            declined_at=_at(1),
        ),
        payment.PaymentVoided(
            order_id=ORDER_ID, payment_id=PAYMENT_ID, amount=total, voided_at=_at(4)
        ),
        inventory.StockReservationFailed(
            order_id=ORDER_ID,
            failed_at=_at(2),
            unavailable=[inventory.UnavailableLine(sku=SKU, requested=2, available=1)],
        ),
        inventory.StockReleased(
            order_id=ORDER_ID, reservation_id=RESERVATION_ID, lines=lines, released_at=_at(4)
        ),
        inventory.StockLevelLow(
            sku=SKU, on_hand=4, available=3, reorder_point=5, detected_at=_at(2)
        ),
        inventory.ReorderRequested(
            sku=SKU,
            reorder_id=OTHER_ID,
            quantity=50,
            available=3,
            reorder_point=5,
            requested_at=_at(3),
        ),
        notification.NotificationSent(
            order_id=ORDER_ID,
            channel=notification.Channel.EMAIL,
            caused_by=OTHER_ID,
            notification_id=OTHER_ID,
            template="order_confirmation",
            sent_at=_at(1),
        ),
        notification.NotificationFailed(
            order_id=ORDER_ID,
            channel=notification.Channel.EMAIL,
            caused_by=OTHER_ID,
            notification_id=REFUND_ID,
            template="shipping_confirmation",
            error="Mailbox unavailable",
            attempts=5,
            failed_at=_at(70),
        ),
    ]
