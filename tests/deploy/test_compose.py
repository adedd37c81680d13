"""docker-compose.yml: rendered from orderflow_devinfra.shop, valid per the Compose
Specification, wired with healthchecks and ordered start-up, secrets from .env only."""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from orderflow_devinfra import compose
from orderflow_devinfra.shop import SERVICES
from orderflow_events import ALL_TOPICS, dlq_topic

from .conftest import ROOT, setting_field, settings_class

INFRA = ("kafka", "topics", "postgres", "mailpit")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / compose.COMPOSE_FILE).read_text())
    return loaded


def compose_spec_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema as check-jsonschema ships it (vendored from
    compose-spec/compose-spec, Apache-2.0; see its licenses/LICENSE.compose-spec)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def test_committed_files_are_the_rendered_ones() -> None:
    assert (ROOT / compose.COMPOSE_FILE).read_text() == compose.render_compose(), (
        "docker-compose.yml is stale: run `python -m orderflow_devinfra.compose`"
    )
    assert compose.stale_files(ROOT) == []
    assert compose.main(["--root", str(ROOT), "--check"]) == 0


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("")
    assert compose.main(["--root", str(tmp_path)]) == 0
    assert compose.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / compose.COMPOSE_FILE).write_text("services: {}\n")
    assert compose.main(["--root", str(tmp_path), "--check"]) == 1


def test_validates_against_the_compose_specification(document: dict[str, Any]) -> None:
    schema = compose_spec_schema()
    assert schema.get("title") == "Compose Specification"
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    # The schema does catch mistakes (a misspelt key, an unknown condition).
    broken = json.loads(json.dumps(document))
    broken["services"]["cart"]["healthchek"] = broken["services"]["cart"].pop("healthcheck")
    broken["services"]["cart"]["depends_on"]["kafka"]["condition"] = "service_happy"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_services_run_the_shop_commands_with_the_shop_environment(
    document: dict[str, Any],
) -> None:
    services = document["services"]
    assert list(services) == [*INFRA, *SERVICES]
    for service in SERVICES:
        spec = services[service]
        config = compose.compose_service_config(service)
        assert spec["environment"] == config.env(), service
        assert spec["command"] == [f"orderflow_{service}"]
        assert spec["image"] == "${ORDERFLOW_IMAGE:-orderflow:dev}"
        for variable in spec["environment"]:
            assert setting_field(service, variable), f"{variable} is no setting of {service}"


def test_ports_are_the_settings_defaults(document: dict[str, Any]) -> None:
    for service in SERVICES:
        port = settings_class(service).model_fields["http_port"].default
        assert compose.SERVICE_PORTS[service] == port
        spec = document["services"][service]
        assert spec["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert spec["environment"][f"{service.upper()}_HTTP_PORT"] == str(port)
        assert spec["environment"][f"{service.upper()}_HTTP_HOST"] == "0.0.0.0"
    published = sorted(
        int(p.split(":")[-1]) for s in SERVICES for p in document["services"][s]["ports"]
    )
    assert published == list(range(8001, 8007))


def test_every_long_running_container_has_a_healthcheck(document: dict[str, Any]) -> None:
    for name, spec in document["services"].items():
        if name == "topics":
            assert spec["restart"] == "no"
            continue
        check = spec["healthcheck"]
        assert check["test"][0] == "CMD", name
        assert check["retries"] >= 3, name
        assert check["interval"], name
        assert check["timeout"], name
    for service in SERVICES:
        test = document["services"][service]["healthcheck"]["test"]
        assert test == [
            "CMD",
            "orderflow-healthcheck",
            "--port",
            str(compose.SERVICE_PORTS[service]),
            "/health/ready",
        ]


def test_start_up_order(document: dict[str, Any]) -> None:
    services = document["services"]
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for service in SERVICES:
        depends = services[service]["depends_on"]
        expected = {
            "kafka": {"condition": "service_healthy"},
            "topics": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
        }
        if service == "notification":
            expected["mailpit"] = {"condition": "service_healthy"}
        assert depends == expected, service
    for name, spec in services.items():
        for target, condition in spec.get("depends_on", {}).items():
            assert target in services, (name, target)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], (name, target)


def test_infrastructure_hosts(document: dict[str, Any]) -> None:
    services = document["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.1.2"
    assert services["topics"]["image"] == services["kafka"]["image"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["mailpit"]["image"].startswith("axllent/mailpit:v")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka_env["CLUSTER_ID"])
    for service in SERVICES:
        env = services[service]["environment"]
        prefix = service.upper() + "_"
        assert env[prefix + "KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        url = env[prefix + "DATABASE_URL"]
        assert url.startswith(f"postgresql://{service}:${{ORDERFLOW_DB_PASSWORD:?")
        assert url.endswith(f"}}@postgres:5432/{service}"), "one database per service"
    notification = services["notification"]["environment"]
    assert notification["NOTIFICATION_SMTP_HOST"] == "mailpit"
    assert notification["NOTIFICATION_SMTP_PORT"] == "1025"
    databases = services["postgres"]["environment"]["ORDERFLOW_DATABASES"].split()
    assert databases == list(SERVICES)


def test_the_topics_job_creates_every_topic_and_its_dead_letters(
    document: dict[str, Any],
) -> None:
    env = document["services"]["topics"]["environment"]
    entries = dict(item.split(":") for item in env["TOPICS"].split())
    expected = {t: "8" for t in ALL_TOPICS} | {dlq_topic(t): "1" for t in ALL_TOPICS}
    assert entries == expected
    assert env["BOOTSTRAP_SERVERS"] == "kafka:9092"
    mount = document["services"]["topics"]["volumes"][0]
    assert mount.split(":")[0] == "./deploy/base/create-topics.sh"


_SECRET_REFERENCE = re.compile(r"\$\{(ORDERFLOW_[A-Z_]+)(:\?|:-|-|\?)?[^}]*\}")


def test_secrets_come_from_the_environment_without_defaults(document: dict[str, Any]) -> None:
    text = (ROOT / compose.COMPOSE_FILE).read_text()
    references = _SECRET_REFERENCE.findall(text)
    assert {name for name, _ in references} == {*compose.SECRET_VARS, compose.IMAGE_VAR}
    for name, operator in references:
        if name in compose.SECRET_VARS:
            assert operator == ":?", f"{name} must be required, with no default"
    for service in SERVICES:
        env = document["services"][service]["environment"]
        assert env[f"{service.upper()}_ADMIN_API_KEY"].startswith("${ORDERFLOW_ADMIN_API_KEY:?")
    assert document["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${ORDERFLOW_POSTGRES_PASSWORD:?"
    )
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example == dict.fromkeys(compose.SECRET_VARS, ""), ".env.example holds no values"
    tracked = subprocess.run(
        ["git", "ls-files", ".env"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout == "", ".env must never be committed"


def _fake_tool(folder: Path, name: str, log: Path) -> None:
    """An executable that records its arguments (and standard input) in `log`."""
    tool = folder / name
    tool.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nif [ ! -t 0 ]; then cat >> "{log}"; fi\n'
    )
    tool.chmod(0o755)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is part of the toolchain")
def test_create_topics_script(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    _fake_tool(tmp_path, "kafka-topics.sh", log)
    env = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(tmp_path),
        "BOOTSTRAP_SERVERS": "kafka:9092",
        "TOPICS": compose.topics_arg(),
        "TOPIC_NAMESPACE": "t1.",
        "REPLICATION_FACTOR": "3",
    }
    script = ROOT / compose.TOPICS_SCRIPT
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    calls = [line for line in log.read_text().splitlines() if line]
    assert calls[0] == "--bootstrap-server kafka:9092 --list"
    created = calls[1:]
    assert len(created) == 2 * len(ALL_TOPICS)
    assert (
        "--bootstrap-server kafka:9092 --create --if-not-exists --topic t1.orders.events"
        " --partitions 8 --replication-factor 3"
    ) in created
    assert (
        "--bootstrap-server kafka:9092 --create --if-not-exists --topic t1.orders.events.dlq"
        " --partitions 1 --replication-factor 3"
    ) in created
    bad = subprocess.run(
        ["bash", str(script)],
        env={**env, "TOPICS": "orders.events"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "bad entry" in bad.stderr


def test_postgres_init_script_makes_one_database_per_service(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    _fake_tool(tmp_path, "psql", log)
    result = subprocess.run(
        ["bash", str(ROOT / compose.POSTGRES_INIT_SCRIPT)],
        env={
            "PATH": f"{tmp_path}:{os.environ['PATH']}",
            "POSTGRES_USER": "postgres",
            "ORDERFLOW_DATABASES": " ".join(SERVICES),
            "ORDERFLOW_DB_PASSWORD": "pw'; DROP",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = log.read_text()
    for service in SERVICES:
        assert f"--set=name={service} --set=password=pw'; DROP" in text
    assert text.count('CREATE DATABASE :"name" OWNER :"name";') == len(SERVICES)
    sql = [line for line in text.splitlines() if line.startswith(("CREATE", "REVOKE"))]
    assert len(sql) == 3 * len(SERVICES)
    assert not [line for line in sql if "pw" in line], "the password is a psql variable"


@pytest.mark.parametrize(
    "value",
    [
        {"a": ["yes", "no", "on", "off", "null", "~", "0", "1.5", "", " x ", "a: b", "#c"]},
        {"y": {"n": "${X:?y}"}, "on": [1, True, False, None, {}, []]},
        [{"k": [{"x": 'é\n"q"', "t": "\t"}], "z": {"nested": {"deep": ["v"]}}}],
    ],
)
def test_yaml_writer_round_trips(value: Any) -> None:
    assert yaml.safe_load(compose.to_yaml(value)) == value
