"""Helpers of the deployment tests: fast, no Docker, no Kafka.

kustomize is built once through the Go module proxy (scripts/install-kustomize.sh) into
~/.cache/orderflow/bin; ``KUSTOMIZE=/path/to/kustomize`` uses another binary instead.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from orderflow_runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_VERSION = "v5.8.1"
KUBERNETES_VERSION = "1.30.0"
"""The Kubernetes API the manifests are validated against (kubernetes-validate's schemas)."""
OVERLAYS = {"base": "deploy/base", "dev": "deploy/overlays/dev", "prod": "deploy/overlays/prod"}


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's own settings class (`<Name>Settings` in orderflow_<service>.settings)."""
    module = importlib.import_module(f"orderflow_{service}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings)
        and cls is not ServiceSettings
        and cls.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__}: one ServiceSettings subclass, found {found}"
    return found[0]


def setting_field(service: str, variable: str) -> str | None:
    """The settings field that `variable` (`CART_HTTP_PORT`) sets, or None."""
    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", ""))
    if not variable.startswith(prefix):
        return None
    name = variable.removeprefix(prefix).lower()
    return name if name in cls.model_fields else None


@pytest.fixture(scope="session")
def kustomize() -> str:
    configured = os.environ.get("KUSTOMIZE")
    if configured:
        return configured
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/install-kustomize.sh"), "", KUSTOMIZE_VERSION],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kustomize could not be installed:\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1]


_BUILDS: dict[str, list[dict[str, Any]]] = {}


def kustomize_build(kustomize: str, target: str) -> list[dict[str, Any]]:
    """The objects `kustomize build <target>` renders (cached per session)."""
    if target not in _BUILDS:
        result = subprocess.run(
            [kustomize, "build", str(ROOT / target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"kustomize build {target} failed:\n{result.stderr}"
        _BUILDS[target] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return _BUILDS[target]
