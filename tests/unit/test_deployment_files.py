"""The container recipe, the compose file, its example environment and the alert rules say
what the product reads: real setting names, a non-root image with a health check, every
service's dependencies healthy first, and alerts only on metrics that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re

import pytest
import yaml

from graph.base.settings import Settings
from tests.deployment_files import (
    ALERTS_TEST,
    COMPOSE,
    COMPOSE_VARIABLES,
    IMAGE_VARIABLES,
    ROOT,
    STANDARD_VARIABLES,
    alert_rules,
    compose,
    dockerfile_stages,
    env_example,
    exec_form,
    healthcheck_command,
    interpolated,
    setting_names,
)

APP_SERVICES = ("migrate", "api", "worker")
STORES = ("postgres", "redis", "chroma")
# The metrics contract (issue 14), used when server/metrics.py is not there to ask.
CONTRACT = {
    "switchboard_webhooks_total": "counter", "switchboard_webhook_ack_seconds": "histogram",
    "switchboard_due_queue_lag_seconds": "histogram", "switchboard_turn_seconds": "histogram",
    "switchboard_model_calls_total": "counter", "switchboard_model_call_seconds": "histogram",
    "switchboard_model_fallbacks_total": "counter", "switchboard_tool_calls_total": "counter",
    "switchboard_outbox_backlog": "gauge", "switchboard_sends_total": "counter",
    "switchboard_send_failures_total": "counter", "switchboard_handoffs_total": "counter",
    "switchboard_sla_misses_total": "counter", "switchboard_breaker_state": "gauge",
    "switchboard_opt_outs_total": "counter", "switchboard_prune_deleted_total": "counter",
}


def test_setting_names_follow_the_nested_delimiter():
    names = setting_names()
    assert {"DATABASE_URL", "OUTBOX__RESENDS", "META__APP_SECRET", "CONSOLE_LOGIN__TRUSTED_PROXY_HOPS",
            "MEDIA__S3_BUCKET"} <= names
    assert "META" in names and "RESENDS" not in names


# --- Dockerfile ---------------------------------------------------------------------------------

def test_the_image_runs_switchboard_serve_as_a_non_root_user():
    final = dockerfile_stages()[-1]
    instructions = [name for name, _ in final]
    user = [args for name, args in final if name == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") < instructions.index("CMD")
    assert exec_form(dict(final)["CMD"]) == ["switchboard", "serve"]
    assert dict(final)["FROM"].split()[0].endswith("python:3.11-slim-bookworm") or \
        "PYTHON_IMAGE" in dict(final)["FROM"]


def test_the_image_listens_on_all_interfaces_on_the_exposed_port_and_keeps_data_writable():
    final = dict(dockerfile_stages()[-1])
    environment = final["ENV"]
    assert "HOST=0.0.0.0" in environment and "PORT=8000" in environment
    assert final["EXPOSE"] == "8000"
    data_dir = re.search(r"DATA_DIR=(\S+)", environment).group(1)
    prepare = " ".join(args for name, args in dockerfile_stages()[-1] if name == "RUN")
    assert f"mkdir -p {data_dir}" in prepare and f"chown switchboard:switchboard {data_dir}" in prepare


def test_the_build_upgrades_pip_first_and_installs_the_package():
    runs = [args for name, args in dockerfile_stages()[0] if name == "RUN"]
    upgrade = next(i for i, run in enumerate(runs) if "pip install --upgrade pip" in run)
    install = next(i for i, run in enumerate(runs) if re.search(r"pip install \.( |$)", run))
    assert upgrade < install


def test_no_secret_is_baked_into_the_image():
    for stage in dockerfile_stages():
        for name, args in stage:
            if name in ("ENV", "ARG"):
                assert not re.search(r"(SECRET|TOKEN|PASSWORD|API_KEY|_KEY=)", args), args
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", "*.env", ".git"} <= set(ignored)


def test_the_healthcheck_asks_healthz_with_python_only():
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2] and "urllib.request" in command[2]
    compile(command[2], "HEALTHCHECK", "exec")  # it is valid Python


# --- compose.yaml -------------------------------------------------------------------------------

def test_compose_has_every_service_with_healthy_dependencies():
    services = compose()["services"]
    assert set(services) == {*APP_SERVICES, *STORES}
    for store in STORES:
        assert services[store]["healthcheck"]["test"][0] == "CMD"
        assert services[store]["restart"] == "unless-stopped"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert {store: depends[store]["condition"] for store in STORES} == dict.fromkeys(
            STORES, "service_healthy")
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["switchboard", "migrate"]
    assert services["migrate"]["restart"] == "no"


def test_api_and_worker_share_one_image_and_differ_by_command():
    services = compose()["services"]
    api, worker = services["api"], services["worker"]
    assert api["image"] == worker["image"] and api["build"] == worker["build"] == "."
    assert api["command"][:3] == ["switchboard", "serve", "--no-worker"]
    assert worker["command"][:2] == ["switchboard", "worker"]
    assert worker["healthcheck"] == {"disable": True}  # no HTTP to ask
    assert "healthcheck" not in api  # the image's own
    assert "replicas" in worker["deploy"]
    assert api["environment"]["PROMETHEUS_MULTIPROC_DIR"] in api["tmpfs"]


def test_the_app_talks_to_the_compose_stores_never_embedded_ones():
    for name in APP_SERVICES:
        environment = compose()["services"][name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://switchboard:${POSTGRES_PASSWORD:?")
        assert environment["DATABASE_URL"].endswith("@postgres:5432/switchboard")
        assert environment["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
        assert environment["CHROMA_URL"] == "http://chroma:8000"
        assert environment["DEMO_MODE"] == "off"
        assert compose()["services"][name]["env_file"] == "deploy.env"


def test_stores_keep_their_data_in_volumes_and_stay_off_the_internet():
    document = compose()
    services = document["services"]
    assert "postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "chroma:/data" in services["chroma"]["volumes"]
    for name in APP_SERVICES:
        assert "media:/data" in services[name]["volumes"]
    assert set(document["volumes"]) == {"postgres", "chroma", "media"}
    assert document["networks"]["backend"]["internal"] is True
    for store in STORES:
        assert services[store]["networks"] == ["backend"]
    redis = services["redis"]["command"]
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"


def test_every_variable_compose_uses_is_a_setting_or_documented():
    settings, services = setting_names(), compose()["services"]
    for name, service in services.items():
        known = settings | STANDARD_VARIABLES if name in APP_SERVICES else IMAGE_VARIABLES[name]
        unknown = set(service.get("environment") or {}) - known
        assert not unknown, f"{name}: {unknown}"
    assert interpolated(COMPOSE.read_text()) <= COMPOSE_VARIABLES


def test_the_example_environment_names_real_settings_and_every_required_secret():
    entries = env_example()
    unknown = set(entries) - setting_names() - STANDARD_VARIABLES - COMPOSE_VARIABLES
    assert not unknown, unknown
    active = {name: value for name, (value, on) in entries.items() if on}
    # What compose.yaml requires (${...:?}) and what startup_checks require of a Meta channel.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required <= set(active)
    assert {"META__APP_SECRET", "META__VERIFY_TOKEN", "META__ACCESS_TOKEN",
            "META__PHONE_NUMBER_ID", "META__GRAPH_URL", "PUBLIC_URL"} <= set(active)
    assert active["PUBLIC_URL"].startswith("https://")
    assert active["META__GRAPH_URL"].startswith("https://")
    simulator = Settings(_env_file=None).meta
    for name in ("app_secret", "verify_token", "access_token"):
        assert active[f"META__{name.upper()}"] != getattr(simulator, name).get_secret_value()
    assert "deploy.env" in (ROOT / ".gitignore").read_text().splitlines()


# --- docs/alerts.yml --------------------------------------------------------------------------

def defined_samples() -> set[str]:
    """Sample names Prometheus can see: from server/metrics.py when it exists, else the contract."""
    if importlib.util.find_spec("server.metrics") is None:
        families = CONTRACT
    else:
        import prometheus_client

        module = importlib.import_module("server.metrics")
        metrics = [value for value in vars(module).values()
                   if isinstance(value, prometheus_client.metrics.MetricWrapperBase)]
        described = [family for metric in metrics for family in metric.describe()]
        families = {family.name + ("_total" if family.type == "counter" else ""): family.type
                    for family in described}
        assert families, "server/metrics.py defines no metric at module level"
    samples = set()
    for name, kind in families.items():
        samples.add(name)
        if kind == "histogram":
            samples |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return samples


def test_alert_rules_are_complete_and_use_only_defined_metrics():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    samples = defined_samples()
    for rule in rules:
        used = set(re.findall(r"\bswitchboard_[a-z_]+", rule["expr"]))
        assert used and used <= samples, (rule["alert"], used - samples)
        assert rule["labels"]["severity"] in ("page", "warn")
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"{anchor.replace('-', ' ')}" in (ROOT / "docs" / "operations.md").read_text().lower()
    watched = " ".join(rule["expr"] for rule in rules)
    for metric in ("outbox_backlog", "send_failures_total", "breaker_state", "sla_misses_total",
                   "due_queue_lag_seconds", "webhooks_total"):
        assert f"switchboard_{metric}" in watched


def test_every_alert_has_a_promtool_case_on_defined_series():
    """docs/alerts_test.yml (run by `promtool test rules`) covers every alert, fed only with
    series of metrics that exist."""
    cases = yaml.safe_load(ALERTS_TEST.read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]
              if check["exp_alerts"]}
    expected = {rule["alert"] for rule in alert_rules()}
    assert expected <= tested, expected - tested
    samples = defined_samples()
    for case in cases:
        for series in case["input_series"]:
            assert series["series"].split("{")[0] in samples, series


@pytest.mark.parametrize("broken", ["switchboard_made_up_total", "switchboard_sends"])
def test_the_metric_check_catches_a_name_not_defined(broken):
    assert broken not in defined_samples()
