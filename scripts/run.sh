#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then starts the action server and the Rasa server with
# the REST channel on 127.0.0.1. Stops both on Ctrl+C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS=requirements.txt bash scripts/setup.sh

ACTION_SERVER_PORT=5055  # as in endpoints.yml
RASA_PORT="${RASA_PORT:-5005}"
# A chat message is small; Sanic answers 413 to larger bodies before Rasa reads them.
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-65536}"

SANIC_HOST=127.0.0.1 .venv/bin/python -m rasa_sdk --actions actions --port "$ACTION_SERVER_PORT" &
ACTIONS_PID=$!
trap 'kill "$ACTIONS_PID" 2>/dev/null || true' EXIT

cat <<MSG

The assistant starts on http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook (ready in ~20 s).
Chat from another terminal:   .venv/bin/python -m scripts.chat --port $RASA_PORT
Or with curl:  curl -s -X POST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
                 -H 'Content-Type: application/json' -d '{"sender": "me", "message": "what is kyphoplasty?"}'

MSG
.venv/bin/rasa run --interface 127.0.0.1 --port "$RASA_PORT" --model models/kyphoplasty.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml
