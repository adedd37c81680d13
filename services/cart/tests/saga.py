"""Other services' events about one order, and what cart published: for the failure tests."""

from __future__ import annotations

from uuid import UUID, uuid4

from orderflow_cart.application import CartApplication, CheckoutDetails
from orderflow_cart.mapping import to_integration
from orderflow_events import (
    Address,
    Delivered,
    IntegrationEvent,
    ItemCondition,
    Money,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentMethod,
    PaymentRefunded,
    ReceivedLine,
    ReturnAuthorized,
    ReturnLabel,
    ReturnReceived,
    ReturnRejected,
    ShipmentStopped,
    Shipped,
    ShippingMethod,
    StockLine,
    StockReservationFailed,
    StockReserved,
    UnavailableLine,
)

from .conftest import T0

DETAILS = CheckoutDetails(
    email="ada@example.com",
    address=Address(name="Ada", line1="1 Rue", city="Paris", postal_code="75001", country="FR"),
    method=ShippingMethod.STANDARD,
    payment=PaymentMethod(token="tok_1", brand="visa", last4="4242"),
)


def eur(amount: str) -> Money:
    return Money(amount=amount, currency="EUR")


def place(app: CartApplication, **items: int) -> UUID:
    """Check out a cart of `items` (sku=quantity, skus already listed)."""
    cart_id = app.create_cart()
    for sku, quantity in items.items():
        app.add_item(cart_id, sku.replace("_", "-"), quantity, {})
    return app.checkout(cart_id, DETAILS).order_id


def authorized(order_id: UUID) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=uuid4(),
        amount=eur("10.00"),
        auth_code="A1",
        brand="visa",
        last4="4242",
        authorized_at=T0,
    )


def declined(order_id: UUID) -> PaymentDeclined:
    return PaymentDeclined(
        order_id=order_id, payment_id=uuid4(), reason="insufficient_funds", declined_at=T0
    )


def reserved(order_id: UUID, **lines: int) -> StockReserved:
    return StockReserved(
        order_id=order_id, reservation_id=uuid4(), lines=stock(**lines), reserved_at=T0
    )


def short(order_id: UUID, sku: str, requested: int, available: int) -> StockReservationFailed:
    line = UnavailableLine(sku=sku, requested=requested, available=available)
    return StockReservationFailed(order_id=order_id, unavailable=[line], failed_at=T0)


def shipped(order_id: UUID, **lines: int) -> Shipped:
    return Shipped(
        order_id=order_id,
        shipment_id=uuid4(),
        carrier="dhl",
        service_level="ground",
        tracking_number="JD0001",
        lines=stock(**lines),
        shipped_at=T0,
    )


def delivered(order_id: UUID) -> Delivered:
    return Delivered(order_id=order_id, shipment_id=uuid4(), delivered_at=T0)


def stopped(order_id: UUID, reason: str = "customer") -> ShipmentStopped:
    return ShipmentStopped(order_id=order_id, reason=reason, stopped_at=T0)


def return_authorized(order_id: UUID, return_id: UUID, rma: str, **lines: int) -> ReturnAuthorized:
    label = ReturnLabel(carrier="dhl", tracking_number="RT1", url="https://labels.example/1")
    return ReturnAuthorized(
        order_id=order_id,
        return_id=return_id,
        rma=rma,
        label=label,
        lines=stock(**lines),
        authorized_at=T0,
    )


def return_rejected(order_id: UUID, return_id: UUID) -> ReturnRejected:
    return ReturnRejected(
        order_id=order_id, return_id=return_id, reason="outside the window", rejected_at=T0
    )


def return_received(order_id: UUID, return_id: UUID, rma: str, **lines: int) -> ReturnReceived:
    received = [
        ReceivedLine(sku=sku.replace("_", "-"), quantity=n, condition=ItemCondition.RESELLABLE)
        for sku, n in lines.items()
    ]
    return ReturnReceived(
        order_id=order_id, return_id=return_id, rma=rma, lines=received, received_at=T0
    )


def refunded(order_id: UUID, amount: str, return_id: UUID | None) -> PaymentRefunded:
    return PaymentRefunded(
        order_id=order_id,
        payment_id=uuid4(),
        refund_id=uuid4(),
        amount=eur(amount),
        return_id=return_id,
        refunded_at=T0,
    )


def stock(**lines: int) -> list[StockLine]:
    return [StockLine(sku=sku.replace("_", "-"), quantity=n) for sku, n in lines.items()]


def published(app: CartApplication, kind: type[IntegrationEvent]) -> list[IntegrationEvent]:
    """The integration events of `kind` the relay would publish from cart's store."""
    notifications = app.process_recorder.select_notifications(start=1, limit=10_000)
    events = (to_integration(app.mapper.to_domain_event(n)) for n in notifications)
    return [event for event in events if isinstance(event, kind)]
