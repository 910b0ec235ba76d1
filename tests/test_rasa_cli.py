"""Rasa's own checks: data validation, the held-out NLU file, and the conversation tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

from evaluation.benchmark import UNCOVERED
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH

RASA = str(Path(sys.executable).with_name("rasa"))
HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
CONVERSATIONS = PROJECT_ROOT / "tests" / "conversations.yml"
MIN_HELDOUT_ACCURACY = 0.93


def rasa(*arguments: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    # The project's custom components must be importable wherever Rasa runs.
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([RASA, *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_training_data_validates_without_warnings() -> None:
    finished = rasa("data", "validate", "--fail-on-warnings")
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "UserWarning" not in finished.stdout + finished.stderr


def test_heldout_nlu_file_with_the_model_loaded_from_another_directory(tmp_path: Path) -> None:
    # Run from tmp_path: the MiniLM weights path stored in the model must not depend on the cwd.
    out = ["--out", str(tmp_path), "--successes"]
    finished = rasa("test", "nlu", "--nlu", str(HELDOUT), "--model", str(MODEL_PATH), *out, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    assert report["red_flag"]["recall"] == 1.0
    # One topic the article does not cover taken for another still declines honestly.
    errors = json.loads((tmp_path / "intent_errors.json").read_text())
    successes = json.loads((tmp_path / "intent_successes.json").read_text())
    wrong = [e for e in errors if not {e["intent"], e["intent_prediction"]["name"]} <= UNCOVERED]
    assert 1 - len(wrong) / (len(errors) + len(successes)) >= MIN_HELDOUT_ACCURACY, wrong


def test_conversations(tmp_path: Path) -> None:
    finished = rasa(
        "test",
        "core",
        "--stories",
        str(CONVERSATIONS),
        "--model",
        str(MODEL_PATH),
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
    )
    failed: List[str] = []
    failed_stories = tmp_path / "failed_test_stories.yml"
    if failed_stories.is_file():
        failed.append(failed_stories.read_text())
    assert finished.returncode == 0, "\n".join(failed) + finished.stderr[-3000:]
