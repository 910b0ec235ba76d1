#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the benchmark against the `rasa init` baseline
# and writes results/benchmark/ (report.json, report.md, plots). Pass --quick for a tiny run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS=requirements-dev.txt bash scripts/setup.sh
.venv/bin/python -m evaluation.benchmark "$@"
