"""The deployment recipes in deploy/ (image, compose stack, Kubernetes manifests), checked without Docker or a cluster.

Nothing here starts a server: the files are validated against the Compose specification and the Kubernetes API
schemas, and against what they name in this repository: CLI commands and flags (parsed by the CLI's own parser),
settings read from the environment (derived from the settings model), files mounted or copied, ports and job names.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from driftline.cli.main import build_parser
from driftline.core import CONFIG_ENV, Settings, load_settings
from service.prediction_log import PredictionLog

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_PROMETHEUS = DEPLOY / "prometheus" / "compose.yml"
KUBERNETES_PROMETHEUS = DEPLOY / "prometheus" / "kubernetes.yml"
SHIPPED_PROMETHEUS = ROOT / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
IMAGE = "driftline"  # the image deploy/Dockerfile builds, as compose and the manifests name it (before the tag)
WORKLOADS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
# `${NAME:-default}` in a compose file: the value when NAME is not set
INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]*)\}")


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = read_yaml(COMPOSE)["services"]
    return services


def driftline_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Driftline image."""
    return {name: spec for name, spec in compose_services().items() if spec["image"].split(":")[0] == IMAGE}


def manifest_files() -> list[Path]:
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


def manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in manifest_files():
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return documents


def manifest(kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def kubernetes_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload/container, container) for every container of every workload's pod template."""
    for doc in manifests():
        if doc["kind"] in WORKLOADS:
            pod = doc["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod["containers"]:
                yield f"{doc['metadata']['name']}/{container['name']}", container


def driftline_argv() -> list[tuple[str, list[str]]]:
    """(where, argv after `driftline`) for every command a Driftline container of the recipes runs."""
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    default = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert default is not None, "deploy/Dockerfile has no CMD in exec form"
    commands = [("Dockerfile CMD", yaml.safe_load(default.group(1)))]
    commands += [(f"compose {name}", spec["command"]) for name, spec in driftline_services().items()]
    commands += [(f"kubernetes {where}", container["args"]) for where, container in kubernetes_containers()]
    return commands


def listen_port(argv: list[str]) -> int:
    return int(build_parser().parse_args(argv).port)


def _section(annotation: Any) -> type[BaseModel] | None:
    """The settings section a field holds (also when optional), or None for a plain value."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def settings_env_names() -> set[str]:
    """Every environment variable the settings read: the prefix, then section and field joined by the delimiter."""
    prefix = Settings.model_config["env_prefix"]
    delimiter = Settings.model_config["env_nested_delimiter"]
    assert isinstance(prefix, str) and isinstance(delimiter, str)
    names = {CONFIG_ENV}

    def walk(model: type[BaseModel], path: str) -> None:
        for field_name, field in model.model_fields.items():
            name = f"{path}{field_name.upper()}"
            names.add(name)
            section = _section(field.annotation)
            if section is not None:
                walk(section, name + delimiter)

    walk(Settings, prefix)
    return names


def compose_environment(spec: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment with `${NAME:-default}` replaced by its default."""
    return {name: INTERPOLATION.sub(lambda m: m.group(2), str(value)) for name, value in spec["environment"].items()}


def compose_host_path(spec: dict[str, Any], container_path: str) -> Path:
    """The repository file bind-mounted at `container_path` in a compose service."""
    for volume in spec["volumes"]:
        source, target = volume.split(":")[:2]
        if target == container_path:
            return (DEPLOY / source).resolve()
    raise AssertionError(f"nothing is mounted at {container_path}")


def kubernetes_environment(container: dict[str, Any]) -> dict[str, str]:
    """A container's environment, with Secret references replaced by the Secret's (placeholder) values."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = manifest("Secret", ref["name"])["stringData"][ref["key"]]
    return env


def load_with_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name in [name for name in os.environ if name.startswith("DRIFTLINE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def dockerfile_copy_sources() -> list[str]:
    sources: list[str] = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from=") for word in words):
            sources.extend(word for word in words[1:-1] if not word.startswith("--"))
    return sources


def test_compose_file_follows_the_compose_specification() -> None:
    """deploy/compose.yaml is valid against the Compose specification's JSON schema."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert 0 == result.returncode, result.stdout + result.stderr


KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_kubernetes_manifests_are_valid_kubernetes_resources(path: Path) -> None:
    """Every document in deploy/kubernetes/ validates, strictly, against the newest Kubernetes schemas shipped."""
    errors = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert [] == errors


def test_kustomization_lists_every_manifest() -> None:
    """`kubectl apply -k deploy/kubernetes` applies every manifest in the folder, and only those."""
    resources = read_yaml(KUBERNETES / "kustomization.yaml")["resources"]
    assert sorted(path.name for path in manifest_files()) == sorted(resources)


@pytest.mark.parametrize(("where", "argv"), driftline_argv(), ids=lambda value: str(value))
def test_each_container_runs_a_real_cli_command(where: str, argv: list[str]) -> None:
    """The command of every Driftline container is one the `driftline` parser accepts, flags included."""
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `driftline {' '.join(argv)}` is not accepted by the CLI")


def test_the_image_runs_the_driftline_command() -> None:
    """The image's entrypoint is the `driftline` script the package installs."""
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert entrypoint is not None
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert ["driftline"] == [name for name in yaml.safe_load(entrypoint.group(1)) if name in scripts]


def test_dockerfile_copies_only_files_that_exist() -> None:
    """Every COPY source of deploy/Dockerfile (the build context is the repository root) exists."""
    assert [] == [source for source in dockerfile_copy_sources() if not (ROOT / source).exists()]


def test_dockerignore_lets_every_copied_source_into_the_build_context() -> None:
    """deploy/Dockerfile.dockerignore excludes everything but the sources the Dockerfile copies."""
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert [] == [source for source in dockerfile_copy_sources() if source.rstrip("/") not in included]


def test_compose_mounts_and_builds_only_paths_that_exist() -> None:
    """Every repository path compose mounts or builds from exists (relative to deploy/, where compose.yaml is)."""
    paths = []
    for spec in compose_services().values():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                paths.append(DEPLOY / source)
        if "build" in spec:
            context = DEPLOY / spec["build"]["context"]
            paths += [context, context / spec["build"]["dockerfile"]]
    assert [] == [str(path) for path in paths if not path.exists()]


def test_environment_names_are_settings_the_program_reads() -> None:
    """Every DRIFTLINE_ variable the recipes set is a field of the settings model (or the config file's variable)."""
    names = {name for spec in driftline_services().values() for name in spec["environment"]}
    names |= {item["name"] for _, container in kubernetes_containers() for item in container.get("env", [])}
    assert set() == {name for name in names if name.startswith("DRIFTLINE_")} - settings_env_names()


@pytest.mark.parametrize("name", sorted(driftline_services()))
def test_compose_environment_is_a_valid_config_on_the_compose_postgres(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a compose service's environment and mounted config file, the settings load and name the compose store."""
    spec = driftline_services()[name]
    env = compose_environment(spec)
    env[CONFIG_ENV] = str(compose_host_path(spec, env[CONFIG_ENV]))
    settings = load_with_environment(monkeypatch, env)
    assert "postgresql+psycopg://driftline:driftline@postgres:5432/driftline" == settings.store.url


@pytest.mark.parametrize(
    ("where", "container"), list(kubernetes_containers()), ids=[where for where, _ in kubernetes_containers()]
)
def test_kubernetes_environment_is_a_valid_config(
    where: str, container: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a container's environment, the Secret's placeholders and the ConfigMap's file, the settings load."""
    env = kubernetes_environment(container)
    config = tmp_path / "driftline.yaml"
    config.write_text(manifest("ConfigMap", "driftline-config")["data"]["driftline.yaml"], encoding="utf-8")
    env[CONFIG_ENV] = str(config)
    settings = load_with_environment(monkeypatch, env)
    assert env["DRIFTLINE_STORE__URL"] == settings.store.url


def test_configmap_holds_the_built_in_config() -> None:
    """The ConfigMap's driftline.yaml says what the repository's driftline.yaml says."""
    configmap = manifest("ConfigMap", "driftline-config")
    assert read_yaml(ROOT / "driftline.yaml") == yaml.safe_load(configmap["data"]["driftline.yaml"])


def test_secret_values_are_marked_placeholders() -> None:
    """Every value of the shipped Secret says it must be changed."""
    secret = manifest("Secret", "driftline-secrets")
    assert [] == [key for key, value in secret["stringData"].items() if "CHANGE-ME" not in value]


def test_service_grace_period_covers_the_prediction_log_flush() -> None:
    """The service pods get longer than the preStop pause plus the prediction log's bounded flush to exit."""
    pod = manifest("Deployment", "driftline-service")["spec"]["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    flush = inspect.signature(PredictionLog.close).parameters["timeout"].default
    assert pod["terminationGracePeriodSeconds"] > pause + flush


@pytest.mark.parametrize("name", ["driftline-service", "driftline-monitor"])
def test_kubernetes_probes_ports_and_scrapes_use_the_port_the_command_listens_on(name: str) -> None:
    """Container port, probes (through the named port) and the Prometheus annotation all use the `--port` given."""
    template = manifest("Deployment", name)["spec"]["template"]
    container = template["spec"]["containers"][0]
    port = listen_port(container["args"])
    probe_ports = {container[probe]["httpGet"]["port"] for probe in container if probe.endswith("Probe")}
    assert (port, {"http"}, str(port)) == (
        next(p["containerPort"] for p in container["ports"] if p["name"] == "http"),
        probe_ports,
        template["metadata"]["annotations"]["prometheus.io/port"],
    )


@pytest.mark.parametrize(("name", "path"), [("service", "/readyz"), ("monitor", "/healthz")])
def test_compose_healthchecks_ask_the_port_the_command_listens_on(name: str, path: str) -> None:
    """Each compose healthcheck asks the container's own port for its readiness route."""
    spec = compose_services()[name]
    assert f"127.0.0.1:{listen_port(spec['command'])}{path}" in " ".join(spec["healthcheck"]["test"])


def test_hpa_scales_the_service_deployment() -> None:
    """The HorizontalPodAutoscaler targets the service Deployment, from its replica count upward."""
    hpa = manifest("HorizontalPodAutoscaler", "driftline-service")
    deployment = manifest("Deployment", "driftline-service")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"], deployment["spec"]["replicas"]) == (
        deployment["kind"],
        deployment["metadata"]["name"],
        hpa["spec"]["minReplicas"],
    )


def test_compose_services_wait_for_the_first_model() -> None:
    """The service and the monitor start only once the one-shot train container has finished without error."""
    services = compose_services()
    assert ["train", "--if-no-production"] == services["train"]["command"]
    waits = {name: services[name]["depends_on"]["train"]["condition"] for name in ("service", "monitor")}
    assert {"service": "service_completed_successfully", "monitor": "service_completed_successfully"} == waits


def scrape_jobs(path: Path) -> list[str]:
    return [job["job_name"] for job in read_yaml(path)["scrape_configs"]]


@pytest.mark.parametrize("path", [COMPOSE_PROMETHEUS, KUBERNETES_PROMETHEUS], ids=lambda path: path.name)
def test_deploy_prometheus_keeps_the_shipped_job_names_and_rules(path: Path) -> None:
    """The deploy Prometheus configs use the job names and rule files the alert rules and dashboards expect."""
    shipped = read_yaml(SHIPPED_PROMETHEUS)
    assert (scrape_jobs(SHIPPED_PROMETHEUS), shipped["rule_files"]) == (
        scrape_jobs(path),
        read_yaml(path)["rule_files"],
    )


def test_compose_prometheus_scrapes_every_replica_on_its_port() -> None:
    """Each compose scrape job resolves a compose service by DNS (one target per replica) on the port it listens on."""
    services = compose_services()
    targets = {
        (sd["names"][0], sd["port"])
        for job in read_yaml(COMPOSE_PROMETHEUS)["scrape_configs"]
        for sd in job["dns_sd_configs"]
    }
    assert {
        ("service", listen_port(services["service"]["command"])),
        ("monitor", listen_port(services["monitor"]["command"])),
    } == targets


def test_compose_prometheus_mounts_the_shipped_alert_rules_beside_its_config() -> None:
    """Prometheus in compose reads deploy/prometheus/compose.yml and, next to it, the shipped alert rules."""
    spec = compose_services()["prometheus"]
    mounted = {
        compose_host_path(spec, "/etc/prometheus/prometheus.yml"),
        compose_host_path(spec, "/etc/prometheus/alerts.yml"),
    }
    assert {COMPOSE_PROMETHEUS.resolve(), (ROOT / "prometheus" / "alerts.yml").resolve()} == mounted


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make system-deps)")
def test_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """`promtool check config` accepts the compose Prometheus config with the shipped rules beside it."""
    shutil.copy(COMPOSE_PROMETHEUS, tmp_path / "prometheus.yml")
    shutil.copy(ROOT / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert 0 == result.returncode, result.stdout + result.stderr


def test_grafana_datasource_points_at_the_compose_prometheus() -> None:
    """The provisioned datasource URL names the compose Prometheus service and the port it listens on."""
    url = read_yaml(GRAFANA_DATASOURCE)["datasources"][0]["url"]
    published = compose_services()["prometheus"]["ports"][0].split(":")[-1]
    assert f"http://prometheus:{published}" == url
