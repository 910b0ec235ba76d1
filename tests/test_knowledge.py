"""The knowledge base is a faithful, complete and readable copy of the clinic's article; the
topics it does not cover and the replies' texts are complete and consistent with the domain."""

from __future__ import annotations

import re
import string

import pytest
import textstat
import yaml

from actions import knowledge
from actions.answers import answer_reply
from actions.clinic import load_clinic
from actions.knowledge import ANSWERS_PATH, ARTICLE_PATH, NOT_COVERED_PATH, Reference, load_knowledge
from actions.replies import REPLIES_PATH, not_covered_reply, red_flag_kinds
from actions.reply import buttons_for, reference_label
from channels.text_output import render_text
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
TOPICS = list(KNOWLEDGE.topics.values())
SOURCE_TEXT = SOURCE_PATH.read_text(encoding="utf-8")
REPLY_TEXTS = yaml.safe_load(REPLIES_PATH.read_text(encoding="utf-8"))


def domain_intents() -> set:
    return set(yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["intents"])


def rule_intents(action: str) -> set:
    """The intents of the one rule in data/rules.yml that sends them to `action`."""
    rules = yaml.safe_load((PROJECT_ROOT / "data" / "rules.yml").read_text())["rules"]
    (rule,) = [r for r in rules if {"action": action} in r["steps"]]
    return {step["intent"] for step in rule["steps"][0]["or"]}


def placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_article_copy_matches_the_clinics_article() -> None:
    copy = yaml.safe_load(ARTICLE_PATH.read_text(encoding="utf-8"))["sentences"]
    assert copy == parse_article(SOURCE_TEXT), "run: python -m scripts.import_article"


def test_list_items_carry_the_sentence_that_introduces_their_list() -> None:
    items = [s for s in KNOWLEDGE.sentences.values() if s.lead_in]
    assert {s.lead_in for s in items} == {"conditions-2", "benefits-3"}
    for item in items:
        lead_in = KNOWLEDGE.sentences[item.lead_in]
        assert lead_in.text.endswith(":")
        assert SOURCE_TEXT.index(lead_in.text) < SOURCE_TEXT.index(item.text)


def test_a_list_without_a_lead_in_sentence_is_refused() -> None:
    with pytest.raises(ValueError, match="lead-in"):
        parse_article("What is a Kyphoplasty?\nIt treats many things.\n- Osteoporosis [5]\n")


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


def assert_quotes_and_cites_exactly(messages: list, sentences: tuple) -> None:
    """The plain-text reply quotes these sentences (and their lists' lead-ins) word for word and
    cites exactly the references they carry, and the article when one has no [n]."""
    clinic = load_clinic()
    text, quotes, sources = (m["text"] for m in messages)
    quoted = KNOWLEDGE.quoted(sentences)
    assert quotes == "From the article:\n" + "\n".join(f"“{sentence.text}”" for sentence in quoted)
    cited = [int(n) for n in re.findall(r"^\[(\d+)\]", sources, flags=re.MULTILINE)]
    assert cited == sorted({number for sentence in quoted for number in sentence.refs})
    for number in cited:
        assert KNOWLEDGE.references[number].url in sources
    assert (clinic.article_url in sources) == any(not sentence.refs for sentence in quoted)
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_answer_quotes_its_evidence_and_cites_exactly_its_references(answer) -> None:
    assert_quotes_and_cites_exactly(render_text(answer_reply([answer], [])), answer.evidence)


@pytest.mark.parametrize("topic", [t for t in TOPICS if t.nearby], ids=lambda t: t.id)
def test_not_covered_topic_quotes_its_nearby_sentences_and_cites_exactly_their_references(topic) -> None:
    assert_quotes_and_cites_exactly(render_text(not_covered_reply(topic))[:3], topic.nearby)


@pytest.mark.parametrize("topic", [t for t in TOPICS if not t.nearby], ids=lambda t: t.id)
def test_not_covered_topic_without_nearby_sentences_quotes_nothing(topic) -> None:
    (message,) = render_text(not_covered_reply(topic))
    assert message["text"].startswith(topic.text)
    assert load_clinic().phone in message["text"]


def test_a_topic_citing_a_sentence_that_does_not_exist_stops_the_loading(tmp_path, monkeypatch) -> None:
    topics = tmp_path / "not_covered.yml"
    topics.write_text(
        "topics:\n  cost:\n    question: Cost?\n    answer: Not said.\n    nearby: [intro-1, nope-1]\n"
    )
    monkeypatch.setattr(knowledge, "NOT_COVERED_PATH", topics)
    with pytest.raises(ValueError, match=r"Topic 'cost' cites unknown sentences \['nope-1'\]"):
        knowledge.load_knowledge.__wrapped__()


def test_a_list_items_lead_in_is_quoted_right_before_the_first_item_and_once() -> None:
    s = KNOWLEDGE.sentences
    quoted = KNOWLEDGE.quoted([s["intro-1"], s["conditions-4"], s["conditions-3"], s["conditions-2"]])
    assert [q.id for q in quoted] == ["intro-1", "conditions-2", "conditions-4", "conditions-3"]
    already = KNOWLEDGE.quoted([s["benefits-3"], s["intro-1"], s["benefits-4"]])
    assert [q.id for q in already] == ["benefits-3", "intro-1", "benefits-4"]


@pytest.mark.parametrize(
    "authors, title, label",
    [
        ("Kasperk C, et al.", "Outcomes", "Kasperk C, et al. Outcomes. Journal, 2010."),
        ("Mayo Clinic Staff", "Osteoporosis", "Mayo Clinic Staff. Osteoporosis. Journal, 2010."),
        (None, "Kyphoplasty: What Is It?", "Kyphoplasty: What Is It? Journal, 2010."),
    ],
)
def test_reference_labels_end_each_part_with_one_full_stop(authors, title, label) -> None:
    reference = Reference(number=1, publisher="Journal", title=title, year=2010, url="u", authors=authors)
    assert reference_label(reference) == label


def test_no_reference_label_has_a_doubled_full_stop() -> None:
    for reference in KNOWLEDGE.references.values():
        assert ".." not in reference_label(reference) and "?." not in reference_label(reference)


def plain_words(text: str) -> str:
    for word, short in MEDICAL_WORDS.items():
        text = re.sub(word, short, text, flags=re.IGNORECASE)
    return text


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_answer_reads_at_grade_8_or_below(answer) -> None:
    text = plain_words(answer.text.format(**load_clinic().template_values()))
    assert textstat.flesch_kincaid_grade(text) <= MAX_GRADE, text


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.id)
def test_not_covered_reply_reads_at_grade_8_or_below(topic) -> None:
    text = plain_words(not_covered_reply(topic)["text"])
    assert textstat.flesch_kincaid_grade(text) <= MAX_GRADE, text


def test_each_article_question_intent_has_its_answer_and_each_answer_a_way_in() -> None:
    intents = rule_intents("action_answer")
    assert intents <= domain_intents()
    assert intents <= set(KNOWLEDGE.answers)
    condition_answers = {a.id for a in ANSWERS if a.conditions}
    assert set(KNOWLEDGE.answers) == intents | condition_answers


def test_each_not_covered_topic_is_an_intent_with_the_rule_for_action_not_covered_and_back() -> None:
    topics = set(KNOWLEDGE.topics)
    assert topics == rule_intents("action_not_covered")
    assert topics <= domain_intents()
    assert not topics & set(KNOWLEDGE.answers)


def test_button_payloads_lead_to_known_intents() -> None:
    for button in buttons_for(ANSWERS):
        intent = button["payload"][1:].split("{")[0]
        assert intent in domain_intents()


def test_entity_patterns_are_words() -> None:
    patterns = yaml.safe_load((PROJECT_ROOT / "spacy_pipeline" / "entity_patterns.yml").read_text())
    for label, concepts in patterns.items():
        for concept, sequences in concepts.items():
            for sequence in sequences:
                assert all(isinstance(word, str) for word in sequence), (label, concept, sequence)


def test_condition_answers_cover_every_condition_of_the_entity_ruler() -> None:
    patterns = yaml.safe_load((PROJECT_ROOT / "spacy_pipeline" / "entity_patterns.yml").read_text())
    for condition in patterns["CONDITION"]:
        assert KNOWLEDGE.answer_for_condition(condition) is not None, condition


def reply_yml_texts() -> list:
    flags = REPLY_TEXTS["red_flags"].values()
    return [
        *(text for text in REPLY_TEXTS.values() if isinstance(text, str)),
        *REPLY_TEXTS["other_language"].values(),
        *(flag[field] for flag in flags for field in ("text", "watch_for", "if_now") if field in flag),
    ]


def test_placeholders_are_only_clinic_settings() -> None:
    allowed = set(load_clinic().template_values())
    answers = yaml.safe_load(ANSWERS_PATH.read_text())["answers"].values()
    topics = yaml.safe_load(NOT_COVERED_PATH.read_text())["topics"].values()
    for text in [*(a["answer"] for a in answers), *(t["answer"] for t in topics), *reply_yml_texts()]:
        assert placeholders(text) <= allowed, text


def test_every_red_flag_kind_has_its_emergency_text_sign_to_watch_for_and_line_if_now() -> None:
    allowed = set(load_clinic().template_values())
    for kind in red_flag_kinds():
        flag = REPLY_TEXTS["red_flags"][kind]
        assert flag["text"] and flag["watch_for"] and flag["if_now"], kind
        assert flag["call"] and set(flag["call"]) <= allowed, kind
        for name in flag["call"]:
            assert f"{{{name}}}" in flag["text"] and f"{{{name}}}" in flag["if_now"], (kind, name)


def test_every_red_flag_kind_of_the_red_flag_test_sets_has_its_reply() -> None:
    for path in (PROJECT_ROOT / "tests" / "red_flags").glob("*.yml"):
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["emergencies"]
        assert {kind for case in cases for kind in case["kinds"]} <= set(red_flag_kinds()), path.name


@pytest.mark.parametrize("code", sorted(REPLY_TEXTS["other_language"]))
def test_every_language_reply_names_every_number_and_the_clinic(code: str) -> None:
    text = REPLY_TEXTS["other_language"][code]
    assert placeholders(text) == {"clinic_name", "clinic_phone", "emergency_number", "crisis_line"}
    assert "{" not in text.format(**load_clinic().template_values())
