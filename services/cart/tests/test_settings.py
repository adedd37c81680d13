"""Settings from the environment: JSON maps for tax and shipping, checked at start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from orderflow_cart.settings import CartSettings
from pydantic import ValidationError


def test_defaults_and_json_maps_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CartSettings().http_port == 8002
    assert CartSettings().service_name == "cart"
    monkeypatch.setenv("CART_TAX_RATES", '{"DE": "0.07", "US-TX": "0.0625"}')
    monkeypatch.setenv(
        "CART_SHIPPING_RATES",
        '{"standard": {"base": "3.00", "per_kg": "0.50"}, "express": {"base": "8", "per_kg": "1"}}',
    )
    monkeypatch.setenv("CART_CURRENCY", "USD")

    rules = CartSettings().pricing_rules()

    assert rules.currency == "USD"
    assert rules.tax_rate("US", "TX") == Decimal("0.0625")
    assert rules.tax_rate("FR", None) == Decimal(0)  # the table replaces the default one
    assert rules.shipping["standard"].base == Decimal("3.00")
    assert rules.shipping["standard"].free_from is None


@pytest.mark.parametrize(
    "env",
    [
        {"CART_CURRENCY": "XXX"},
        {"CART_TAX_RATES": '{"DE": "1.5"}'},
        {"CART_TAX_RATES": '{"germany": "0.19"}'},
        {"CART_SHIPPING_RATES": '{"standard": {"base": "3", "per_kg": "1"}}'},
        {"CART_SHIPPING_RATES": '{"standard": {"base": "-1", "per_kg": "1"}, "express": {}}'},
    ],
)
def test_bad_settings_stop_the_service_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        CartSettings()


def test_the_inbox_gathers_events_off_the_path_to_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cart follows the saga (order status, compensation) but no step to Shipped waits for it
    settings = CartSettings()
    assert (settings.inbox_fetch_max_wait_ms, settings.inbox_fetch_min_bytes) == (500, 1 << 20)

    monkeypatch.setenv("CART_INBOX_FETCH_MAX_WAIT_MS", "100")
    monkeypatch.setenv("CART_INBOX_FETCH_MIN_BYTES", "1")
    settings = CartSettings()
    assert (settings.inbox_fetch_max_wait_ms, settings.inbox_fetch_min_bytes) == (100, 1)
