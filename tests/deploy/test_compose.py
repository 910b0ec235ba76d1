"""The compose file (deploy/compose.yml): valid against the Compose Specification's JSON schema
(compose-spec.json beside this file: compose-spec/compose-spec, schema/compose-spec.json at
commit 170098ba, Apache-2.0; no container engine runs here, so `docker compose config` cannot),
the tested topology (nginx, two Rasa servers, two action servers, PostgreSQL, Redis), only the
load balancer published, health checks everywhere, and secrets only from deploy/.env."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import COMPOSE_FILE, DEPLOY, INTERPOLATION, endpoint_variables

SCHEMA = json.loads(Path(__file__).with_name("compose-spec.json").read_text())
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "SID")


def schema_errors(document: Dict[str, Any]) -> list:
    return [error.message for error in jsonschema.Draft7Validator(SCHEMA).iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification(compose: Dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_schema_validation_catches_a_wrong_field(compose: Dict[str, Any]) -> None:
    """The check above can fail: a misspelt key of a service is refused."""
    broken = {
        **compose,
        "services": {**compose["services"], "nginx": {**compose["services"]["nginx"], "port": []}},
    }
    assert schema_errors(broken) != []


def test_the_tested_topology_runs_on_one_machine(compose: Dict[str, Any]) -> None:
    services = compose["services"]
    rasa = [name for name, service in services.items() if service.get("image") == "kyphoplasty-rasa"]
    assert sorted(rasa) == ["rasa-1", "rasa-2"]
    assert services["actions"]["deploy"]["replicas"] == 2
    assert services["postgres"]["image"].startswith("postgres:15")  # Debian 12's, as the tests run
    assert services["redis"]["image"].startswith("redis:7.0")
    upstreams = re.findall(r"server (\S+):5005", (DEPLOY / "nginx" / "nginx.conf").read_text())
    assert upstreams == rasa
    for name in rasa:
        environment = services[name]["environment"]
        assert environment["ACTION_SERVER_URL"] == "http://actions:5055/webhook"
        assert (environment["TRACKER_STORE_HOST"], environment["LOCK_STORE_HOST"]) == ("postgres", "redis")
        assert services[name]["depends_on"].keys() == {"postgres", "redis", "actions"}
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).is_file(), name
    (mount,) = services["nginx"]["volumes"]
    source, target, mode = mount.split(":")
    assert (COMPOSE_FILE.parent / source).is_file() and target == "/etc/nginx/nginx.conf" and mode == "ro"


def test_only_the_load_balancer_is_published_and_on_loopback_by_default(compose: Dict[str, Any]) -> None:
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"nginx"}
    (port,) = compose["services"]["nginx"]["ports"]
    assert port == "${LB_ADDRESS:-127.0.0.1}:${LB_PORT:-8080}:8080"
    assert all("network_mode" not in service for service in compose["services"].values())
    # the stores and action servers are on a network with no way out
    assert compose["networks"]["backend"]["internal"] is True
    for name in ("actions", "postgres", "redis"):
        assert compose["services"][name]["networks"] == ["backend"]


def test_every_service_has_a_health_check_and_the_rasa_servers_check_readiness(
    compose: Dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name
    for name in ("rasa-1", "rasa-2"):
        assert "http://127.0.0.1:5005/webhooks/ready" in " ".join(
            compose["services"][name]["healthcheck"]["test"]
        )
    waits = compose["services"]["nginx"]["depends_on"]
    assert {condition["condition"] for condition in waits.values()} == {"service_healthy"}


def test_rasa_servers_get_every_variable_the_endpoints_read(compose: Dict[str, Any]) -> None:
    assert len(endpoint_variables()) == 10
    for name in ("rasa-1", "rasa-2"):
        assert endpoint_variables() <= set(compose["services"][name]["environment"]), name


def test_secrets_come_only_from_the_ignored_env_file(compose: Dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    interpolated = set(INTERPOLATION.findall(text))
    secrets = {name for name in interpolated if any(word in name for word in SECRET_WORDS)}
    assert secrets == {"TRACKER_STORE_PASSWORD", "LOCK_STORE_PASSWORD"}
    for name in secrets:  # required: compose refuses to start without them
        assert re.search(r"\$\{" + name + r":\?", text)
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in SECRET_WORDS):
                assert str(value).startswith("${") and str(value).endswith("}"), key
    assert set((DEPLOY / ".gitignore").read_text().split()) >= {".env", "clinic.env"}
    # deploy/env.example names every secret and holds no value
    example = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    assert set(example.values()) == {""}
    assert secrets <= set(example)
    assert {"PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(
        example
    )


@pytest.mark.parametrize("name", ["rasa-1", "actions"])
def test_servers_run_read_only_with_scratch_space(compose: Dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    dockerfile = (
        COMPOSE_FILE.parent / service["build"]["context"] / service["build"]["dockerfile"]
    ).read_text()
    (home,) = re.findall(r"^ENV HOME=(\S+)$", dockerfile, flags=re.M)
    assert home in service["tmpfs"]


def test_yaml_anchors_make_two_identical_rasa_servers() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert services["rasa-1"] == services["rasa-2"]


def test_every_dollar_is_an_interpolation_compose_understands() -> None:
    """`$$` is a literal `$` (for the container's shell); any other `$` starts `${VAR}`,
    `${VAR:-default}` or `${VAR:?error}`: a typo would make compose refuse the file or, worse,
    pass a literal `$` on."""
    text = COMPOSE_FILE.read_text().replace("$$", "")
    assert text.count("$") == len(INTERPOLATION.findall(text)) > 0
    assert "$$LOCK_STORE_PASSWORD" in COMPOSE_FILE.read_text()  # expanded by redis's shell, not compose
