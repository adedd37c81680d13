"""deploy/: kustomize builds base, dev and prod; every object validates against the
Kubernetes schemas; the services get probes, resources, a non-root read-only container and
the environment ServiceConfig gives them; secrets are only referenced."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from orderflow_devinfra import compose, kube
from orderflow_devinfra.shop import SERVICES

from .conftest import KUBERNETES_VERSION, OVERLAYS, ROOT, kustomize_build, setting_field

SCALED = [s for s in SERVICES if s not in kube.SINGLE_REPLICA]


def objects(kustomize: str, overlay: str, kind: str | None = None) -> list[dict[str, Any]]:
    built = kustomize_build(kustomize, OVERLAYS[overlay])
    return [o for o in built if kind is None or o["kind"] == kind]


def by_name(kustomize: str, overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects(kustomize, overlay, kind)}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_every_object_validates_against_the_kubernetes_schemas(
    kustomize: str, overlay: str
) -> None:
    built = objects(kustomize, overlay)
    kinds = sorted({o["kind"] for o in built})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
        "Service",
    ]
    errors = []
    for obj in built:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert errors == []


def test_the_validator_catches_mistakes(kustomize: str) -> None:
    deployment = objects(kustomize, "base", "Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_deployments_are_probed_limited_and_unprivileged(kustomize: str, overlay: str) -> None:
    deployments = by_name(kustomize, overlay, "Deployment")
    assert sorted(deployments) == sorted(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        port = compose.SERVICE_PORTS[name]
        assert main["ports"] == [{"name": "http", "containerPort": port}]
        assert main["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert main["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert main["startupProbe"]["httpGet"]["path"] == "/health/live"
        for kind in ("requests", "limits"):
            assert set(main["resources"][kind]) == {"cpu", "memory"}, (name, kind)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == kube.APP_UID
        assert pod["automountServiceAccountToken"] is False
        assert main["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
        assert main["args"] == [f"orderflow_{name}"]


def _defined_before(env: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for variable in env:
        for reference in re.findall(r"\$\(([A-Za-z0-9_]+)\)", variable.get("value", "")):
            assert reference in seen, f"$({reference}) used before it is defined"
        seen.add(variable["name"])


def test_containers_get_the_service_config_environment(kustomize: str) -> None:
    deployments = by_name(kustomize, "prod", "Deployment")
    config_maps = {o["metadata"]["name"]: o for o in objects(kustomize, "prod", "ConfigMap")}
    for service in SERVICES:
        env = container(deployments[service])["env"]
        _defined_before(env)
        own = {v["name"]: v["value"] for v in env if v["name"].startswith(service.upper() + "_")}
        assert own == kube.kube_service_config(service).env()
        for variable in own:
            assert setting_field(service, variable), f"{variable} is no setting of {service}"
        assert own[f"{service.upper()}_HTTP_HOST"] == "0.0.0.0"
        assert own[f"{service.upper()}_DATABASE_URL"].endswith(f"/{service}")
        for variable in env:
            source = variable.get("valueFrom", {})
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                assert ref["name"] in config_maps, ref
                assert ref["key"] in config_maps[ref["name"]]["data"], ref
            elif "secretKeyRef" in source:
                assert source["secretKeyRef"]["name"] in (kube.ADMIN_SECRET, f"{service}-db")
            else:
                assert "value" in variable
                assert not variable["name"].startswith("ORDERFLOW_")


_SECRET_SETTING = re.compile(
    r"(?<![${(])\b([A-Za-z_-]*(?:password|passwd|api[_-]?key|secret)[A-Za-z_-]*)[\"']?"
    r"\s*(?::\s|=)\s*(.*)$",
    re.I,
)
_URL_PASSWORD = re.compile(r"://[^:/\s@]+:([^@\s]+)@")


def _literal_secret(line: str) -> str | None:
    """The secret value written on `line`, if any (references and variables are fine)."""
    found = [m.group(2) for m in _SECRET_SETTING.finditer(line)]
    found += [m.group(1) for m in _URL_PASSWORD.finditer(line)]
    for value in found:
        value = value.strip().strip("\"'")
        if value and not value.startswith("$"):
            return value
    return None


def test_the_secret_scanner() -> None:
    assert _literal_secret('POSTGRES_PASSWORD: "hunter2"') == "hunter2"
    assert _literal_secret("ADMIN_API_KEY=abc") == "abc"
    assert _literal_secret('url: "postgresql://u:pw@h/db"') == "pw"
    assert _literal_secret('POSTGRES_PASSWORD: "${ORDERFLOW_POSTGRES_PASSWORD:?x}"') is None
    assert _literal_secret('value: "postgresql://$(U):$(P)@$(H):$(PORT)/cart"') is None
    assert _literal_secret('  --set=password="$ORDERFLOW_DB_PASSWORD" <<SQL') is None
    assert _literal_secret("ORDERFLOW_DB_PASSWORD=") is None


def test_secrets_are_references_only(kustomize: str) -> None:
    for overlay in OVERLAYS:
        assert objects(kustomize, overlay, "Secret") == []
        for config_map in objects(kustomize, overlay, "ConfigMap"):
            for key in config_map["data"]:
                assert not re.search(r"PASSWORD|SECRET|API_KEY|TOKEN", key), key
    committed = [
        p
        for p in [*(ROOT / "deploy").rglob("*"), ROOT / "docker-compose.yml", ROOT / "Dockerfile"]
        if p.is_file()
    ]
    assert len(committed) > 10
    for path in committed:
        for line in path.read_text(errors="replace").splitlines():
            if not line.lstrip().startswith("#"):
                assert _literal_secret(line) is None, f"{path.relative_to(ROOT)}: {line.strip()}"
    assert not list((ROOT / "deploy").rglob("*.env")), "no env files (secrets) in deploy/"


def test_overlays_set_replicas_resources_autoscaling_and_images(kustomize: str) -> None:
    expectations = {"dev": ("orderflow-dev", 1, 2, "dev"), "prod": ("orderflow", 2, 8, "0.1.0")}
    for overlay, (namespace, low, high, tag) in expectations.items():
        for obj in objects(kustomize, overlay):
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]
        scalers = by_name(kustomize, overlay, "HorizontalPodAutoscaler")
        assert sorted(scalers) == sorted(SCALED), "notification runs one replica, unscaled"
        for scaler in scalers.values():
            assert (scaler["spec"]["minReplicas"], scaler["spec"]["maxReplicas"]) == (low, high)
            assert scaler["spec"]["maxReplicas"] <= compose.EVENT_TOPIC_PARTITIONS
        deployments = by_name(kustomize, overlay, "Deployment")
        assert deployments["notification"]["spec"]["replicas"] == 1
        assert deployments["notification"]["spec"]["strategy"] == {"type": "Recreate"}
        for service in SCALED:
            assert "replicas" not in deployments[service]["spec"], "the HPA owns replicas"
        for deployment in deployments.values():
            image = container(deployment)["image"]
            assert image == f"registry.example.com/orderflow:{tag}"
    dev = container(by_name(kustomize, "dev", "Deployment")["cart"])["resources"]
    prod = container(by_name(kustomize, "prod", "Deployment")["cart"])["resources"]
    assert dev["limits"]["memory"] == "384Mi"
    assert prod["limits"]["memory"] == "1Gi"
    platform = next(
        o
        for o in objects(kustomize, "prod", "ConfigMap")
        if o["metadata"]["name"].startswith(kube.PLATFORM_CONFIGMAP)
    )
    assert platform["data"]["ORDERFLOW_TOPIC_REPLICATION_FACTOR"] == "3"
    assert sorted(platform["data"]) == sorted(kube.PLATFORM_KEYS)


def test_every_deployment_has_a_service_and_a_disruption_budget(kustomize: str) -> None:
    for overlay in OVERLAYS:
        services = by_name(kustomize, overlay, "Service")
        budgets = by_name(kustomize, overlay, "PodDisruptionBudget")
        for name, deployment in by_name(kustomize, overlay, "Deployment").items():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert selector.items() <= labels.items()
            assert services[name]["spec"]["selector"].items() <= labels.items()
            assert services[name]["spec"]["ports"][0]["port"] == compose.SERVICE_PORTS[name]
            assert budgets[name]["spec"]["selector"]["matchLabels"] == selector
            assert budgets[name]["spec"]["maxUnavailable"] == 1


def test_topics_job_creates_the_topics_with_the_compose_script(kustomize: str) -> None:
    (job,) = objects(kustomize, "prod", "Job")
    main = container(job)
    assert main["image"] == compose.KAFKA_IMAGE
    env = {v["name"]: v for v in main["env"]}
    assert env["TOPICS"]["value"] == compose.topics_arg()
    assert env["REPLICATION_FACTOR"]["valueFrom"]["configMapKeyRef"]["key"] == (
        "ORDERFLOW_TOPIC_REPLICATION_FACTOR"
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    script_map = next(v for v in pod["volumes"] if v["name"] == "script")["configMap"]["name"]
    (scripts,) = [
        o for o in objects(kustomize, "prod", "ConfigMap") if o["metadata"]["name"] == script_map
    ]
    script = Path(ROOT / compose.TOPICS_SCRIPT).read_text()
    assert scripts["data"]["create-topics.sh"] == script
