"""The composition root and the settings: what the chassis gets, read from NOTIFICATION_*."""

from __future__ import annotations

from pathlib import Path

import pytest
from orderflow_events import (
    FULFILLMENT_EVENTS,
    INVENTORY_EVENTS,
    NOTIFICATION_EVENTS,
    ORDERS_EVENTS,
    PAYMENT_EVENTS,
    Delivered,
    OrderCancelled,
    OrderPlaced,
    PaymentDeclined,
    PaymentRefunded,
    ReturnAuthorized,
    ReturnRejected,
    Shipped,
    StockReservationFailed,
)
from orderflow_notification.channels import EmailTransport, SmsTransport
from orderflow_notification.main import build, transports
from orderflow_notification.settings import NotificationSettings
from pydantic import SecretStr


def test_build_wires_topics_handlers_relay_api_and_the_dispatcher(tmp_path: Path) -> None:
    spec = build(NotificationSettings(data_dir=tmp_path))
    try:
        assert spec.output_topic == NOTIFICATION_EVENTS
        assert spec.to_integration is not None
        topics = {ORDERS_EVENTS, PAYMENT_EVENTS, FULFILLMENT_EVENTS, INVENTORY_EVENTS}
        assert set(spec.input_topics) == topics
        kinds = (
            OrderPlaced,
            Shipped,
            Delivered,
            OrderCancelled,
            PaymentDeclined,
            PaymentRefunded,
            ReturnAuthorized,
            ReturnRejected,
            StockReservationFailed,
        )
        assert set(spec.handlers) == {kind.ce_type for kind in kinds}
        assert spec.api is not None
        assert spec.projections is not None
        assert len(spec.background) == 1
        assert spec.app.name == "Notification"
    finally:
        spec.app.close()


def test_settings_come_from_the_environment_and_hide_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOTIFICATION_SMTP_HOST", "mail.internal")
    monkeypatch.setenv("NOTIFICATION_SMTP_PORT", "2525")
    monkeypatch.setenv("NOTIFICATION_SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("NOTIFICATION_SMTP_STARTTLS", "true")

    settings = NotificationSettings()

    assert settings.service_name == "notification"
    assert settings.http_port == 8006
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "mail.internal",
        2525,
        True,
    )
    assert isinstance(settings.smtp_password, SecretStr)
    assert "hunter2-smtp" not in repr(settings)
    assert settings.message_id_domain == "orderflow.dev"
    # Off the path to Shipped: the inbox gathers events (the consumer is built from these)
    assert (settings.inbox_fetch_max_wait_ms, settings.inbox_fetch_min_bytes) == (500, 1 << 20)


def test_sms_is_a_channel_only_with_a_webhook(tmp_path: Path) -> None:
    without = transports(NotificationSettings(data_dir=tmp_path))
    with_sms = transports(
        NotificationSettings(data_dir=tmp_path, sms_webhook_url="https://sms.example/send")
    )

    assert set(without) == {"email"}
    assert isinstance(without["email"], EmailTransport)
    assert isinstance(with_sms["sms"], SmsTransport)
