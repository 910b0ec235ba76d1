#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then starts on 127.0.0.1 the action server, the Rasa
# server (REST and widget channels, CORS for the clinic's website origins) and a demo clinic page
# with the chat widget. Stops them all on Ctrl+C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS=requirements.txt bash scripts/setup.sh

ACTION_SERVER_PORT=5055  # as in endpoints.yml
RASA_PORT="${RASA_PORT:-5005}"
DEMO_PORT="${DEMO_PORT:-8080}"
read -r -a ORIGINS <<< "$(.venv/bin/python -c 'from actions.clinic import load_clinic; print(*load_clinic().website_origins)')"
# A chat message is small: the Rasa server answers 413 to larger bodies before reading them.
# 256 KB: a platform's longest message (Slack: 40,000 characters, sent twice in an event) still
# arrives, and gets the "too long" reply rather than a silent 413.
# (Only the Rasa server: the action server receives whole conversations, which grow past that.)
REQUEST_MAX_SIZE="${REQUEST_MAX_SIZE:-262144}"

# Rasa's HTTP API (/status, /conversations/<id>/tracker...) is off. RASA_API_JWT_SECRET (32+
# characters) turns it on with JWTs only, each living at most an hour (channels/api_auth.py);
# mint one with `.venv/bin/python -m scripts.api_token --minutes 15`. Never --auth-token: a
# static ?token= ends up in access logs.
API_ARGS=()
if [[ -n "${RASA_API_JWT_SECRET:-}" ]]; then
  if (( ${#RASA_API_JWT_SECRET} < 32 )); then
    echo "RASA_API_JWT_SECRET must have at least 32 characters (e.g. openssl rand -hex 32)." >&2
    exit 1
  fi
  API_ARGS=(--enable-api --jwt-secret "$RASA_API_JWT_SECRET" --jwt-method HS256)
fi

mkdir -p state  # conversations (endpoints.yml) and the channels' state, kept across restarts
SANIC_HOST=127.0.0.1 .venv/bin/python -m rasa_sdk --actions actions --port "$ACTION_SERVER_PORT" &
ACTIONS_PID=$!
.venv/bin/python -m scripts.serve_demo --port "$DEMO_PORT" --assistant "http://127.0.0.1:$RASA_PORT" &
DEMO_PID=$!
trap 'kill "$ACTIONS_PID" "$DEMO_PID" 2>/dev/null || true' EXIT

cat <<MSG

The assistant starts on http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook (ready in ~20 s).
Demo clinic page with the chat widget: http://127.0.0.1:$DEMO_PORT/  (allowed origins: ${ORIGINS[*]})
Chat from another terminal:   .venv/bin/python -m scripts.chat --port $RASA_PORT
Or with curl:  curl -s -X POST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
                 -H 'Content-Type: application/json' -d '{"sender": "$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')", "message": "what is kyphoplasty?"}'

MSG
SANIC_REQUEST_MAX_SIZE="$REQUEST_MAX_SIZE" .venv/bin/rasa run --interface 127.0.0.1 --port "$RASA_PORT" --model models/kyphoplasty.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml --cors "${ORIGINS[@]}" "${API_ARGS[@]}"
