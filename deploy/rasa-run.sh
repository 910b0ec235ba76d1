#!/bin/sh
# Starts the Rasa server inside its container (deploy/rasa.Dockerfile): the command of
# scripts/run.sh, with the scale-out profile's endpoints (ENDPOINTS, default
# deploy/endpoints.scale.yml: PostgreSQL tracker store, Redis lock store, all read from the
# environment) and listening on every interface of the container, which only the load balancer
# (compose) or the Service (Kubernetes) reaches. Rasa's HTTP API stays off (no --enable-api).
set -eu
set -f  # the origins are split on spaces, never globbed

# The clinic's website origins (clinic.yml: website_origins) may call the assistant (CORS).
ORIGINS="$(python -c 'from actions.clinic import load_clinic; print(*load_clinic().website_origins)')"
# Request bodies over this many bytes get 413 before they are read (as in scripts/run.sh).
SANIC_REQUEST_MAX_SIZE="${REQUEST_MAX_SIZE:-262144}"
export SANIC_REQUEST_MAX_SIZE

# shellcheck disable=SC2086  # one argument per origin
exec rasa run --interface 0.0.0.0 --port 5005 --model "${RASA_MODEL:-models/kyphoplasty.tar.gz}" \
  --credentials credentials.yml --endpoints "${ENDPOINTS:-deploy/endpoints.scale.yml}" --cors $ORIGINS
