#!/usr/bin/env bash
# Installs the load balancer of the scale-out benchmark and tests, Debian's nginx, when it is
# missing (not started here: evaluation/load_balancer.py starts one on loopback spare ports).
set -euo pipefail

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "==> Installing nginx (Debian package)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
