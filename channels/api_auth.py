"""Rasa's HTTP API (`--enable-api`: /status, /conversations/<id>/tracker, /model/parse...) takes
short-lived JWTs only.

`scripts/run.sh` leaves the API off. When it is on, Rasa 3.6 checks a JWT's signature with
sanic-jwt but accepts a token without `exp` (valid forever), with any lifetime, and for 3
minutes past its `exp` (sanic-jwt's leeway); and `--auth-token` is a static `?token=` that ends
up in access logs. Installed by the REST channel when the Rasa server starts (a listener of its
blueprint), this request middleware refuses, on every route outside `/webhooks/`, with 401:

- a `token` query argument (a static token, whatever its value);
- a bearer token without a numeric `exp`, already expired, or expiring more than
  MAX_TOKEN_MINUTES from now;
- any API request when the API is on without a JWT secret (no authentication at all, or only a
  static token).

Tokens it lets through are then checked by Rasa as usual (signature, role). `/` and `/version`
still answer without a token. Mint a token with `python -m scripts.api_token --minutes 15`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Mapping, Optional

import jwt
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

MAX_TOKEN_MINUTES = 60
PUBLIC_PATHS = frozenset({"/", "/version"})  # Rasa's health and version routes
CHANNEL_PREFIX = "/webhooks/"  # the channels: patients' messages, authenticated their own way
API_ROUTE = "status"  # the name of a route of Rasa's that exists only when its API is on


def lifetime_problem(claims: Mapping[str, Any], now: float) -> Optional[str]:
    """Why a token with these (decoded, not yet verified) claims is refused, or None.
    `now` and `exp` in seconds since the epoch."""
    expiry = claims.get("exp")
    if isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or not math.isfinite(expiry):
        return "The token has no expiry ('exp')."
    if expiry <= now:
        return "The token has expired."
    if expiry - now > MAX_TOKEN_MINUTES * 60:
        return f"The token lives longer than {MAX_TOKEN_MINUTES} minutes."
    return None


def bearer_token(request: Request) -> Optional[str]:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def refusal(reason: str) -> HTTPResponse:
    """A 401 in the shape of Rasa's own error responses."""
    body = {"status": "failure", "reason": "NotAuthenticated", "message": reason, "code": 401}
    return response.json(body, status=401)


def check_request(request: Request, uses_jwt: bool, now: float) -> Optional[HTTPResponse]:
    """The 401 for a request the API must refuse (module docstring), or None to go on."""
    if request.path.startswith(CHANNEL_PREFIX) or request.path in PUBLIC_PATHS:
        return None
    if "token" in request.args:
        return refusal("Static tokens are not accepted: send a JWT in 'Authorization: Bearer'.")
    if not uses_jwt:
        return refusal("The HTTP API needs a JWT secret (--jwt-secret).")
    token = bearer_token(request)
    if token is None:
        return None  # Rasa answers 401 itself
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None  # not a JWT: Rasa refuses it
    problem = lifetime_problem(claims, now)
    return refusal(problem) if problem else None


async def _check(request: Request) -> Optional[HTTPResponse]:
    return check_request(request, bool(request.app.config.get("USE_JWT")), time.time())


async def install(app: Sanic, _: Any = None) -> None:
    """A `before_server_start` listener: adds the check when Rasa's API is on (idempotent)."""
    if f"{app.name}.{API_ROUTE}" not in {route.name for route in app.router.routes}:
        return  # API off: its routes answer 404
    if not app.config.get("USE_JWT"):
        logger.warning("The HTTP API is on without a JWT secret: its routes answer 401.")
    app.register_middleware(_check, "request")
