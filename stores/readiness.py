"""The readiness endpoint, `GET /webhooks/ready`, for the load balancer and Kubernetes.

Rasa adds HTTP routes only through input channels, so this is one (credentials.yml:
`stores.readiness.ReadinessProbe:`); it receives no messages. It queries the Rasa server's own
tracker store and lock store (stores/checks.py: `SELECT 1`, `PING`), both at once, each within
`READINESS_TIMEOUT_S` seconds (default 2), and answers:

- 200 `{"status": "ready", "model": "loaded", "tracker_store": {"kind": "PostgreSQL", "status":
  "up"}, "lock_store": {"kind": "Redis", "status": "up"}}`;
- 503 `{"status": "not ready", "down": ["lock store"], ..., "lock_store": {"kind": "Redis",
  "status": "down", "error": "ConnectionError"}}` when a store does not answer (or no model is
  loaded: `"model": "not loaded"`).

No address or credential is shown (the endpoint is not authenticated); the server logs a WARNING
with the store's address when it goes down and an INFO line when it is back. The REST channel's
`GET /webhooks/rest/` stays the liveness check: it answers as long as the process serves HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import stores.tracker_store  # noqa: F401  (installs the no-fallback tracker store and the start-up checks)
from stores.checks import DEFAULT_TIMEOUT_S, LOCK_STORE, TRACKER_STORE, StoreCheck, check

logger = logging.getLogger(__name__)


def timeout_s() -> float:
    """Seconds each store may take to answer: `READINESS_TIMEOUT_S`, default 2."""
    return float(os.environ.get("READINESS_TIMEOUT_S", DEFAULT_TIMEOUT_S))


class ReadinessProbe(InputChannel):
    """`GET /webhooks/ready`: 200 when the tracker store and the lock store answer, else 503."""

    def __init__(self) -> None:
        self._was_up: Dict[str, bool] = {}  # role -> last answer, to log changes only

    @classmethod
    def name(cls) -> str:
        return "ready"

    async def readiness(self, agent: Any) -> Dict[str, Any]:
        """The JSON body; `status` is "ready" or "not ready"."""
        if agent is None:
            return {"status": "not ready", "model": "not loaded"}
        results = await asyncio.gather(
            check(TRACKER_STORE, agent.tracker_store, timeout_s()),
            check(LOCK_STORE, agent.lock_store, timeout_s()),
        )
        for result in results:
            self._log_change(result)
        model_loaded = agent.is_ready()
        down = [result.role for result in results if not result.up]
        body: Dict[str, Any] = {"status": "ready" if model_loaded and not down else "not ready"}
        if down:
            body["down"] = down
        body["model"] = "loaded" if model_loaded else "not loaded"
        body.update({result.role.replace(" ", "_"): result.as_json() for result in results})
        return body

    def _log_change(self, result: StoreCheck) -> None:
        was_up = self._was_up.get(result.role, True)
        if was_up and not result.up:
            logger.warning("readiness: %s does not answer (%s)", result.describe(), result.error)
        elif result.up and not was_up:
            logger.info("readiness: %s answers again", result.describe())
        self._was_up[result.role] = result.up

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        probe = Blueprint(f"{self.name()}_probe", __name__)

        @probe.route("", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            body = await self.readiness(getattr(request.app.ctx, "agent", None))
            return response.json(body, status=200 if body["status"] == "ready" else 503)

        return probe
