"""Rasa's HTTP API is off by default; when on, it takes short-lived JWTs only
(channels/api_auth.py, scripts/api_token.py, scripts/run.sh)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import jwt
import pytest
import requests
from sanic import Sanic
from sanic.compat import Header
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from channels.api_auth import MAX_TOKEN_MINUTES, check_request, install, lifetime_problem
from evaluation.servers import Assistant, free_port, wait_until_up
from nlu_components.paths import PROJECT_ROOT
from scripts.api_token import MIN_SECRET_CHARS, claims
from scripts.train import MODEL_PATH

SECRET = "test-api-secret-" + "0" * 32  # made up, for the tests only
ADMIN = {"user": {"username": "api", "role": "admin"}}
NOW = 1_800_000_000.0
API_TEST_APP = f"api_auth_test_{uuid.uuid4().hex}"
Sanic(API_TEST_APP)  # requests need an app


@dataclass
class Launched:
    process: subprocess.Popen
    url: str
    log: Path


@pytest.fixture(scope="module", autouse=True)
def api_server_launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """A Rasa server with the API on as scripts/run.sh turns it on (the session's servers have it
    off), launched when this module starts so that it loads while the first tests run; no action
    server; conversations in a SQLite file of its own."""
    folder: Path = tmp_path_factory.mktemp("api_server")
    port = free_port()
    (folder / "endpoints.yml").write_text(
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {folder / 'conversations.db'}\n"
    )
    env = {**os.environ, "CHANNEL_STATE_URL": f"sqlite:///{folder / 'channel_state.db'}"}
    command = [str(Path(sys.executable).with_name("rasa")), "run", "--interface", "127.0.0.1",
               "--port", str(port), "--model", str(MODEL_PATH), "--credentials", "credentials.yml",
               "--endpoints", str(folder / "endpoints.yml"),
               "--enable-api", "--jwt-secret", SECRET, "--jwt-method", "HS256"]  # fmt: skip
    log = folder / "rasa.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield Launched(process, f"http://127.0.0.1:{port}", log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def api_server(api_server_launch: Launched) -> str:
    """The URL of the API server, once it answers."""
    wait_until_up(f"{api_server_launch.url}/", [api_server_launch.process], [api_server_launch.log])
    return api_server_launch.url


@pytest.mark.parametrize(
    "claims_, problem",
    [
        ({"exp": NOW + 900}, None),
        ({"exp": NOW + MAX_TOKEN_MINUTES * 60}, None),
        ({}, "no expiry"),
        ({"exp": "tomorrow"}, "no expiry"),
        ({"exp": True}, "no expiry"),
        ({"exp": float("nan")}, "no expiry"),
        ({"exp": NOW - 1}, "expired"),
        ({"exp": NOW + MAX_TOKEN_MINUTES * 60 + 1}, "longer than"),
    ],
)
def test_a_token_must_expire_within_the_hour(claims_: Dict[str, Any], problem: Optional[str]) -> None:
    found = lifetime_problem(claims_, NOW)
    assert found is None if problem is None else problem in (found or "")


def request_to(app: Sanic, target: str, headers: Optional[Dict[str, str]] = None) -> Request:
    return Request(target.encode(), Header(headers or {}), "1.1", "GET", None, app)


def test_the_check_is_installed_only_when_the_api_is_on() -> None:
    with_api, without_api = Sanic(f"api_{uuid.uuid4().hex}"), Sanic(f"no_api_{uuid.uuid4().hex}")

    @with_api.get("/status")
    async def status(_: Request) -> HTTPResponse:  # as Rasa's API names it
        return json_response({})

    for app in (with_api, without_api):
        asyncio.run(install(app))
        asyncio.run(install(app))  # one check, however many channels install it
    assert len(with_api.request_middleware) == 1 and not without_api.request_middleware


@pytest.mark.parametrize(
    "target, headers, uses_jwt, refused",
    [
        ("/status", {}, False, True),  # the API on without a JWT secret
        ("/conversations/abc/tracker?token=static", {}, False, True),
        ("/status?token=static", {}, True, True),
        ("/status", {"Authorization": f"Bearer {jwt.encode(ADMIN, 'x' * 32)}"}, True, True),
        (
            "/status",
            {"Authorization": f"Bearer {jwt.encode({**ADMIN, 'exp': NOW + 60}, 'x' * 32)}"},
            True,
            False,
        ),
        ("/status", {}, True, False),  # Rasa refuses it itself
        ("/", {}, False, False),
        ("/version?token=static", {}, False, False),
        ("/webhooks/rest/webhook?token=static", {}, False, False),
    ],
)
def test_what_the_check_refuses(target: str, headers: Dict[str, str], uses_jwt: bool, refused: bool) -> None:
    answer = check_request(request_to(Sanic.get_app(API_TEST_APP), target, headers), uses_jwt, NOW)
    assert (answer is not None and answer.status == 401) is refused


def token(secret: str = SECRET, **changes: Any) -> str:
    """An admin token living 10 minutes, with `changes` to its claims (None removes a claim)."""
    claims_ = {**ADMIN, "iat": int(time.time()), "exp": int(time.time()) + 600, **changes}
    return jwt.encode({k: v for k, v in claims_.items() if v is not None}, secret, algorithm="HS256")


def mint(*args: str, secret: Optional[str] = SECRET) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RASA_API_JWT_SECRET"}
    if secret is not None:
        env["RASA_API_JWT_SECRET"] = secret
    command = [sys.executable, "-m", "scripts.api_token", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_token_command_mints_a_short_lived_admin_token() -> None:
    minted = mint("--minutes", "15")
    assert minted.returncode == 0, minted.stderr
    decoded = jwt.decode(minted.stdout.strip(), SECRET, algorithms=["HS256"])
    assert decoded["user"] == ADMIN["user"]
    assert decoded["exp"] - decoded["iat"] == 15 * 60 and abs(decoded["iat"] - time.time()) < 60
    assert claims(5, NOW, "a" * 32) == {
        "user": {"username": "a" * 32, "role": "user"},
        "iat": NOW,
        "exp": NOW + 300,
    }


@pytest.mark.parametrize(
    "args, secret, reason",
    [
        (["--minutes", "15"], None, "Set RASA_API_JWT_SECRET"),
        (["--minutes", "15"], "x" * (MIN_SECRET_CHARS - 1), "at least 32 characters"),
        (["--minutes", str(MAX_TOKEN_MINUTES + 1)], SECRET, "--minutes must be"),
        (["--minutes", "0"], SECRET, "--minutes must be"),
    ],
)
def test_the_token_command_refuses_a_missing_secret_or_a_long_life(
    args: list, secret: Optional[str], reason: str
) -> None:
    minted = mint(*args, secret=secret)
    assert (minted.returncode, minted.stdout) == (2, "") and reason in minted.stderr


def api_arguments(secret: Optional[str]) -> subprocess.CompletedProcess:
    """The API arguments scripts/run.sh gives `rasa run`, from its own lines, with this secret."""
    script = (PROJECT_ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    block = re.search(r"^API_ARGS=\(\)\n.*?^fi\n", script, re.MULTILINE | re.DOTALL)
    assert block is not None
    env = {"PATH": os.environ["PATH"], **({"RASA_API_JWT_SECRET": secret} if secret is not None else {})}
    program = f'set -euo pipefail\n{block[0]}printf "%s\\n" "${{API_ARGS[@]}}"'
    return subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30)


def test_the_run_command_turns_the_api_on_only_with_a_jwt_secret() -> None:
    script = (PROJECT_ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    commands = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if "--auth-token" in line]
    assert re.search(r'rasa run .*\n.*"\$\{API_ARGS\[@\]\}"\n?$', script)
    assert api_arguments(None).stdout.split() == []
    assert api_arguments(SECRET).stdout.split() == [
        "--enable-api",
        "--jwt-secret",
        SECRET,
        "--jwt-method",
        "HS256",
    ]
    short = api_arguments("too-short")
    assert short.returncode == 1 and "at least 32 characters" in short.stderr


@pytest.mark.parametrize("method, path", [("GET", "/status"), ("GET", "/conversations/{id}/tracker"),
                                          ("POST", "/model/parse"), ("GET", "/domain")])  # fmt: skip
def test_the_api_is_off_by_default(assistant: Assistant, method: str, path: str) -> None:
    url = assistant.base_url + path.format(id=uuid.uuid4().hex)
    for headers in ({}, {"Authorization": f"Bearer {token()}"}):
        assert (
            requests.request(method, url, headers=headers, json={"text": "hi"}, timeout=10).status_code == 404
        )


def status(server: str, headers: Optional[Dict[str, str]] = None, **params: str) -> requests.Response:
    return requests.get(f"{server}/status", headers=headers or {}, params=params, timeout=10)


def bearer(value: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_with_the_api_on_only_a_short_lived_jwt_gets_in(api_server: str) -> None:
    refused = {
        "no token": status(api_server),
        "?token=": status(api_server, token="a-static-token"),
        "?token= with a valid JWT": status(api_server, token=token()),
        "expired a minute ago (Rasa's leeway: 3)": status(
            api_server, bearer(token(exp=int(time.time()) - 60))
        ),
        "no exp": status(api_server, bearer(token(exp=None))),
        "a day long": status(api_server, bearer(token(exp=int(time.time()) + 86400))),
        "another secret": status(api_server, bearer(token("another-secret-" + "1" * 32))),
        "not a JWT": status(api_server, bearer("not-a-jwt")),
    }
    assert {name: r.status_code for name, r in refused.items()} == {name: 401 for name in refused}
    minted = mint("--minutes", "15").stdout.strip()
    accepted = status(api_server, bearer(minted))
    assert accepted.status_code == 200 and accepted.json()["model_file"]


def test_with_the_api_on_a_user_token_reads_its_own_conversation_only(api_server: str) -> None:
    own, other = uuid.uuid4().hex, uuid.uuid4().hex
    user_token = mint("--minutes", "5", "--conversation", own).stdout.strip()
    tracker = f"{api_server}/conversations/{{}}/tracker"
    assert requests.get(tracker.format(own), headers=bearer(user_token), timeout=10).status_code == 200
    assert requests.get(tracker.format(other), headers=bearer(user_token), timeout=10).status_code == 403


def test_with_the_api_on_the_channels_and_health_need_no_token(api_server: str) -> None:
    assert requests.get(f"{api_server}/", timeout=10).status_code == 200
    assert requests.get(f"{api_server}/webhooks/rest/", timeout=10).json() == {"status": "ok"}
