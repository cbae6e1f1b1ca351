"""Reading the deployment files (Dockerfile, compose.yaml, deploy.env.example, docs/alerts.yml)
the way Docker, Compose and Prometheus would, for the tests that check them. No container
engine runs here, so these readers are what the tests have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from graph.base.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DEPLOY_ENV = ROOT / "deploy.env.example"
ALERTS = ROOT / "docs" / "alerts.yml"
ALERTS_TEST = ROOT / "docs" / "alerts_test.yml"

# Variables that are no setting of ours but documented standards: prometheus-client's
# multi-process directory, OpenTelemetry's exporter endpoint.
STANDARD_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT"}
# compose.yaml's own knobs (interpolated there, documented in deploy.env.example).
COMPOSE_VARIABLES = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "SWITCHBOARD_IMAGE", "API_PROCESSES",
                     "API_BIND", "API_PORT", "WORKER_REPLICAS", "WORKER_PROCESSES"}
# The store images' documented variables (postgres, redis).
IMAGE_VARIABLES = {"postgres": {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"},
                   "redis": {"REDISCLI_AUTH"}, "chroma": set()}


def setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    """Every environment name graph/base/settings.py reads: fields upper-cased, nested groups
    joined with "__" (OUTBOX__RESENDS)."""
    names = set()
    for field, info in model.model_fields.items():
        name = prefix + field.upper()
        names.add(name)
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= setting_names(kind, name + "__")
    return names


def dockerfile_stages(path: Path = DOCKERFILE) -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for text in logical:
        instruction, _, arguments = text.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def exec_form(arguments: str) -> list[str]:
    """A JSON-array ("exec form") instruction's argument list; raises on the shell form."""
    value = json.loads(arguments)
    if not (isinstance(value, list) and all(isinstance(part, str) for part in value)):
        raise ValueError(f"not an exec form: {arguments}")
    return value


def healthcheck_command(path: Path = DOCKERFILE) -> list[str]:
    """The final image's HEALTHCHECK command, as Docker would execute it."""
    found = [args for instruction, args in dockerfile_stages(path)[-1] if instruction == "HEALTHCHECK"]
    if len(found) != 1:
        raise ValueError(f"expected one HEALTHCHECK in the final stage, found {len(found)}")
    options, _, command = found[0].partition("CMD ")
    return exec_form(command)


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    """compose.yaml as YAML, anchors and merge keys resolved."""
    return yaml.safe_load(path.read_text())


def interpolated(text: str) -> set[str]:
    """The variables a compose file interpolates (${NAME}, ${NAME:-x}, ${NAME:?x}); $$ escapes."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def unescape_compose(text: str) -> str:
    """A compose string as the container receives it ($$ is a literal $)."""
    return text.replace("$$", "$")


def env_example(path: Path = DEPLOY_ENV) -> dict[str, tuple[str, bool]]:
    """NAME -> (value, active) for every NAME=value line, active or commented out."""
    entries = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            entries[match.group(2)] = (match.group(3), match.group(1) is None)
    return entries


def alert_rules(path: Path = ALERTS) -> list[dict[str, Any]]:
    """Every rule of every group in the Prometheus rules file."""
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]
