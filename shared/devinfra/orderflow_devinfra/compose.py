"""Renders the deployment files from `orderflow_devinfra.shop`: one source for the services'
command and environment, whether the demo, the tests, Docker Compose or Kubernetes run them.

``python -m orderflow_devinfra.compose [--root DIR] [--check]`` writes

- ``docker-compose.yml``: Kafka (KRaft), PostgreSQL (one database per service), the topic
  job, Mailpit as the SMTP sink and the six services from the one image;
- ``deploy/base/services/<service>.yaml`` and ``deploy/base/topics-job.yaml``: the
  Kubernetes base (see :mod:`orderflow_devinfra.kube`).

``--check`` writes nothing and exits 1 when a committed file differs from its rendering.
Secrets are never rendered: Compose takes them from ``.env`` (``${VAR:?...}``, no default),
Kubernetes from Secrets that the manifests only reference.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from orderflow_events import ALL_TOPICS, dlq_topic

from orderflow_devinfra.kafka_local import DEFAULT_KAFKA_VERSION
from orderflow_devinfra.shop import SERVICES, ServiceConfig, service_command

COMPOSE_FILE: Final = "docker-compose.yml"

SERVICE_PORTS: Final[Mapping[str, int]] = {
    "catalog": 8001,
    "cart": 8002,
    "payment": 8003,
    "inventory": 8004,
    "fulfillment": 8005,
    "notification": 8006,
}
"""Each service's HTTP port: its settings' default, published as is by Compose."""

KAFKA_IMAGE: Final = f"apache/kafka:{DEFAULT_KAFKA_VERSION}"
"""The broker the tests run (tools/kafka), as Apache's official image."""
POSTGRES_IMAGE: Final = "postgres:15"
MAILPIT_IMAGE: Final = "axllent/mailpit:v1.27"
APP_IMAGE: Final = "orderflow"
"""Name of the one image of the six services (the Dockerfile at the root)."""

EVENT_TOPIC_PARTITIONS: Final = 8
"""Partitions of each `<service>.events` topic: the most replicas one consumer group can use."""
DLQ_TOPIC_PARTITIONS: Final = 1
"""Dead letters are rare and read by operators in order: one partition."""

CONTAINER_HTTP_HOST: Final = "0.0.0.0"
"""Inside a container a service listens on every interface of its own network namespace."""

# Compose: the broker, database and mail server by their service names.
COMPOSE_KAFKA: Final = "kafka:9092"
COMPOSE_POSTGRES: Final = "postgres:5432"
COMPOSE_SMTP: Final = ("mailpit", 1025)

ADMIN_KEY_VAR: Final = "ORDERFLOW_ADMIN_API_KEY"
DB_PASSWORD_VAR: Final = "ORDERFLOW_DB_PASSWORD"
POSTGRES_PASSWORD_VAR: Final = "ORDERFLOW_POSTGRES_PASSWORD"
IMAGE_VAR: Final = "ORDERFLOW_IMAGE"
SECRET_VARS: Final = (ADMIN_KEY_VAR, DB_PASSWORD_VAR, POSTGRES_PASSWORD_VAR)
"""Variables Compose needs from `.env` or the environment; none has a default."""

KAFKA_CLUSTER_ID: Final = (
    base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, "orderflow:compose").bytes)
    .rstrip(b"=")
    .decode()
)
"""The KRaft cluster id of the Compose broker (fixed, so that its volume can be reused)."""

TOPICS_SCRIPT: Final = "deploy/base/create-topics.sh"
POSTGRES_INIT_SCRIPT: Final = "deploy/compose/postgres-init.sh"


def required(var: str) -> str:
    """A Compose reference to a variable that must be set (no default is committed)."""
    return f"${{{var}:?set {var} in .env, see .env.example}}"


def topic_partitions() -> dict[str, int]:
    """Every topic of the contract and its dead-letter topic, with its partition count."""
    topics: dict[str, int] = {}
    for topic in ALL_TOPICS:
        topics[topic] = EVENT_TOPIC_PARTITIONS
        topics[dlq_topic(topic)] = DLQ_TOPIC_PARTITIONS
    return topics


def topics_arg() -> str:
    """`TOPICS` of create-topics.sh: "name:partitions" separated by spaces."""
    return " ".join(f"{name}:{count}" for name, count in topic_partitions().items())


def compose_service_config(service: str) -> ServiceConfig:
    """The ServiceConfig of `service` in Docker Compose (secrets as `${VAR:?}` references)."""
    extra: dict[str, str] = {}
    if service == "notification":
        extra = {"SMTP_HOST": COMPOSE_SMTP[0], "SMTP_PORT": str(COMPOSE_SMTP[1])}
    return ServiceConfig(
        service=service,
        kafka_bootstrap=COMPOSE_KAFKA,
        http_port=SERVICE_PORTS[service],
        admin_api_key=required(ADMIN_KEY_VAR),
        database_url=(
            f"postgresql://{service}:{required(DB_PASSWORD_VAR)}@{COMPOSE_POSTGRES}/{service}"
        ),
        http_host=CONTAINER_HTTP_HOST,
        extra=extra,
    )


def _healthcheck(
    test: list[str], *, interval: str, timeout: str, retries: int, start_period: str
) -> dict[str, object]:
    return {
        "test": test,
        "interval": interval,
        "timeout": timeout,
        "retries": retries,
        "start_period": start_period,
    }


def _kafka() -> dict[str, object]:
    return {
        "image": KAFKA_IMAGE,
        "hostname": "kafka",
        "environment": {
            "CLUSTER_ID": KAFKA_CLUSTER_ID,
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:9094",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092,HOST://localhost:9094",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT"
            ),
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
            "KAFKA_NUM_PARTITIONS": str(EVENT_TOPIC_PARTITIONS),
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        },
        "ports": ["127.0.0.1:9094:9094"],
        "volumes": ["kafka-data:/var/lib/kafka/data"],
        "healthcheck": _healthcheck(
            [
                "CMD",
                "/opt/kafka/bin/kafka-broker-api-versions.sh",
                "--bootstrap-server",
                "localhost:9092",
            ],
            interval="10s",
            timeout="20s",
            retries=12,
            start_period="30s",
        ),
        "restart": "unless-stopped",
    }


def _topics() -> dict[str, object]:
    return {
        "image": KAFKA_IMAGE,
        "command": ["/bin/bash", "/orderflow/create-topics.sh"],
        "environment": {
            "BOOTSTRAP_SERVERS": COMPOSE_KAFKA,
            "TOPICS": topics_arg(),
            "REPLICATION_FACTOR": "1",
        },
        "volumes": [f"./{TOPICS_SCRIPT}:/orderflow/create-topics.sh:ro"],
        "depends_on": {"kafka": {"condition": "service_healthy"}},
        "restart": "no",
    }


def _postgres() -> dict[str, object]:
    return {
        "image": POSTGRES_IMAGE,
        "environment": {
            "POSTGRES_PASSWORD": required(POSTGRES_PASSWORD_VAR),
            "ORDERFLOW_DATABASES": " ".join(SERVICES),
            "ORDERFLOW_DB_PASSWORD": required(DB_PASSWORD_VAR),
        },
        "volumes": [
            "postgres-data:/var/lib/postgresql/data",
            f"./{POSTGRES_INIT_SCRIPT}:/docker-entrypoint-initdb.d/10-orderflow.sh:ro",
        ],
        # Over TCP: during initdb the server listens on its socket only, so this
        # answers once the databases exist.
        "healthcheck": _healthcheck(
            ["CMD", "pg_isready", "--host=127.0.0.1", "--username=postgres"],
            interval="5s",
            timeout="5s",
            retries=24,
            start_period="10s",
        ),
        "restart": "unless-stopped",
    }


def _mailpit() -> dict[str, object]:
    return {
        "image": MAILPIT_IMAGE,
        "ports": ["127.0.0.1:8025:8025"],
        "healthcheck": _healthcheck(
            ["CMD", "/mailpit", "readyz"],
            interval="10s",
            timeout="5s",
            retries=6,
            start_period="5s",
        ),
        "restart": "unless-stopped",
    }


def compose_depends_on(service: str) -> dict[str, dict[str, str]]:
    depends: dict[str, dict[str, str]] = {
        "kafka": {"condition": "service_healthy"},
        "topics": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
    }
    if service == "notification":
        depends["mailpit"] = {"condition": "service_healthy"}
    return depends


def _app_service(service: str) -> dict[str, object]:
    config = compose_service_config(service)
    port = SERVICE_PORTS[service]
    return {
        "image": f"${{{IMAGE_VAR}:-{APP_IMAGE}:dev}}",
        "build": {"context": ".", "dockerfile": "Dockerfile"},
        "command": service_command(service),
        "environment": config.env(),
        "ports": [f"127.0.0.1:{port}:{port}"],
        "depends_on": compose_depends_on(service),
        "healthcheck": _healthcheck(
            ["CMD", "orderflow-healthcheck", "--port", str(port), "/health/ready"],
            interval="10s",
            timeout="5s",
            retries=3,
            start_period="60s",
        ),
        "restart": "unless-stopped",
        "stop_grace_period": "30s",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
    }


def compose_document() -> dict[str, object]:
    services: dict[str, object] = {
        "kafka": _kafka(),
        "topics": _topics(),
        "postgres": _postgres(),
        "mailpit": _mailpit(),
    }
    for service in SERVICES:
        services[service] = _app_service(service)
    return {
        "name": "orderflow",
        "services": services,
        "volumes": {"kafka-data": {}, "postgres-data": {}},
    }


COMPOSE_HEADER: Final = """\
# Generated by `python -m orderflow_devinfra.compose` from orderflow_devinfra.shop: do not
# edit by hand. Secrets come from .env (copy .env.example); see docs/deploy.md.
"""


def render_compose() -> str:
    return COMPOSE_HEADER + to_yaml(compose_document())


# --- a small YAML writer (block style, every string quoted: no YAML 1.1 surprises) -------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED_KEYS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, not {key!r}")
    if _PLAIN_KEY.match(key) and key.lower() not in _RESERVED_KEYS:
        return key
    return json.dumps(key)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _lines(value: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple) and item:
                out.append(f"{pad}{_key(key)}:")
                out.extend(_lines(item, indent + 2))
            else:
                out.append(f"{pad}{_key(key)}: {_inline(item)}")
        return out
    if isinstance(value, list | tuple):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            if isinstance(item, Mapping | list | tuple) and item:
                nested = _lines(item, indent + 2)
                out.append(f"{pad}- {nested[0].lstrip()}")
                out.extend(nested[1:])
            else:
                out.append(f"{pad}- {_inline(item)}")
        return out
    return [pad + _scalar(value)]


def _inline(value: object) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _scalar(value)


def to_yaml(value: object) -> str:
    """`value` (dicts, lists, strings, ints, bools, None) as a block-style YAML document."""
    return "\n".join(_lines(value, 0)) + "\n"


def to_yaml_documents(values: Sequence[object]) -> str:
    return "---\n".join(to_yaml(value) for value in values)


# --- command line -------------------------------------------------------------------------


def rendered_files() -> dict[str, str]:
    """Every generated file (path relative to the repository root) and its content."""
    from orderflow_devinfra.kube import render_base

    return {COMPOSE_FILE: render_compose(), **render_base()}


def stale_files(root: Path) -> list[str]:
    """The generated files under `root` that are missing or differ from their rendering."""
    stale = []
    for relative, content in rendered_files().items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(relative)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow_devinfra.compose")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / "uv.lock").is_file():
        parser.error(f"{root} is not the repository root (no uv.lock)")
    if args.check:
        stale = stale_files(root)
        for relative in stale:
            print(f"stale: {relative} (run python -m orderflow_devinfra.compose)", file=sys.stderr)
        return 1 if stale else 0
    for relative, content in rendered_files().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
