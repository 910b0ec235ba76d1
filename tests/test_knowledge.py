"""The knowledge base is a faithful, complete and readable copy of the clinic's article."""

from __future__ import annotations

import re
import string

import pytest
import textstat
import yaml

from actions.clinic import load_clinic
from actions.knowledge import ANSWERS_PATH, ARTICLE_PATH, load_knowledge
from actions.rendering import buttons_for, render_answers
from nlu_components.paths import PROJECT_ROOT
from scripts.import_article import REF_MARKER, SOURCE_PATH, parse_article

# Unavoidable medical words, replaced by a short word before measuring the reading grade.
MEDICAL_WORDS = {
    "kyphoplasty": "it",
    "vertebroplasty": "it",
    "osteoporosis": "weak bones",
    "myeloma": "cancer",
    "kyphosis": "hunch",
    "acrylic": "hard",
    "balloon-assisted": "balloon",
}
MAX_GRADE = 8.0

KNOWLEDGE = load_knowledge()
ANSWERS = list(KNOWLEDGE.answers.values())
SOURCE_TEXT = SOURCE_PATH.read_text(encoding="utf-8")


def domain_intents() -> set:
    return set(yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["intents"])


def article_answer_intents() -> set:
    """The intents the rule "Answer a question from the article" sends to action_answer."""
    rules = yaml.safe_load((PROJECT_ROOT / "data" / "rules.yml").read_text())["rules"]
    (rule,) = [r for r in rules if {"action": "action_answer"} in r["steps"]]
    return {step["intent"] for step in rule["steps"][0]["or"]}


def test_article_copy_matches_the_clinics_article() -> None:
    copy = yaml.safe_load(ARTICLE_PATH.read_text(encoding="utf-8"))["sentences"]
    assert copy == parse_article(SOURCE_TEXT), "run: python -m scripts.import_article"


def test_every_sentence_is_quoted_word_for_word_from_the_article() -> None:
    for sentence in KNOWLEDGE.sentences.values():
        assert sentence.text in SOURCE_TEXT


def test_reference_numbers_are_the_markers_in_each_sentence() -> None:
    for sentence in KNOWLEDGE.sentences.values():
        assert list(sentence.refs) == [int(n) for n in REF_MARKER.findall(sentence.text)]


def test_references_are_the_articles_resources() -> None:
    resources = SOURCE_TEXT.split("Resources:")[1]
    assert sorted(KNOWLEDGE.references) == list(range(1, 9))
    for reference in KNOWLEDGE.references.values():
        assert reference.url in resources
        assert reference.title in resources
        assert reference.publisher in resources
        assert str(reference.year) in resources


def test_every_sentence_of_the_article_is_reachable_through_an_answer() -> None:
    used = {sentence.id for answer in ANSWERS for sentence in answer.evidence}
    assert set(KNOWLEDGE.sentences) - used == set()


def test_every_answer_rests_on_evidence() -> None:
    assert all(answer.evidence for answer in ANSWERS)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_rendered_answer_quotes_its_evidence_and_cites_exactly_its_references(answer) -> None:
    clinic = load_clinic()
    text, quotes, sources = render_answers([answer], KNOWLEDGE, clinic).split("\n\n")
    for sentence in answer.evidence:
        assert f"“{sentence.text}”" in quotes
    cited = [int(n) for n in re.findall(r"^\[(\d+)\]", sources, flags=re.MULTILINE)]
    assert cited == list(answer.reference_numbers)
    for number in cited:
        assert KNOWLEDGE.references[number].url in sources
    unreferenced = any(not sentence.refs for sentence in answer.evidence)
    assert (clinic.article_url in sources) == unreferenced
    assert "{" not in text and "}" not in text


def plain_words(text: str) -> str:
    for word, short in MEDICAL_WORDS.items():
        text = re.sub(word, short, text, flags=re.IGNORECASE)
    return text


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_answer_reads_at_grade_8_or_below(answer) -> None:
    text = plain_words(answer.text.format(**load_clinic().template_values()))
    assert textstat.flesch_kincaid_grade(text) <= MAX_GRADE, text


def test_each_article_question_intent_has_its_answer_and_each_answer_a_way_in() -> None:
    intents = article_answer_intents()
    assert intents <= domain_intents()
    assert intents <= set(KNOWLEDGE.answers)
    condition_answers = {a.id for a in ANSWERS if a.conditions}
    assert set(KNOWLEDGE.answers) == intents | condition_answers


def test_button_payloads_lead_to_known_intents() -> None:
    for button in buttons_for(ANSWERS):
        intent = button["payload"][1:].split("{")[0]
        assert intent in domain_intents()


def test_condition_answers_cover_every_condition_of_the_entity_ruler() -> None:
    patterns = yaml.safe_load((PROJECT_ROOT / "spacy_pipeline" / "entity_patterns.yml").read_text())
    for condition in patterns["CONDITION"]:
        assert KNOWLEDGE.answer_for_condition(condition) is not None, condition


def test_placeholders_are_only_clinic_settings() -> None:
    allowed = set(load_clinic().template_values())
    raw = yaml.safe_load(ANSWERS_PATH.read_text())["answers"]
    for fields in raw.values():
        names = {name for _, name, _, _ in string.Formatter().parse(fields["answer"]) if name}
        assert names <= allowed
