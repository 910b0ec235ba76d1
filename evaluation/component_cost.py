"""What the project's own NLU components cost per message, measured inside the trained model.

    python -m evaluation.component_cost          # prints JSON: ms per message, p50/p95, per component

Loads the model in this process, wraps the `process` of each component of nlu_components/ with
a timer, parses the patient-questions sets' messages (warm-up first) and reports, per component
and in total, the time per message (ms): what answering the question asked, red flags, languages
and after-care add on top of Rasa's own pipeline, and the seed ensemble's three DIETs together;
and what the action server's answerability checks (actions/answerability.py) add on each parse.
Timings are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import yaml
from rasa.core.agent import Agent
from rasa.utils.log_utils import configure_structlog

from actions.answerability import asks_about_condition_itself, asks_if_something_else_helps, missing_detail
from actions.knowledge import load_knowledge
from evaluation.load import percentile
from nlu_components.answerability import AnswerabilityCheck
from nlu_components.language import LanguageDetectorComponent
from nlu_components.normalization import MessageNormalizer
from nlu_components.paths import PROJECT_ROOT
from nlu_components.question_focus import QuestionFocus
from nlu_components.red_flags import RedFlagDetector
from nlu_components.routing import SafetyRouting
from nlu_components.seed_ensemble import SeedEnsembleDIET
from nlu_components.spacy_entities import SpacyRulerEntityExtractor
from scripts.train import MODEL_PATH

COMPONENTS = (MessageNormalizer, QuestionFocus, SeedEnsembleDIET, SpacyRulerEntityExtractor,
              LanguageDetectorComponent, RedFlagDetector, AnswerabilityCheck, SafetyRouting)  # fmt: skip
SETS = PROJECT_ROOT / "tests" / "patient_questions"


def messages() -> List[str]:
    return [
        c["text"]
        for part in ("tuning", "heldout")
        for c in yaml.safe_load((SETS / f"{part}.yml").read_text())["cases"]
    ]


def timed(name: str, method: Callable[..., Any], spent: Dict[str, List[float]]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = method(self, *args, **kwargs)
        spent[name].append((time.perf_counter() - started) * 1000)
        return result

    return wrapper


def per_call_sums(calls: List[float], messages: int) -> List[float]:
    """The time per message (ms) of a component called `len(calls) / messages` times a message, in order."""
    instances = len(calls) // messages
    return [sum(calls[i * instances : (i + 1) * instances]) for i in range(messages)]


def action_checks_ms(parses: List[Dict[str, Any]]) -> List[float]:
    """The time (ms) of the action server's answerability checks on each parse: the details the
    likeliest answer must give, a question about a condition itself, another remedy."""
    knowledge = load_knowledge()
    spent = []
    for parse in parses:
        text = str(parse.get("text") or "")
        ranked = [r["name"] for r in parse.get("intent_ranking", []) if r["name"] in knowledge.answers]
        answers = [knowledge.answers[ranked[0]]] if ranked else []
        conditions = [e["value"] for e in parse.get("entities", []) if e.get("entity") == "condition"]
        started = time.perf_counter()
        missing_detail(text, answers)
        asks_about_condition_itself(text, conditions, procedure_named=False)
        asks_if_something_else_helps(text, procedure_named=False)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def measure(model: Path = MODEL_PATH, rounds: int = 2, limit: Optional[int] = None) -> Dict[str, Any]:
    """`{component: {p50_ms, p95_ms}, "all_components": ..., "whole_parse": ...,
    "action_checks": ...}` per message."""
    spent: Dict[str, List[float]] = defaultdict(list)
    for component in COMPONENTS:
        component.process = timed(component.__name__, component.process, spent)  # type: ignore[method-assign]
    agent = Agent.load(str(model))
    texts = messages()[:limit]

    parses: List[Dict[str, Any]] = []

    async def parse_all() -> List[float]:
        totals = []
        for text in texts:
            started = time.perf_counter()
            parses.append(await agent.parse_message(text))
            totals.append((time.perf_counter() - started) * 1000)
        return totals

    asyncio.run(parse_all())  # warm-up: lazy models, compiled graphs
    spent.clear()
    whole = [t for _ in range(rounds) for t in asyncio.run(parse_all())]
    # A component with several instances (the seed ensemble's DIETs) is timed once per instance.
    by_message = {name: per_call_sums(calls, len(whole)) for name, calls in spent.items()}
    per_message = [sum(by_message[c.__name__][i] for c in COMPONENTS) for i in range(len(whole))]

    def summary(values: List[float]) -> Dict[str, float]:
        ordered = sorted(values)
        return {"p50_ms": round(percentile(ordered, 0.5), 3), "p95_ms": round(percentile(ordered, 0.95), 3)}

    report = {c.__name__: summary(by_message[c.__name__]) for c in COMPONENTS}
    report["all_components"] = summary(per_message)
    report["whole_parse"] = summary(whole)
    report["action_checks"] = summary(action_checks_ms(parses[len(texts) :]))
    report["messages"] = len(whole)
    return report


def main() -> None:
    configure_structlog(logging.WARNING)  # else Rasa's parse debug lines (the messages) fill stdout
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
