#!/usr/bin/env bash
# Installs what the widget's browser tests need: Debian's Chromium (Playwright's own browser
# download does not work here) and axe-core from npm (tests/browser/package-lock.json).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> Installing Chromium (Debian package)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

LOCK="$ROOT/tests/browser/package-lock.json"
STAMP="$ROOT/tests/browser/node_modules/.lock.sha256"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$(sha256sum "$LOCK" | cut -d' ' -f1)" ]; then
  echo "==> Installing axe-core (npm ci)"
  npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund --silent
  sha256sum "$LOCK" | cut -d' ' -f1 > "$STAMP"
fi
