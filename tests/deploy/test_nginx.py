"""The load balancer (deploy/nginx/nginx.conf) and the Ingress pass on exactly the channels'
webhooks; nginx accepts the configuration (`nginx -t`) and, run for real in a private network
namespace against two stand-in Rasa servers, balances over both, refuses everything else and
logs no query string. Needs root (unshare, as CI runs) and Debian's nginx
(scripts/install_load_balancer.sh; unshare and ip come with Debian)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, FrozenSet, List

from tests.deploy.conftest import NGINX_CONFIG, kubernetes_documents, nginx_locations, public_webhooks

DRIVER = Path(__file__).with_name("nginx_in_namespace.py")
BODY_LIMIT = 262144  # client_max_body_size 256k, the Rasa server's REQUEST_MAX_SIZE
REFUSED_PATHS = [
    "/",  # Rasa's own health route
    "/version",
    "/status",  # Rasa's HTTP API, were it on
    "/conversations/someone/tracker",
    "/model/parse",
    "/webhooks/ready",  # the readiness probe: for the orchestrator only
    "/webhooks/rest",  # a channel's health check
    "/webhooks/rest/",
    "/webhooks/rest/webhook/../../../status",  # nginx resolves the dots first
    "/webhooks/unknown/webhook",
]
SECRET_QUERY = "hub.mode=subscribe&hub.verify_token=never-logged-7f3a&hub.challenge=42"


def test_load_balancer_and_ingress_pass_on_exactly_the_public_webhooks(
    served_routes: Dict[str, FrozenSet[str]],
) -> None:
    webhooks = public_webhooks(served_routes)
    locations = nginx_locations()
    assert set(locations) == set(webhooks)
    for path, methods in webhooks.items():
        # OPTIONS: the widget's CORS preflight, which Rasa's CORS layer answers on these routes
        assert locations[path] - {"OPTIONS"} == methods, path
    (ingress,) = [document for document in kubernetes_documents() if document["kind"] == "Ingress"]
    ingress_paths = [path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert sorted(ingress_paths) == sorted(webhooks)
    assert {path["pathType"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]} == {
        "Exact"
    }


def test_load_balancer_uses_the_benchmarked_upstream_settings() -> None:
    """The benchmark's load balancer (evaluation/load_balancer.py) is configured as production."""
    from evaluation.load_balancer import MAX_BODY, UPSTREAM_SETTINGS

    text = NGINX_CONFIG.read_text()
    (upstream,) = re.findall(r"upstream rasa_servers \{(.*?)\n    \}", text, flags=re.S)
    directives = [
        line.strip() for line in upstream.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    for setting in UPSTREAM_SETTINGS:
        assert setting in directives
    assert f"client_max_body_size {MAX_BODY};" in text
    assert int(MAX_BODY.rstrip("k")) * 1024 == BODY_LIMIT


def run_in_namespace(tmp_path: Path, requests: List[List[Any]]) -> Dict[str, Any]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert nginx, "nginx is not installed: bash scripts/install_load_balancer.sh"
    assert os.geteuid() == 0, "the namespace needs root (unshare --net --mount), as CI runs"
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.2 rasa-1\n127.0.0.3 rasa-2\n")
    (tmp_path / "requests.json").write_text(json.dumps(requests))
    output = tmp_path / "report.json"
    environment = {**os.environ, "PATH": f"{Path(nginx).parent}:{os.environ.get('PATH', '')}"}
    arguments = [str(NGINX_CONFIG), str(hosts), str(output), str(tmp_path / "requests.json")]
    result = subprocess.run(
        ["unshare", "--net", "--mount", sys.executable, str(DRIVER), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


def test_nginx_accepts_the_configuration_and_routes_as_intended(
    tmp_path: Path, served_routes: Dict[str, FrozenSet[str]]
) -> None:
    webhooks = public_webhooks(served_routes)
    allowed = [[method, path, 20] for path, methods in sorted(webhooks.items()) for method in sorted(methods)]
    wrong_method = [["GET", "/webhooks/rest/webhook", 0], ["DELETE", "/webhooks/widget/webhook", 0]]
    refused = [["GET", path, 0] for path in REFUSED_PATHS] + [["POST", "/conversations/x/messages", 20]]
    preflight = [["OPTIONS", "/webhooks/widget/webhook", 0]]
    bodies = [
        ["POST", "/webhooks/rest/webhook", BODY_LIMIT],
        ["POST", "/webhooks/rest/webhook", BODY_LIMIT + 1],
    ]
    subscribe = [["GET", "/webhooks/messenger/webhook?" + SECRET_QUERY, 0]]
    health = [["GET", "/nginx-health", 0]]  # compose's health check, from inside the container
    spread = [["POST", "/webhooks/rest/webhook", 20]] * 6
    report = run_in_namespace(
        tmp_path, allowed + wrong_method + refused + preflight + bodies + subscribe + health + spread
    )

    assert report["syntax"]["returncode"] == 0, report["syntax"]["output"]
    assert "test is successful" in report["syntax"]["output"]
    responses = iter(report["responses"])
    for method, path, size in allowed:
        response = next(responses)
        assert response["status"] == 200, response
        assert response["upstream"]["method"] == method
        assert response["upstream"]["path"] == path
        assert response["upstream"]["body_bytes"] == size
        assert response["upstream"]["x_forwarded_for"] == "127.0.0.1"
    for _ in wrong_method:
        response = next(responses)
        assert (response["status"], response["upstream"]) == (403, None), response
    for _ in refused:
        response = next(responses)
        assert (response["status"], response["upstream"]) == (404, None), response
    assert next(responses)["upstream"]["method"] == "OPTIONS"
    at_limit, over_limit = next(responses), next(responses)
    assert (at_limit["status"], at_limit["upstream"]["body_bytes"]) == (200, BODY_LIMIT)
    assert (over_limit["status"], over_limit["upstream"]) == (413, None)
    subscribed = next(responses)
    assert subscribed["upstream"]["path"] == "/webhooks/messenger/webhook?" + SECRET_QUERY
    nginx_health = next(responses)
    assert (nginx_health["status"], nginx_health["upstream"]) == (200, None)  # nginx answers itself
    servers = {next(responses)["upstream"]["server"] for _ in spread}
    assert servers == {"127.0.0.2", "127.0.0.3"}

    log = report["access_log"]
    assert '"GET /webhooks/messenger/webhook" 200' in log
    assert "never-logged" not in log and "hub." not in log
