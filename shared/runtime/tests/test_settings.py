"""Service settings: each service's own env prefix, derived names, and a secret kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from orderflow_runtime.probe import ProbeSettings
from orderflow_runtime.settings import ServiceSettings
from pydantic import SecretStr

PASSWORD = "s3cr%t-pw"
URL = f"postgresql://cart:{PASSWORD}@db.internal:5432/cart"
API_KEY = "ak_live_0123456789abcdef"


def test_a_service_reads_variables_with_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_SERVICE_NAME", "probe-sink")
    monkeypatch.setenv("PROBE_KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9093,kafka-1:9093")
    monkeypatch.setenv("PROBE_INBOX_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("PROBE_DATA_DIR", "/var/lib/probe")
    monkeypatch.setenv("ORDERFLOW_HTTP_PORT", "9999")  # the base prefix: not this service's

    settings = ProbeSettings()

    assert settings.service_name == "probe-sink"
    assert settings.kafka_bootstrap_servers == "kafka-0:9093,kafka-1:9093"
    assert settings.inbox_max_attempts == 7
    assert settings.data_dir == Path("/var/lib/probe")
    assert settings.sqlite_path == Path("/var/lib/probe/probe-sink.sqlite")
    assert settings.http_port == 8000


def test_the_base_class_reads_the_orderflow_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_SERVICE_NAME", "cart")
    monkeypatch.setenv("PROBE_SERVICE_NAME", "not-me")

    assert ServiceSettings().service_name == "cart"  # type: ignore[call-arg]


def test_without_a_service_name_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="service_name"):
        ProbeSettings()  # type: ignore[call-arg]


def test_the_consumer_group_defaults_to_the_service_name() -> None:
    assert ProbeSettings(service_name="inventory").group_id == "inventory"
    assert ProbeSettings(service_name="inventory", consumer_group="t1.inv").group_id == "t1.inv"


def test_topics_are_named_behind_the_namespace() -> None:
    assert ProbeSettings(service_name="cart").topic("orders.events") == "orders.events"
    namespaced = ProbeSettings(service_name="cart", topic_namespace="shop-eu.")
    assert namespaced.topic("orders.events") == "shop-eu.orders.events"


def test_secrets_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_DATABASE_URL", URL)
    monkeypatch.setenv("PROBE_ADMIN_API_KEY", API_KEY)

    settings = ProbeSettings(service_name="cart")

    assert isinstance(settings.database_url, SecretStr)
    assert settings.database_url.get_secret_value() == URL
    assert isinstance(settings.admin_api_key, SecretStr)
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert PASSWORD not in shown
        assert "db.internal" not in shown
        assert API_KEY not in shown


def test_without_a_database_url_the_store_is_embedded() -> None:
    assert ProbeSettings(service_name="cart").database_url is None


def test_secrets_can_come_from_files_in_the_secrets_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given secrets mounted as files (as Docker and Kubernetes do), named like the variables
    (tmp_path / "PROBE_DATABASE_URL").write_text(URL + "\n")
    (tmp_path / "probe_admin_api_key").write_text(API_KEY)
    monkeypatch.setenv("PROBE_SERVICE_NAME", "probe-sink")

    # When the settings are read with that folder as the secrets folder
    settings = ProbeSettings(_secrets_dir=tmp_path)  # type: ignore[call-arg]

    # Then they hold the files' contents, still as secrets
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == URL
    assert settings.admin_api_key == SecretStr(API_KEY)
    assert PASSWORD not in repr(settings)
    assert API_KEY not in repr(settings)


def test_the_secrets_folder_is_configurable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orderflow_runtime.settings import secrets_dir

    monkeypatch.setenv("ORDERFLOW_SECRETS_DIR", str(tmp_path))
    assert secrets_dir() == str(tmp_path)
    monkeypatch.delenv("ORDERFLOW_SECRETS_DIR")
    assert secrets_dir() in (None, "/run/secrets")
