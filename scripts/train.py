"""Trains the model when its inputs changed since the last training, else does nothing.

Rasa's own change detection ignores custom component code and the spaCy pipeline; this
fingerprint covers everything a trained model depends on.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from nlu_components.paths import CACHE_DIR, PROJECT_ROOT

MODEL_NAME = "kyphoplasty"
MODELS_DIR = PROJECT_ROOT / "models"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
STAMP = MODELS_DIR / f"{MODEL_NAME}.inputs.sha256"


def training_inputs() -> Iterable[Path]:
    yield from (PROJECT_ROOT / name for name in ("config.yml", "domain.yml", "requirements.txt"))
    yield CACHE_DIR / "spacy" / "inputs.sha256"
    for folder in ("data", "nlu_components"):
        yield from sorted(
            p for p in (PROJECT_ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in training_inputs():
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    current = fingerprint()
    if MODEL_PATH.is_file() and STAMP.is_file() and STAMP.read_text() == current:
        print(f"Model {MODEL_PATH.relative_to(PROJECT_ROOT)} is up to date")
        return
    rasa = Path(sys.executable).with_name("rasa")
    # Rasa's training cache ignores component code too and could restore stale features:
    # this only runs when an input changed, so train from scratch.
    env = {**os.environ, "RASA_MAX_CACHE_SIZE": "0"}
    subprocess.run(
        [str(rasa), "train", "--fixed-model-name", MODEL_NAME, "--out", str(MODELS_DIR)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
    )
    STAMP.write_text(current)


if __name__ == "__main__":
    main()
