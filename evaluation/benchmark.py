"""The benchmark: answer quality, latency, load, cost, side by side with the `rasa init` baseline.

    bash scripts/benchmark.sh            # full run (~3 h on 2 cores; the baseline is the slow part)
    bash scripts/benchmark.sh --quick    # the same steps, tiny: 2 epochs on a tenth of the NLU
                                         # data, 2 s of load, two steps at a time (CI)
    bash scripts/benchmark.sh --only turn_latency,scale_out   # just these (~25 min), merged into
                                         # the last full report and the README

Both variants are trained from scratch on the same data and served with the same domain,
actions and channels, and measured the same way in one run; every figure of the assistant is
also given as a ratio to the baseline's. Writes results/benchmark/report.json, report.md and
PNG plots. Timings are reported, never asserted.

Two steps measure the deployment rather than the model, on the assistant only: latency by
conversation length (evaluation/turn_latency.py) and one Rasa server against two behind nginx
(evaluation/scale_load.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml
from tqdm import tqdm

from actions.knowledge import load_knowledge
from evaluation.component_cost import measure as component_cost
from evaluation.dialogue_cases import Case, evaluate, load_cases, summary, widget_chat
from evaluation.load import percentile
from evaluation.patient_questions import SETS as PATIENT_QUESTIONS
from evaluation.patient_questions import by_tag, figures
from evaluation.red_flag_sets import judge_red_flags
from evaluation.retrieval_peer import RetrievalPeer, evidence_by_answer, tune_threshold
from evaluation.retrieval_peer import judge as judge_peer
from evaluation.scale_load import ScaleSettings
from evaluation.scale_load import measure as scale_load
from evaluation.servers import running_assistant
from evaluation.turn_latency import RETURNED, TurnSettings
from evaluation.turn_latency import measure as turn_latency
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH

RASA = str(Path(sys.executable).with_name("rasa"))
HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
DIALOGUES = PROJECT_ROOT / "tests" / "dialogues" / "dev_cases.yml"
RED_FLAGS_FINAL = PROJECT_ROOT / "tests" / "red_flags" / "final.yml"
# A full run's report is kept here and its tables go into the README between these markers.
LATEST_REPORT = PROJECT_ROOT / "evaluation" / "reports" / "latest.json"
README_PATH = PROJECT_ROOT / "README.md"
README_BEGIN, README_END = "<!-- benchmark report: begin -->", "<!-- benchmark report: end -->"
VARIANTS = {
    "assistant": PROJECT_ROOT / "config.yml",
    "baseline": PROJECT_ROOT / "evaluation" / "baseline_config.yml",
}
LATENCY_QUESTIONS = ["what is kyphoplasty", "how long is the recovery", "is it safe", "how much does it cost"]
RED_FLAG = "red_flag"
# The intents whose reply is an honest decline: out of scope and the known-unknown topics.
UNCOVERED = frozenset({"out_of_scope", *load_knowledge().topics})
# The steps: the model variants side by side (with the retrieval peer), then the deployment's.
STEPS = ("variants", "turn_latency", "scale_out")


@dataclass(frozen=True)
class Settings:
    quick: bool
    epochs: int  # 0: as configured
    folds: int
    latency_requests: int
    dialogue_cases: int
    load_seconds: float
    cv_sample_every: int
    concurrency: tuple = (1, 10, 50)
    train_sample_every: int = 0  # 0: trained on all the NLU data; n: on one example in n of each intent
    cv_variants: Tuple[str, ...] = tuple(VARIANTS)  # the variants cross-validated
    lanes: int = 1  # steps run at once (threads; each step's work is in its own processes)

    @classmethod
    def of(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick,
                epochs=2,
                folds=2,
                latency_requests=20,
                dialogue_cases=20,
                load_seconds=2,
                cv_sample_every=10,
                # Quick runs check that every step works, not what it measures: the variants train
                # on a sample, only the assistant is cross-validated (the baseline's is the same
                # code), and two steps run at once.
                train_sample_every=10,
                cv_variants=("assistant",),
                lanes=2,
            )
        return cls(
            quick,
            epochs=0,
            folds=3,
            latency_requests=300,
            dialogue_cases=10_000,
            load_seconds=20,
            cv_sample_every=3,
        )


def rasa(*arguments: str) -> None:
    env = {**os.environ, "RASA_MAX_CACHE_SIZE": "0", "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run([RASA, *arguments], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)


def variant_config(source: Path, settings: Settings, folder: Path) -> Path:
    """The variant's config, with every `epochs` lowered in quick mode."""
    config = yaml.safe_load(source.read_text())
    if settings.epochs:
        for part in config.get("pipeline", []) + config.get("policies", []):
            if "epochs" in part:
                part["epochs"] = settings.epochs
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def fallback_threshold(config: Path) -> float:
    parts = yaml.safe_load(config.read_text())["pipeline"]
    return next(p["threshold"] for p in parts if p["name"] == "FallbackClassifier")


def training_data(settings: Settings, folder: Path) -> Optional[List[Path]]:
    """What `rasa train` gets as `--data`: None (the project's data/, Rasa's default), or in quick
    runs one NLU example in `settings.train_sample_every` of each intent with the rules and
    stories."""
    if not settings.train_sample_every:
        return None
    stories_and_rules = sorted((PROJECT_ROOT / "data").glob("*.yml"))
    return [nlu_sample(settings.train_sample_every, folder), *stories_and_rules]


def train(config: Path, folder: Path, data: Optional[List[Path]] = None) -> Dict[str, Any]:
    """Trains `config` into `folder`/model.tar.gz, on `data` (files or folders) or data/."""
    started = time.monotonic()
    data_arguments = ["--data", *map(str, data)] if data else []
    rasa(
        "train", "--config", str(config), *data_arguments, "--out", str(folder), "--fixed-model-name", "model"
    )
    model = folder / "model.tar.gz"
    return {
        "training_s": round(time.monotonic() - started, 1),
        "model_mb": round(model.stat().st_size / 1e6, 1),
    }


def heldout_quality(model: Path, threshold: float, folder: Path) -> Dict[str, Any]:
    """Intent accuracy and macro-F1, and what the fallback threshold makes of each prediction."""
    rasa("test", "nlu", "--nlu", str(HELDOUT), "--model", str(model), "--out", str(folder), "--successes")
    report = json.loads((folder / "intent_report.json").read_text())
    predictions = json.loads((folder / "intent_successes.json").read_text()) + json.loads(
        (folder / "intent_errors.json").read_text()
    )
    rows = [
        (p["intent"], p["intent_prediction"]["name"], p["intent_prediction"]["confidence"])
        for p in predictions
    ]

    def declined(predicted: str, confidence: float) -> bool:
        return predicted in UNCOVERED or confidence < threshold

    uncovered = [r for r in rows if r[0] in UNCOVERED]
    covered = [r for r in rows if r[0] not in UNCOVERED and r[0] != RED_FLAG]
    red_flags = [r for r in rows if r[0] == RED_FLAG]
    return {
        "intent_accuracy": round(report["accuracy"], 4),
        "intent_macro_f1": round(report["macro avg"]["f1-score"], 4),
        "uncovered_declined": round(sum(declined(p, c) for _, p, c in uncovered) / len(uncovered), 4),
        "covered_wrongly_declined": round(
            sum(p in UNCOVERED and c >= threshold for _, p, c in covered) / len(covered), 4
        ),
        "covered_below_threshold": round(sum(c < threshold for _, _, c in covered) / len(covered), 4),
        "red_flag_recall": round(sum(p == RED_FLAG for _, p, _ in red_flags) / len(red_flags), 4),
    }


def nlu_sample(every: int, folder: Path) -> Path:
    """The NLU data with one example in `every` of each intent (at least 4), for quick runs."""
    by_intent: Dict[str, List[str]] = {}
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            examples = [line[2:] for line in item["examples"].splitlines() if line.startswith("- ")]
            by_intent.setdefault(item["intent"], []).extend(examples)
    sampled = {i: e[::every] if len(e) >= 4 * every else e[:4] for i, e in by_intent.items()}
    body = 'version: "3.1"\nnlu:\n' + "".join(
        f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)
        for intent, examples in sampled.items()
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nlu.yml").write_text(body, encoding="utf-8")
    return folder / "nlu.yml"


def cross_validation(config: Path, settings: Settings, folder: Path) -> Dict[str, Any]:
    """k-fold cross-validation on a sample of the NLU data (full runs: a third; quick runs: a tenth).

    The whole data would take the baseline's char-n-gram DIET over an hour on 2 cores; the held-out
    NLU set above is the figure on all of it.
    """
    data = nlu_sample(settings.cv_sample_every, folder / "data")
    rasa("test", "nlu", "--nlu", str(data), "--config", str(config), "--cross-validation",
         "--folds", str(settings.folds), "--out", str(folder))  # fmt: skip
    report = json.loads((folder / "intent_report.json").read_text())
    return {
        "cv_intent_accuracy": round(report["accuracy"], 4),
        "cv_intent_macro_f1": round(report["macro avg"]["f1-score"], 4),
    }


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def sample_of(cases: List[Case], settings: Settings) -> List[Case]:
    """Every case, or an even sample of `settings.dialogue_cases` of them."""
    return cases[:: max(1, len(cases) // settings.dialogue_cases)][: settings.dialogue_cases]


def served(model: Path, settings: Settings, folder: Path) -> Dict[str, Any]:
    """Everything measured against the running servers: start, latency, memory, dialogues, load."""
    results: Dict[str, Any] = {}
    with running_assistant(model, folder) as assistant:
        assistant.chat(uuid.uuid4().hex, "what is kyphoplasty")
        results["start_to_first_answer_s"] = round(time.monotonic() - assistant.started_at, 1)
        for i in range(20):  # warm-up
            assistant.chat(uuid.uuid4().hex, LATENCY_QUESTIONS[i % len(LATENCY_QUESTIONS)])
        latencies = []
        sender = uuid.uuid4().hex
        for i in range(settings.latency_requests):
            sender = sender if i % 4 else uuid.uuid4().hex  # short conversations, as patients have
            started = time.perf_counter()
            assistant.chat(sender, LATENCY_QUESTIONS[i % len(LATENCY_QUESTIONS)])
            latencies.append((time.perf_counter() - started) * 1000)
        ordered = sorted(latencies)
        results["latency_ms"] = {
            "p50": round(percentile(ordered, 0.5), 1),
            "p95": round(percentile(ordered, 0.95), 1),
            "p99": round(percentile(ordered, 0.99), 1),
            "all": [round(value, 2) for value in latencies],
        }
        results["server_rss_mb"] = resident_mb(assistant.rasa_pid)
        chat = widget_chat(assistant.base_url)
        results["dialogues"] = summary(evaluate(sample_of(load_cases(DIALOGUES), settings), chat))
        heldout = evaluate(sample_of(load_cases(PATIENT_QUESTIONS / "heldout.yml"), settings), chat)
        results["patient_questions"] = {"figures": figures(heldout), "by_tag": by_tag(heldout)}
        results["red_flags_final"] = judge_red_flags(RED_FLAGS_FINAL, chat, settings.dialogue_cases)
        results["load"] = [
            json.loads(
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "evaluation.load",
                        "--url",
                        assistant.webhook,
                        "--concurrency",
                        str(level),
                        "--seconds",
                        str(settings.load_seconds),
                    ],
                    cwd=PROJECT_ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )  # fmt: skip
            for level in settings.concurrency
        ]
    return results


def measure_variant(name: str, settings: Settings, work: Path, step: Callable[[str], None]) -> Dict[str, Any]:
    folder = work / name
    folder.mkdir()
    config = variant_config(VARIANTS[name], settings, folder)
    step(f"{name}: training")
    results = train(config, folder, training_data(settings, folder / "train_data"))
    model = folder / "model.tar.gz"
    step(f"{name}: held-out NLU")
    results.update(heldout_quality(model, fallback_threshold(config), folder / "heldout"))
    step(f"{name}: servers, latency, dialogues, patient questions, red flags, load")
    results.update(served(model, settings, folder))
    if name == "assistant":
        results["component_cost"] = component_cost(
            model, rounds=1 if settings.quick else 3, limit=40 if settings.quick else None
        )
    return results


def cross_validate_variant(
    name: str, settings: Settings, work: Path, step: Callable[[str], None]
) -> Dict[str, Any]:
    """The variant's cross-validation figures: a step of its own (it trains its own models, so it
    can run beside the variant's other steps)."""
    folder = work / f"{name}_cv"
    folder.mkdir()
    step(f"{name}: cross-validation")
    return cross_validation(variant_config(VARIANTS[name], settings, folder), settings, folder)


def with_cross_validation(measured: Dict[str, Any], cross_validated: Dict[str, Any]) -> Dict[str, Any]:
    """A variant's results in the report's order: training and held-out NLU, cross-validation, then
    what was measured on the servers (from `start_to_first_answer_s` on)."""
    items = list(measured.items())
    served_from = list(measured).index("start_to_first_answer_s")
    return dict(items[:served_from] + list(cross_validated.items()) + items[served_from:])


def retrieval_peer(settings: Settings) -> Dict[str, Any]:
    """The BM25 peer, its threshold tuned on the tuning part, judged on the held-out part."""
    knowledge = load_knowledge()
    threshold = tune_threshold(knowledge, load_cases(PATIENT_QUESTIONS / "tuning.yml"))
    heldout = sample_of(load_cases(PATIENT_QUESTIONS / "heldout.yml"), settings)
    evidence = evidence_by_answer(knowledge)
    outcomes = [v.outcome(evidence) for v in judge_peer(RetrievalPeer(knowledge, threshold), heldout)]
    covered = [o for v, o in zip(heldout, outcomes) if v.expect == "answer"]
    uncovered = [o for v, o in zip(heldout, outcomes) if v.expect == "decline"]
    return {
        "threshold": round(threshold, 3),
        "answered_right": round(covered.count("right") / len(covered), 4),
        "answered_wrong": round(outcomes.count("wrong") / len(outcomes), 4),
        "uncovered_declined_honestly": round(uncovered.count("right") / len(uncovered), 4),
        "emergency_recall": 0.0,
        "right_overall": round(outcomes.count("right") / len(outcomes), 4),
    }


def flat_figures(results: Dict[str, Any]) -> Dict[str, float]:
    figures = {k: v for k, v in results.items() if isinstance(v, (int, float))}
    figures.update({f"latency_{k}_ms": v for k, v in results["latency_ms"].items() if k != "all"})
    for level in results["load"]:
        c = level["concurrency"]
        figures[f"load_{c}_throughput_per_s"] = level["throughput_per_s"]
        figures[f"load_{c}_p95_ms"] = level["p95_ms"]
        figures[f"load_{c}_errors"] = level["errors"]
    for expect, counts in results["dialogues"].items():
        total = sum(counts.values())
        for outcome in ("right", "wrong"):
            figures[f"dialogues_{expect}_{outcome}"] = round(counts.get(outcome, 0) / total, 4)
    figures.update({f"heldout_{k}": v for k, v in results["patient_questions"]["figures"].items()})
    figures.update({f"red_flags_final_{k}": v for k, v in results["red_flags_final"].items()})
    if "component_cost" in results:
        figures["nlu_components_p50_ms"] = results["component_cost"]["all_components"]["p50_ms"]
        figures["nlu_components_p95_ms"] = results["component_cost"]["all_components"]["p95_ms"]
        figures["action_checks_p50_ms"] = results["component_cost"]["action_checks"]["p50_ms"]
        figures["action_checks_p95_ms"] = results["component_cost"]["action_checks"]["p95_ms"]
    return figures


def ratios(assistant: Dict[str, float], baseline: Dict[str, float]) -> Dict[str, Any]:
    return {k: round(v / baseline[k], 3) if baseline.get(k) else None for k, v in assistant.items()}


def markdown(report: Dict[str, Any]) -> str:
    """The report's tables: the variants side by side, latency by conversation length, scale-out
    (each when the report has it)."""
    machine = report["machine"]
    lines = [
        f"Machine: {machine['cpus']} CPUs, {machine['system']}, Python {machine['python']}; {report['date']}"
        + (" (quick run: numbers not meaningful)" if report["settings"]["quick"] else ""),
    ]
    if "figures" in report:
        lines += variants_markdown(report)
    if "turn_latency" in report:
        lines += turn_latency_markdown(report["turn_latency"])
    if "scale_out" in report:
        lines += scale_out_markdown(report["scale_out"])
    return "\n".join(lines) + "\n"


def variants_markdown(report: Dict[str, Any]) -> List[str]:
    a, b, r = report["figures"]["assistant"], report["figures"]["baseline"], report["ratios"]
    settings = report["settings"]
    cross_validated = settings.get("cv_variants", list(VARIANTS))
    lines = [
        f"Cross-validation (`cv_*`): {settings['folds']} folds on one NLU example in "
        f"{settings['cv_sample_every']} of each intent"
        + ("." if len(cross_validated) == len(VARIANTS) else f", {' and '.join(cross_validated)} only.")
        + (
            f" Trained on one NLU example in {settings['train_sample_every']} of each intent."
            if settings.get("train_sample_every")
            else ""
        ),
        "",
        "| figure | assistant | `rasa init` baseline | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {a[k]} | {b.get(k)} | {r.get(k)} |" for k in a]
    peer = report["retrieval_peer"]
    lines += [
        "",
        f"Patient questions, held-out part: the assistant, the baseline and the BM25 retrieval peer "
        f"(threshold {peer['threshold']}, tuned on the tuning part).",
        "",
        "| figure | assistant | `rasa init` baseline | retrieval peer |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {a[f'heldout_{k}']} | {b.get(f'heldout_{k}')} | {peer.get(k, '')} |"
        for k in ("answered_right", "answered_wrong", "uncovered_declined_honestly", "did_you_mean",
                  "emergency_recall", "right_overall")
    ]  # fmt: skip
    return lines


def turn_latency_markdown(turns: Dict[str, Any]) -> List[str]:
    marks, configurations, sizes = turns["marks"], turns["configurations"], turns["action_call_kb"]
    last, window = max(marks), turns["window_turns"]

    def cell(configuration: str, key: str) -> str:
        figures = configurations[configuration][key]
        return f"{figures['p50_ms']} / {figures['p95_ms']}"

    lines = [
        "",
        f"Latency by conversation length (`evaluation/turn_latency.py`, {turns['date']}): REST channel, one "
        f"message at a time, {turns['conversations']} conversations of {last} turns; turn N = turns "
        f"N-{window - 1}..N of each, turn 1 = the first message of {turns['conversations'] * window} fresh "
        f"conversations. p50 / p95 in ms; the tracker and the domain as posted with each custom action call.",
        "",
        "| turn | domain posted with every action call | `enable_selective_domain: true` | tracker, KB |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {mark} | {cell('domain_on_every_call', f'turn_{mark}')} | "
        f"{cell('selective_domain', f'turn_{mark}')} | {sizes[f'tracker_turn_{mark}']} |"
        for mark in marks
    ]
    expiry = turns["session_expiration_min"]
    returned = f"{last + 1}-{last + window}, back after the session expired ({expiry:g} min)"
    lines += [
        f"| {returned} | {cell('domain_on_every_call', RETURNED)} | {cell('selective_domain', RETURNED)} | |",
        "",
        f"The domain adds {sizes['domain']} KB to each action call without `enable_selective_domain`.",
    ]
    return lines


def scale_out_markdown(scale: Dict[str, Any]) -> List[str]:
    profile = scale["profile"]
    lines = [
        "",
        f"One Rasa server against two behind nginx (`evaluation/scale_load.py`, {scale['date']}): "
        f"{scale['cpus']} CPUs shared by everything below, {profile['tracker_store']} tracker store, Redis "
        f"lock store (`{profile['lock_store']}`), {profile['load_balancer']}, each Rasa server with its own "
        f"action server; {profile['load']}, {scale['seconds']:g} s measured per run, medians of "
        f"{scale['repeats']} rounds. CPU: milliseconds per reply and cores busy during the run, by process "
        "kind.",
        "",
        "| conversations | Rasa servers | replies/s | p50 ms | p95 ms | failures | CPU ms per reply: "
        "Rasa / actions / PostgreSQL / Locust | cores busy: Rasa / whole machine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in scale["levels"]:
        cpu, busy = run["cpu_ms_per_message"], run["cores_busy"]
        lines.append(
            f"| {run['users']} | {run['rasa_servers']} | {run['throughput_per_s']} | {run['p50_ms']} | "
            f"{run['p95_ms']} | {run['failures']} | {cpu['rasa']} / {cpu['actions']} / {cpu['postgres']} / "
            f"{cpu['locust']} | {busy['rasa']} / {run['machine_cores_busy']} |"
        )
    ratios = scale["two_over_one"]
    lines += [
        "",
        "Two servers over one: "
        + "; ".join(
            f"{users} conversations: replies/s x{r['throughput_per_s']}, p95 x{r['p95_ms']}"
            for users, r in ratios.items()
        )
        + ".",
    ]
    return lines


def publish(report: Dict[str, Any]) -> None:
    """Keeps a full run's report (without per-request timings) and puts its tables in the README."""
    kept = {**report, "details": {name: {k: v for k, v in results.items() if k != "latency_ms"}
                                  for name, results in report["details"].items()}}  # fmt: skip
    LATEST_REPORT.parent.mkdir(parents=True, exist_ok=True)
    LATEST_REPORT.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    readme = README_PATH.read_text(encoding="utf-8")
    before, rest = readme.split(README_BEGIN)
    after = rest.split(README_END)[1]
    README_PATH.write_text(f"{before}{README_BEGIN}\n{markdown(report)}{README_END}{after}", encoding="utf-8")


def plots(report: Dict[str, Any], variants: Dict[str, Dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, results in variants.items():
        ordered = sorted(results["latency_ms"]["all"])
        left.plot(ordered, [i / len(ordered) for i in range(len(ordered))], label=name)
        levels = [level["concurrency"] for level in results["load"]]
        right.plot(
            levels,
            [level["throughput_per_s"] for level in results["load"]],
            marker="o",
            label=f"{name} msg/s",
        )
        right.plot(levels, [level["p95_ms"] / 10 for level in results["load"]], marker="x", linestyle="--",
                   label=f"{name} p95 (x10 ms)")  # fmt: skip
    left.set(title="Latency, one patient at a time", xlabel="ms", ylabel="share of replies")
    right.set(title="Load", xlabel="concurrent conversations", xscale="log")
    left.legend()
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "latency_and_load.png", dpi=120)
    plt.close(figure)


def turn_latency_step(settings: Settings, folder: Path, step: Callable[[str], None]) -> Dict[str, Any]:
    step("turn latency: turns " + ", ".join(map(str, TurnSettings.of(settings.quick).marks)))
    return turn_latency(MODEL_PATH, folder, TurnSettings.of(settings.quick))


def scale_out_step(settings: Settings, folder: Path, step: Callable[[str], None]) -> Dict[str, Any]:
    step("scale-out: one against two Rasa servers behind nginx")
    folder.mkdir()
    return scale_load(MODEL_PATH, folder, ScaleSettings.of(settings.quick))


def run_steps(tasks: Dict[str, Callable[[], Any]], lanes: int) -> Dict[str, Any]:
    """Runs the steps (name: function without arguments), in order, `lanes` at a time, and returns
    name: result. With more than one lane each runs in a thread: a step's work is in its own
    processes (training, tests, servers), so threads suffice. Raises the first failed step's error
    (by order), after the steps under way have ended; the ones not yet started are dropped."""
    if lanes == 1:
        return {name: task() for name, task in tasks.items()}
    pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="benchmark-step")
    try:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def steps_of(text: str) -> Tuple[str, ...]:
    """`--only`'s value: comma-separated names from STEPS."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = set(names) - set(STEPS)
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"steps are {', '.join(STEPS)}; not {', '.join(sorted(unknown))}")
    return names


def with_latest(report: Dict[str, Any], selected: Tuple[str, ...]) -> Dict[str, Any]:
    """The last full report with what this run measured in place of its parts: a run of only some
    steps keeps the others' figures (each part says when it was measured)."""
    if not LATEST_REPORT.is_file():
        return report
    latest = json.loads(LATEST_REPORT.read_text(encoding="utf-8"))
    if "variants" in selected:
        return {**{k: v for k, v in latest.items() if k in STEPS and k not in selected}, **report}
    return {**latest, **{step: report[step] for step in selected}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny run that exercises every step (CI)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "benchmark")
    parser.add_argument("--only", type=steps_of, default=STEPS, help=f"comma-separated: {','.join(STEPS)}")
    arguments = parser.parse_args()
    selected: Tuple[str, ...] = arguments.only
    settings = Settings.of(arguments.quick)
    arguments.out.mkdir(parents=True, exist_ok=True)
    per_variant = 3 * len(VARIANTS) + len(settings.cv_variants)
    total = (per_variant if "variants" in selected else 0) + len(set(selected) - {"variants"})
    steps = tqdm(total=total, unit="step", desc="benchmark")

    def step(description: str) -> None:
        steps.set_description(description)
        steps.update(1)

    report: Dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "system": platform.platform(),
            "python": platform.python_version(),
        },
        "settings": {**settings.__dict__, "concurrency": list(settings.concurrency)},
    }
    variants: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        tasks: Dict[str, Callable[[], Any]] = {}
        if "variants" in selected:
            for name in VARIANTS:  # the cross-validation first: in quick runs, the longest step
                if name in settings.cv_variants:
                    tasks[f"{name}_cv"] = partial(cross_validate_variant, name, settings, work, step)
                tasks[name] = partial(measure_variant, name, settings, work, step)
        # The deployment steps serve the project's model (scripts/train.py), as scripts/run.sh does.
        if "turn_latency" in selected:
            tasks["turn_latency"] = partial(turn_latency_step, settings, work / "turn_latency", step)
        if "scale_out" in selected:
            tasks["scale_out"] = partial(scale_out_step, settings, work / "scale_out", step)
        done = run_steps(tasks, settings.lanes)
        if "variants" in selected:
            variants = {
                name: with_cross_validation(done[name], done.get(f"{name}_cv", {})) for name in VARIANTS
            }
            for name in VARIANTS:
                matrix = work / name / "heldout" / "intent_confusion_matrix.png"
                if matrix.is_file():
                    shutil.copy(matrix, arguments.out / f"confusion_{name}.png")
            figures = {name: flat_figures(results) for name, results in variants.items()}
            report["figures"] = figures
            report["ratios"] = ratios(figures["assistant"], figures["baseline"])
            report["retrieval_peer"] = retrieval_peer(settings)
            report["details"] = variants
        report.update({name: done[name] for name in ("turn_latency", "scale_out") if name in done})
    steps.close()
    (arguments.out / "report.json").write_text(json.dumps(report, indent=2))
    (arguments.out / "report.md").write_text(markdown(report))
    if not settings.quick:
        publish(with_latest(report, selected))
    if variants:
        plots(report, variants, arguments.out)
    print(markdown(report))
    print(f"Report: {arguments.out}/report.json, report.md, latency_and_load.png, confusion_*.png")


if __name__ == "__main__":
    main()
