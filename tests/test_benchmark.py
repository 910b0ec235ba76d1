"""The benchmark command cannot rot: a quick run must produce a complete report (timings unchecked),
including the deployment steps (latency by conversation length, one against two Rasa servers)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any, Dict

import pytest
import requests
import yaml

from evaluation import benchmark
from evaluation.load_balancer import PROXY_SETTINGS, SERVER_OPTIONS, UPSTREAM_SETTINGS, running_load_balancer
from evaluation.scale_load import ScaleSettings
from evaluation.servers import ATOMIC_REDIS_LOCK_STORE
from evaluation.turn_latency import CONFIGURATIONS, RETURNED, WINDOW, TurnSettings
from nlu_components.paths import PROJECT_ROOT

EXPECTED_FIGURES = {
    "training_s",
    "model_mb",
    "intent_accuracy",
    "intent_macro_f1",
    "uncovered_declined",
    "covered_wrongly_declined",
    "red_flag_recall",
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
CROSS_VALIDATION_FIGURES = {"cv_intent_accuracy", "cv_intent_macro_f1"}


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
    quick = benchmark.Settings.of(quick=True)
    # Quick runs cross-validate the assistant only (the baseline's is the same code).
    assert report["settings"]["cv_variants"] == list(quick.cv_variants) == ["assistant"]
    for variant in ("assistant", "baseline"):
        figures = report["figures"][variant]
        assert set(figures) >= EXPECTED_FIGURES
        cross_validated = set(figures) >= CROSS_VALIDATION_FIGURES
        assert cross_validated == (variant in quick.cv_variants)
        assert [level["concurrency"] for level in report["details"][variant]["load"]] == [1, 10, 50]
        assert all(level["messages"] > 0 for level in report["details"][variant]["load"])
    # The cross-validation, a step of its own, is reported where it was: before the servers' figures.
    order = list(report["figures"]["assistant"])
    assert order.index("cv_intent_macro_f1") + 1 == order.index("start_to_first_answer_s")
    assert set(report["ratios"]) == set(report["figures"]["assistant"])
    costs = {"nlu_components_p50_ms", "nlu_components_p95_ms", "action_checks_p50_ms", "action_checks_p95_ms"}
    assert costs <= set(report["figures"]["assistant"])
    peer = {"threshold", "answered_right", "answered_wrong", "emergency_recall"}
    assert set(report["retrieval_peer"]) >= peer
    assert "retrieval peer" in (tmp_path / "report.md").read_text()
    assert "| figure | assistant |" in (tmp_path / "report.md").read_text()
    for picture in ("latency_and_load.png", "confusion_assistant.png", "confusion_baseline.png"):
        assert (tmp_path / picture).stat().st_size > 1000
    assert_turn_latency_shape(report["turn_latency"], TurnSettings.of(quick=True))
    assert_scale_out_shape(report["scale_out"], ScaleSettings.of(quick=True))
    markdown = (tmp_path / "report.md").read_text()
    assert "| 14 |" in markdown and "One Rasa server against two behind nginx" in markdown


def assert_turn_latency_shape(turns: Dict[str, Any], settings: TurnSettings) -> None:
    """Every mark of both action endpoint settings has its p50/p95 over a full window of replies."""
    assert turns["marks"] == list(settings.marks)
    assert set(turns["configurations"]) == set(CONFIGURATIONS)
    for marks in turns["configurations"].values():
        assert set(marks) == {f"turn_{mark}" for mark in settings.marks} | {RETURNED}
        for figures in marks.values():
            assert figures["samples"] == settings.conversations * WINDOW
            assert 0 < figures["p50_ms"] <= figures["p95_ms"]
    sizes = turns["action_call_kb"]
    # The tracker posted to the action server grows with the conversation; the domain does not.
    trackers = [sizes[f"tracker_turn_{mark}"] for mark in settings.marks]
    assert trackers == sorted(trackers) and trackers[0] < trackers[-1]
    assert sizes["domain"] > 0


def assert_scale_out_shape(scale: Dict[str, Any], settings: ScaleSettings) -> None:
    """One and two Rasa servers at each level, every message answered, the CPU accounted."""
    levels = [(users, servers) for users in settings.concurrency for servers in (1, 2)]
    assert [(level["users"], level["rasa_servers"]) for level in scale["levels"]] == levels
    assert len(scale["runs"]) == settings.repeats * len(levels)
    for run in scale["levels"] + scale["runs"]:
        assert run["messages"] > 0 and run["failures"] == 0
        assert 0 < run["p50_ms"] <= run["p95_ms"]
        assert run["cpu_ms_per_message"]["rasa"] > 0 and run["cores_busy"]["rasa"] > 0
    assert set(scale["two_over_one"]) == {str(users) for users in settings.concurrency}
    assert scale["profile"]["lock_store"] == ATOMIC_REDIS_LOCK_STORE


def test_the_load_balancer_has_the_production_settings() -> None:
    """The benchmark's nginx balances as deploy/nginx/nginx.conf does, and nginx accepts it."""
    production = " ".join((PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf").read_text().split())
    for setting in (*UPSTREAM_SETTINGS, *PROXY_SETTINGS):
        assert setting in production
    assert f"server rasa-1:5005 {SERVER_OPTIONS};" in production
    with running_load_balancer({"one": ["127.0.0.1:9"], "two": ["127.0.0.1:9", "127.0.0.1:10"]}) as balancer:
        configuration = (balancer.folder / "nginx.conf").read_text()
        assert configuration.count(f"server 127.0.0.1:9 {SERVER_OPTIONS};") == 2
        # Nothing listens behind it: nginx answers 502 itself.
        assert requests.get(f"{balancer.urls['two']}/webhooks/rest/", timeout=10).status_code == 502


def test_a_run_of_some_steps_keeps_the_other_figures_of_the_last_full_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = {
        "date": "old",
        "figures": {"a": 1},
        "turn_latency": {"date": "old"},
        "scale_out": {"date": "old"},
    }
    monkeypatch.setattr(benchmark, "LATEST_REPORT", tmp_path / "latest.json")
    (tmp_path / "latest.json").write_text(json.dumps(latest))
    partial = {"date": "new", "settings": {"quick": False}, "scale_out": {"date": "new"}}
    assert benchmark.with_latest(partial, ("scale_out",)) == {**latest, "scale_out": {"date": "new"}}
    full = {"date": "new", "figures": {"a": 2}}
    assert benchmark.with_latest(full, ("variants",)) == {
        "turn_latency": {"date": "old"},
        "scale_out": {"date": "old"},
        **full,
    }
    assert benchmark.steps_of("turn_latency, scale_out") == ("turn_latency", "scale_out")
    with pytest.raises(argparse.ArgumentTypeError):
        benchmark.steps_of("turn_latency,everything")


def test_quick_runs_train_on_a_sample_with_every_intent_and_the_stories(tmp_path: Path) -> None:
    """The quick variants' `--data`: every intent of data/nlu (a tenth of its examples, at least 4),
    and the rules and stories whole; full runs train on data/ as it is."""
    assert benchmark.training_data(benchmark.Settings.of(quick=False), tmp_path) is None
    data = benchmark.training_data(benchmark.Settings.of(quick=True), tmp_path)
    assert data is not None
    sample, *stories_and_rules = data
    assert {path.name for path in stories_and_rules} == {"rules.yml", "stories.yml"}
    full = benchmark.nlu_sample(1, tmp_path / "full")

    def counts(path: Path) -> Dict[str, int]:
        items = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
        return {item["intent"]: len(item["examples"].splitlines()) for item in items}

    sampled, whole = counts(sample), counts(full)
    assert set(sampled) == set(whole)
    assert all(min(4, whole[intent]) <= sampled[intent] <= whole[intent] for intent in whole)
    assert sum(sampled.values()) < sum(whole.values()) / 5


def test_steps_in_two_lanes_run_at_once_and_come_back_in_order() -> None:
    started = threading.Barrier(2, timeout=10)  # both first steps must be under way together

    def step(name: str) -> str:
        if name in ("a", "b"):
            started.wait()
        return name.upper()

    tasks = {name: partial(step, name) for name in ("a", "b", "c")}
    assert list(benchmark.run_steps(tasks, lanes=2).items()) == [("a", "A"), ("b", "B"), ("c", "C")]
    assert benchmark.run_steps({"c": partial(step, "c")}, lanes=1) == {"c": "C"}

    def failing() -> str:
        raise ValueError("step failed")

    with pytest.raises(ValueError, match="step failed"):
        benchmark.run_steps({"fails": failing, "c": partial(step, "c")}, lanes=2)
