#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh, plus Chromium and axe-core for the browser tests, PostgreSQL
# and Redis for the scale-out tests, nginx for the scale-out benchmark), lints,
# and runs the whole test suite: knowledge integrity, NLU components, actions, `rasa data
# validate`, held-out NLU and conversation tests, end-to-end chats with the real servers, and the
# website widget in a real browser.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS=requirements-dev.txt bash scripts/setup.sh
bash scripts/install_browser_tools.sh
bash scripts/install_stores.sh
bash scripts/install_load_balancer.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
