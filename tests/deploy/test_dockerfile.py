"""The Dockerfile, checked by parsing it (no Docker engine here), and the two scripts it
installs: the entrypoint and the healthcheck."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser
from orderflow_devinfra.compose import SERVICE_PORTS
from orderflow_devinfra.shop import SERVICES

from .conftest import ROOT

ENTRYPOINT = ROOT / "deploy/docker/orderflow-service"
HEALTHCHECK = ROOT / "deploy/docker/orderflow-healthcheck"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL|CREDENTIAL", re.I)


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(ROOT / "Dockerfile"), cache_content=True)


def stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """Instructions per stage (the global ARGs before the first FROM are left out)."""
    result: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result and instruction["instruction"] != "COMMENT":
            result[-1].append(instruction)
    return result


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_multi_stage_on_python_311_slim(dockerfile: DockerfileParser) -> None:
    assert dockerfile.is_multistage
    assert dockerfile.parent_images == ["python:3.11-slim", "python:3.11-slim"]
    build, runtime = stages(dockerfile)
    assert values(build, "FROM") == ["${PYTHON_IMAGE} AS build"]
    assert values(runtime, "FROM") == ["${PYTHON_IMAGE} AS runtime"]
    assert values(runtime, "COPY")[0] == "--from=build /opt/venv /opt/venv"
    assert not [v for v in values(runtime, "RUN") if re.search(r"\b(pip|uv|apt-get)\b", v)], (
        "the runtime stage installs nothing"
    )


def test_build_stage_installs_every_service_from_the_lock(dockerfile: DockerfileParser) -> None:
    build, _ = stages(dockerfile)
    args = dict(v.split("=", 1) for v in values(build, "ARG"))
    packages = shlex.split(args["PACKAGES"].strip('"'))
    assert packages[1::2] == [f"orderflow-{s}" for s in SERVICES]
    syncs = [v for v in values(build, "RUN") if "uv sync" in v]
    assert len(syncs) == 2
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
        assert "${PACKAGES}" in command
    assert "--no-editable" in syncs[-1], "the runtime stage has no sources to point at"
    env = " ".join(values(build, "ENV"))
    assert "UV_PROJECT_ENVIRONMENT=/opt/venv" in env
    makefile = (ROOT / "Makefile").read_text()
    uv_version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M)
    assert uv_version is not None
    assert args["UV_VERSION"] == uv_version.group(1), "the image's uv is the Makefile's"


def test_runs_as_a_non_root_user(dockerfile: DockerfileParser) -> None:
    _, runtime = stages(dockerfile)
    users = values(runtime, "USER")
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert int(user) >= 10000
    assert users[-1] == "10001:10001"
    last = max(i for i, x in enumerate(runtime) if x["instruction"] == "USER")
    after = [x["instruction"] for x in runtime[last:]]
    assert "RUN" not in after
    assert "USER" not in after[1:]


def test_healthcheck_without_curl(dockerfile: DockerfileParser) -> None:
    _, runtime = stages(dockerfile)
    checks = values(runtime, "HEALTHCHECK")
    assert len(checks) == 1
    assert '["orderflow-healthcheck", "/health/live"]' in checks[0]
    assert "--interval=" in checks[0]
    assert "--timeout=" in checks[0]
    content = dockerfile.content
    assert "curl" not in content
    assert "wget" not in content


def test_entrypoint_is_the_service_launcher(dockerfile: DockerfileParser) -> None:
    _, runtime = stages(dockerfile)
    assert values(runtime, "ENTRYPOINT") == ['["orderflow-service"]']
    copied = values(runtime, "COPY")[1]
    assert copied.startswith("--chmod=0555 ")
    assert "deploy/docker/orderflow-service" in copied
    assert "deploy/docker/orderflow-healthcheck" in copied


def test_no_secrets_in_the_image(dockerfile: DockerfileParser) -> None:
    for instruction in dockerfile.structure:
        if instruction["instruction"] in ("ENV", "ARG", "LABEL"):
            assert not SECRET_WORDS.search(instruction["value"]), instruction["value"]
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in dockerignore, ".dockerignore allows only what the build needs"
    assert not [line for line in dockerignore if ".env" in line and line.startswith("!")]


def test_copied_paths_exist_and_are_in_the_context(dockerfile: DockerfileParser) -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for instruction in dockerfile.structure:
        if instruction["instruction"] != "COPY" or "--from=" in instruction["value"]:
            continue
        sources = [w for w in instruction["value"].split() if not w.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_every_service_module_exists() -> None:
    for service in SERVICES:
        assert importlib.util.find_spec(f"orderflow_{service}.__main__"), service
    launcher = ENTRYPOINT.read_text()
    listed = re.search(r"^\s+(catalog \|.*)\)\s*;;", launcher, re.M)
    assert listed is not None
    assert [s.strip() for s in listed.group(1).split("|")] == list(SERVICES)


def _run_entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "python $*"\n')
    fake.chmod(0o755)
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_entrypoint_picks_the_service(tmp_path: Path) -> None:
    assert _run_entrypoint(tmp_path, "cart").stdout == "python -m orderflow_cart\n"
    assert _run_entrypoint(tmp_path, "orderflow_cart").stdout == "python -m orderflow_cart\n"
    assert _run_entrypoint(tmp_path, SERVICE="payment").stdout == "python -m orderflow_payment\n"
    assert (
        _run_entrypoint(tmp_path, "catalog", "--x", SERVICE="payment").stdout
        == "python -m orderflow_catalog --x\n"
    )
    for bad in ([], ["shop"], ["../cart"]):
        result = _run_entrypoint(tmp_path, *bad)
        assert result.returncode == 64, bad
        assert "usage" in result.stderr, bad


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/health/live" else 503
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _healthcheck(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_healthcheck_script() -> None:
    with _server() as port:
        assert _healthcheck("--port", str(port)).returncode == 0
        ready = _healthcheck("--port", str(port), "/health/ready")
        assert ready.returncode == 1
        assert "HTTP 503" in ready.stderr
        by_env = _healthcheck(SERVICE="cart", CART_HTTP_PORT=str(port))
        assert by_env.returncode == 0, by_env.stderr
    refused = _healthcheck("--port", str(port))
    assert refused.returncode == 1


def test_healthcheck_knows_every_default_port() -> None:
    spec = importlib.util.spec_from_loader("healthcheck_script", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(HEALTHCHECK.read_text(), str(HEALTHCHECK), "exec"), module.__dict__)
    assert dict(SERVICE_PORTS) == module.DEFAULT_PORTS
