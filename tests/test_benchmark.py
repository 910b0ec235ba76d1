"""The benchmark command cannot rot: a quick run must produce a complete report (timings unchecked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nlu_components.paths import PROJECT_ROOT

EXPECTED_FIGURES = {
    "training_s",
    "model_mb",
    "intent_accuracy",
    "intent_macro_f1",
    "uncovered_declined",
    "covered_wrongly_declined",
    "red_flag_recall",
    "cv_intent_accuracy",
    "cv_intent_macro_f1",
    "start_to_first_answer_s",
    "server_rss_mb",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "load_1_throughput_per_s",
    "load_10_p95_ms",
    "load_50_errors",
    "heldout_answered_right",
    "heldout_answered_wrong",
    "heldout_uncovered_declined_honestly",
    "heldout_did_you_mean",
    "heldout_emergency_recall",
    "red_flags_final_emergency_recall",
    "red_flags_final_lookalike_false_alarms",
}


def test_quick_benchmark_writes_a_complete_report(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "evaluation.benchmark", "--quick", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    for variant in ("assistant", "baseline"):
        figures = report["figures"][variant]
        assert set(figures) >= EXPECTED_FIGURES
        assert [level["concurrency"] for level in report["details"][variant]["load"]] == [1, 10, 50]
        assert all(level["messages"] > 0 for level in report["details"][variant]["load"])
    assert set(report["ratios"]) == set(report["figures"]["assistant"])
    assert {"nlu_components_p50_ms", "nlu_components_p95_ms"} <= set(report["figures"]["assistant"])
    peer = {"threshold", "answered_right", "answered_wrong", "emergency_recall"}
    assert set(report["retrieval_peer"]) >= peer
    assert "retrieval peer" in (tmp_path / "report.md").read_text()
    assert "| figure | assistant |" in (tmp_path / "report.md").read_text()
    for picture in ("latency_and_load.png", "confusion_assistant.png", "confusion_baseline.png"):
        assert (tmp_path / picture).stat().st_size > 1000
