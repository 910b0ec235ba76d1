"""What the deployment files (deploy/) are checked against: the files themselves, read once, and
the routes the Rasa server really serves (its channels from credentials.yml, registered on a
Sanic app the way `rasa run` does, with every messaging channel switched on)."""

from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, Set

import pytest
import yaml

from nlu_components.paths import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yml"
NGINX_CONFIG = DEPLOY / "nginx" / "nginx.conf"
KUBERNETES = DEPLOY / "kubernetes"
SCALE_ENDPOINTS = DEPLOY / "endpoints.scale.yml"
READINESS_PATH = "/webhooks/ready"
LIVENESS_PATH = "/webhooks/rest/"
# ${VAR}, ${VAR:-default}, ${VAR:?error}: what Rasa (plain ${VAR}) and compose expand
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")

# Stand-in secrets that switch every messaging channel on, so that all their routes exist.
CHANNEL_SECRETS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "stand-in",
    "TWILIO_SMS_NUMBER": "+15550001111",
    "TWILIO_WHATSAPP_NUMBER": "+15550002222",
    "TELEGRAM_BOT_TOKEN": "1:stand-in",
    "TELEGRAM_SECRET_TOKEN": "stand-in",
    "MESSENGER_APP_SECRET": "stand-in",
    "MESSENGER_PAGE_ACCESS_TOKEN": "stand-in",
    "MESSENGER_VERIFY_TOKEN": "stand-in",
    "SLACK_SIGNING_SECRET": "stand-in",
    "SLACK_BOT_TOKEN": "xoxb-stand-in",
    "PUBLIC_BASE_URL": "https://chat.clinic.example",
}


def kubernetes_documents() -> List[Dict[str, Any]]:
    """Every manifest in deploy/kubernetes/, in file order, each with `_file` (its file name)."""
    documents = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append({**document, "_file": path.name})
    return documents


def nginx_locations() -> Dict[str, FrozenSet[str]]:
    """The exact-match locations of the nginx config that proxy to the Rasa servers: path ->
    the methods `limit_except` lets through."""
    text = NGINX_CONFIG.read_text()
    found = {}
    for path, body in re.findall(r"location = (\S+) \{(.*?)\n\s*\}", text, flags=re.S):
        if "proxy_pass http://rasa_servers;" in body:
            (methods,) = re.findall(r"limit_except ([A-Z ]+) \{", body)
            found[path] = frozenset(methods.split())
    return found


@pytest.fixture(scope="session")
def served_routes() -> Dict[str, FrozenSet[str]]:
    """Every route the Rasa server's channels serve: "<kind> <path>" -> its methods, where kind is
    `health` (a channel's health check, a handler named `health`), `readiness` (READINESS_PATH)
    or `webhook` (everything else: what patients and platforms call)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CHANNEL_SECRETS.items():
            patch.setenv(name, value)
        from rasa.core import run
        from rasa.core.channels.channel import register
        from sanic import Sanic

        channels = run.create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
        app = Sanic("deploy_served_routes")
        register(channels, app, route="/webhooks/")
    routes: Dict[str, FrozenSet[str]] = {}
    for route in app.router.routes:
        kind = "health" if route.name.endswith(".health") else "webhook"
        path = "/" + route.path
        if path == READINESS_PATH:
            kind = "readiness"
        routes[f"{kind} {path}"] = routes.get(f"{kind} {path}", frozenset()) | frozenset(route.methods)
    return routes


@pytest.fixture(scope="session")
def compose() -> Dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def public_webhooks(routes: Dict[str, FrozenSet[str]]) -> Dict[str, FrozenSet[str]]:
    """The routes patients and platforms call: path -> methods (no health check, no readiness)."""
    return {key.split(" ", 1)[1]: methods for key, methods in routes.items() if key.startswith("webhook ")}


def endpoint_variables() -> Set[str]:
    """The ${VAR}s in the values of deploy/endpoints.scale.yml (not its comments)."""
    found: Set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str):
            found.update(INTERPOLATION.findall(node))

    walk(yaml.safe_load(SCALE_ENDPOINTS.read_text()))
    return found
