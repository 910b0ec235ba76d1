"""Mints a short-lived JWT for Rasa's HTTP API (on only when `RASA_API_JWT_SECRET` is set for
scripts/run.sh; channels/api_auth.py refuses tokens without expiry or living longer than
MAX_TOKEN_MINUTES).

    RASA_API_JWT_SECRET=... .venv/bin/python -m scripts.api_token --minutes 15
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5005/status

The token is printed on stdout: HS256-signed with the secret from the environment, claims
`{"user": {"username", "role"}, "iat", "exp"}` (Rasa's roles: "admin" for every route, "user"
for one conversation's routes only, with `--conversation`). Exits with status 2 and a reason if
the secret is missing or too short, or the lifetime is out of range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

import jwt

from channels.api_auth import MAX_TOKEN_MINUTES

SECRET_VARIABLE = "RASA_API_JWT_SECRET"
MIN_SECRET_CHARS = 32  # HS256 wants a key of 256 bits or more
ALGORITHM = "HS256"


def claims(minutes: float, now: float, conversation: Optional[str] = None) -> Dict[str, Any]:
    """The token's claims: an admin, or a `user` limited to `conversation`; times in epoch seconds."""
    if conversation:
        user = {"username": conversation, "role": "user"}
    else:
        user = {"username": "api", "role": "admin"}
    return {"user": user, "iat": int(now), "exp": int(now + minutes * 60)}


def mint(secret: str, minutes: float, conversation: Optional[str] = None) -> str:
    return jwt.encode(claims(minutes, time.time(), conversation), secret, algorithm=ALGORITHM)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15, help=f"lifetime, at most {MAX_TOKEN_MINUTES}")
    parser.add_argument("--conversation", help="a token for this conversation id only (role 'user')")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < MIN_SECRET_CHARS:
        reason = f"Set {SECRET_VARIABLE} (at least {MIN_SECRET_CHARS} characters), as for the server."
        print(reason, file=sys.stderr)
        return 2
    if not 0 < args.minutes <= MAX_TOKEN_MINUTES:
        print(f"--minutes must be more than 0 and at most {MAX_TOKEN_MINUTES}.", file=sys.stderr)
        return 2
    print(mint(secret, args.minutes, args.conversation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
