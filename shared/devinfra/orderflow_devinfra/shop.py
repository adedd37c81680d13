"""How to start orderflow's services as processes: one place for their commands and settings.

The demo, the integration tests and the benchmarks start services through this
module, so that they run the same commands with the same environment.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orderflow_devinfra.processes import ServiceProcess

SERVICES: tuple[str, ...] = (
    "catalog",
    "cart",
    "payment",
    "inventory",
    "fulfillment",
    "notification",
)


def service_command(service: str) -> list[str]:
    """The `python -m` arguments that run `service`."""
    return [f"orderflow_{service}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceConfig:
    """The settings one service process gets (as `<SERVICE>_*` environment variables)."""

    service: str
    kafka_bootstrap: str
    http_port: int
    admin_api_key: str
    namespace: str = ""
    database_url: str | None = None
    data_dir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        prefix = self.service.upper() + "_"
        values = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.http_port),
            "ADMIN_API_KEY": self.admin_api_key,
            "TOPIC_NAMESPACE": self.namespace,
            **({"DATABASE_URL": self.database_url} if self.database_url else {}),
            **({"DATA_DIR": str(self.data_dir)} if self.data_dir else {}),
            **self.extra,
        }
        return {prefix + key: value for key, value in values.items()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def process(self, log_dir: Path, env: Mapping[str, str] | None = None) -> ServiceProcess:
        return ServiceProcess(
            self.service,
            service_command(self.service),
            {**self.env(), **(env or {})},
            log_dir / f"{self.service}.log",
        )
