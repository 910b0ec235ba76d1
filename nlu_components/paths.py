"""Where the project's files live, independent of the working directory.

Paths stored in a trained model (the MiniLM weights) are relative to the project root, so a
model trained in one checkout loads in any other.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_ROOT / ".cache"
MINILM_DIR = CACHE_DIR / "minilm"


def project_path(path: str | Path) -> Path:
    """Resolves a path from the config against the project root (absolute paths pass)."""
    return PROJECT_ROOT / path
