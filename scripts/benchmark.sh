#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the benchmark against the `rasa init` baseline
# and writes results/benchmark/ (report.json, report.md, plots). Pass --quick for a tiny run, and
# --only turn_latency,scale_out for just those steps (merged into the last full report).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS=requirements-dev.txt bash scripts/setup.sh
bash scripts/install_stores.sh         # PostgreSQL and Redis: the scale-out profile
bash scripts/install_load_balancer.sh  # nginx in front of it
.venv/bin/python -m evaluation.benchmark "$@"
