#!/usr/bin/env bash
# Installs the stores of the scale-out profile, for its tests and benchmark: Debian's PostgreSQL
# (tracker store) and Redis (lock store). Each is installed only when missing; the servers are
# not started here (evaluation/local_stores.py starts throwaway ones on loopback spare ports).
set -euo pipefail

missing=()
# Debian puts the PostgreSQL server binaries in /usr/lib/postgresql/<version>/bin, not on PATH.
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> Installing ${missing[*]} (Debian packages)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
