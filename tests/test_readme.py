"""The README's numbers come from the code, the last full benchmark and the patient-questions report of
the current model: a drift fails here."""

from __future__ import annotations

import json
import re

import yaml

from actions.guidance import (
    DECLINE_ODDS,
    DECLINE_PROBABILITY,
    LIKELY_COVERED,
    NEAREST_ANSWER_SHARE,
    NEAREST_UNCOVERED_SHARE,
)
from actions.replies import red_flag_kinds
from evaluation import patient_questions
from evaluation.benchmark import LATEST_REPORT, README_BEGIN, README_END, markdown
from evaluation.sms_segments import measure, sentence, summary
from nlu_components.answerability import AnswerabilityCheck
from nlu_components.language import MIN_ENGLISH_SHARE, SURE_CONFIDENCE
from nlu_components.paths import PROJECT_ROOT
from nlu_components.red_flags import CLASSIFIER_CONFIDENCE
from scripts.train import fingerprint

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
PIPELINE = {p["name"]: p for p in yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]}


def stated(name: str) -> str:
    """The value the README states for `name`, written as "name: `value`"."""
    match = re.search(rf"{re.escape(name)}: `([^`]+)`", README)
    assert match, f"the README does not state {name!r}"
    return match.group(1)


def test_the_readme_states_the_thresholds_the_code_uses() -> None:
    fallback = PIPELINE["FallbackClassifier"]
    answerability = PIPELINE["nlu_components.answerability.AnswerabilityCheck"]
    assert float(stated("fallback threshold")) == fallback["threshold"]
    assert float(stated("ambiguity threshold")) == fallback["ambiguity_threshold"]
    assert float(stated("focus-word share")) == answerability["min_share"]
    assert int(stated("focus-word examples")) == answerability["min_examples"]
    assert float(stated("topic share")) == answerability["min_intent_share"]
    assert float(stated("answer confidence")) == answerability["max_confidence"]
    assert int(stated("nearest examples")) == answerability["nearest_examples"]
    assert float(stated("uncovered share")) == NEAREST_UNCOVERED_SHARE
    assert float(stated("answer share")) == NEAREST_ANSWER_SHARE
    assert float(stated("likely-covered probability")) == LIKELY_COVERED
    conversation = PIPELINE["nlu_components.conversation_turns.ConversationTurns"]
    assert float(stated("conversation threshold")) == conversation["threshold"]
    assert float(stated("classifier red-flag confidence")) == CLASSIFIER_CONFIDENCE
    assert float(stated("English share")) == MIN_ENGLISH_SHARE
    assert float(stated("namer confidence")) == SURE_CONFIDENCE
    assert float(stated("decline odds")) == DECLINE_ODDS
    assert float(stated("decline probability")) == DECLINE_PROBABILITY
    scorer = {**AnswerabilityCheck.get_default_config(), **answerability}
    assert float(stated("scorer C")) == scorer["uncovered_scorer_c"]


def test_the_readme_names_every_red_flag_kind_most_urgent_first() -> None:
    assert stated("red-flag kinds").split(", ") == red_flag_kinds()


def test_the_readme_states_what_sms_replies_cost() -> None:
    assert sentence(summary(measure())) in " ".join(README.split())


def test_the_readme_benchmark_section_is_the_last_full_report() -> None:
    report = json.loads(LATEST_REPORT.read_text(encoding="utf-8"))
    assert not report["settings"]["quick"]
    section = README.split(README_BEGIN)[1].split(README_END)[0]
    assert section.strip() == markdown(report).strip()


def test_the_readme_patient_questions_table_is_the_report_of_the_current_model() -> None:
    report = json.loads(patient_questions.REPORT.read_text(encoding="utf-8"))
    assert report["model_inputs"] == fingerprint(), (
        "the model's training inputs changed since the patient questions were measured: "
        "python -m evaluation.patient_questions --write"
    )
    section = README.split(patient_questions.README_BEGIN)[1].split(patient_questions.README_END)[0]
    assert section.strip() == patient_questions.markdown(report).strip()
