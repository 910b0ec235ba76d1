#!/usr/bin/env bash
# Sets up everything the assistant needs, idempotently: a Python 3.10 venv with the pinned
# dependencies, the MiniLM weights, the project's spaCy pipeline and a trained model.
# Each step is skipped when its inputs have not changed since it last ran.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
REQUIREMENTS="${REQUIREMENTS:-requirements-dev.txt}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

find_python() {
  # Rasa 3.6 supports Python 3.8-3.10 and the language detector (lingua) needs 3.10: 3.10 it is.
  # A pyenv shim exists for every installed version but fails unless selected, hence the trial run.
  local version found
  for version in 3.10; do
    if "python$version" -c 'import venv' >/dev/null 2>&1; then
      command -v "python$version"
      return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
      found="$(ls -d "$(pyenv root)/versions/$version".*/bin/"python$version" 2>/dev/null | sort -V | tail -n 1)"
      if [ -n "$found" ]; then
        echo "$found"
        return 0
      fi
    fi
  done
  return 1
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="$(find_python)" || {
    echo "ERROR: this project needs Python 3.10 (Rasa 3.6 runs on 3.8-3.10, lingua on 3.10+), and none was found." >&2
    echo "Install one (for example 'pyenv install 3.10.13') and run this again." >&2
    exit 1
  }
  say "Creating the virtual environment with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

REQ_HASH="$(hash_of requirements.txt "$REQUIREMENTS")"
DEV_HASH="$(hash_of requirements.txt requirements-dev.txt)"  # the dev set includes the runtime set
INSTALLED="$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)"
if [ "$INSTALLED" != "$REQ_HASH" ] && [ "$INSTALLED" != "$DEV_HASH" ]; then
  say "Installing pinned dependencies ($REQUIREMENTS)"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip==24.0" 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQUIREMENTS" 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip check
  echo "$REQ_HASH" > "$VENV/.requirements.sha256"
fi

say "Fetching and checking the MiniLM weights"
"$VENV/bin/python" -m scripts.fetch_minilm

say "Building the spaCy pipeline"
"$VENV/bin/python" -m spacy_pipeline.build

say "Training the model (skipped when nothing changed)"
"$VENV/bin/python" -m scripts.train
