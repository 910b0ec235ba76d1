"""The custom actions, run as the action server runs them, on hand-built trackers: each sends one
structured reply per message (actions/reply.py), which the channels render (channels/)."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml
from rasa.core.channels.channel import OutputChannel
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet

from actions.answerability import DETAILS
from actions.answers import ActionAnswer, ActionShowSources, ActionTellMeMore
from actions.clinic import load_clinic
from actions.guidance import ActionClarify, ActionDecline, ActionOfferQuestions
from actions.knowledge import load_knowledge
from actions.red_flag import ActionRedFlag
from actions.referrals import ActionAfterCare, ActionNotCovered, ActionOtherLanguage
from actions.replies import REPLIES_PATH, red_flag_kinds, reply_text
from actions.reply import Reply, new_reply
from actions.session import ActionSessionStart
from channels.patient_rest import PatientRestInput
from channels.text_output import render_text
from channels.widget import WidgetInput
from tests.reply_fixtures import FIXTURES, entities, reply_of, run, tracker, unclear

KNOWLEDGE = load_knowledge()
CLINIC = load_clinic()
TEXTS = yaml.safe_load(REPLIES_PATH.read_text(encoding="utf-8"))
STARTERS = [a.question for a in KNOWLEDGE.starters]
COMMON_FIELDS = {"kind", "text", "quotes", "references", "article", "buttons", "call", "safety_note"}


def titles(reply: Reply) -> List[str]:
    return [button["title"] for button in reply["buttons"]]


def numbers(reply_or_note: Dict[str, Any]) -> List[str]:
    return [call["number"] for call in reply_or_note["call"]]


def quote_ids(reply: Reply) -> List[str]:
    return [quote["id"] for quote in reply["quotes"]]


# ---------- answers ----------


@pytest.mark.parametrize("intent", [a.id for a in KNOWLEDGE.answers.values() if not a.conditions])
def test_each_question_gets_its_answer_with_quotes_and_references(intent: str) -> None:
    answer = KNOWLEDGE.answers[intent]
    (reply,), events = run(ActionAnswer(), tracker(intent))
    assert reply["kind"] == "answer"
    assert reply["answer_ids"] == [intent]
    assert reply["text"] == answer.text.format(**CLINIC.template_values())
    assert quote_ids(reply) == [s.id for s in KNOWLEDGE.quoted(answer.evidence)]
    assert [r["number"] for r in reply["references"]] == list(answer.reference_numbers)
    assert 1 <= len(reply["buttons"]) <= 2
    assert events == [SlotSet("last_answers", [intent])]


def test_the_answer_as_structure() -> None:
    reply = reply_of(ActionAnswer(), tracker("pain_relief"))
    answer = KNOWLEDGE.answers["pain_relief"]
    assert [q["text"] for q in reply["quotes"]] == [s.text for s in KNOWLEDGE.quoted(answer.evidence)]
    assert reply["quotes"][0] == {
        "id": "benefits-3",
        "text": "Other benefits of this procedure include:",
        "refs": [],
    }
    assert reply["references"] == [
        {
            "number": 7,
            "label": reply["references"][0]["label"],
            "publisher": KNOWLEDGE.references[7].publisher,
            "url": KNOWLEDGE.references[7].url,
        }
    ]
    assert ".." not in reply["references"][0]["label"]  # "et al." ends the authors
    assert reply["article"] == {
        "title": CLINIC.article_title,
        "url": CLINIC.article_url,
        "publisher": CLINIC.name,
    }
    assert [b["payload"] for b in reply["buttons"]] == ["/recovery", "/less_medication"]
    assert reply["call"] == [] and reply["safety_note"] is None


def test_a_named_condition_gets_the_answer_about_it_with_the_lists_lead_in() -> None:
    state = tracker("conditions_treated", entities=entities("condition", "multiple_myeloma"))
    (reply,), events = run(ActionAnswer(), state)
    assert quote_ids(reply)[:2] == ["conditions-2", "conditions-6"]
    assert reply["quotes"][1]["text"] == "Cancer, including multiple myeloma [6]"
    assert events == [SlotSet("last_answers", ["condition_cancer"])]


def test_a_specific_condition_wins_over_the_fracture_it_caused() -> None:
    _, events = run(
        ActionAnswer(), tracker("conditions_treated", entities("condition", "compression_fracture", "trauma"))
    )
    assert events == [SlotSet("last_answers", ["condition_trauma"])]


def test_a_condition_not_in_the_article_gets_the_list_of_conditions() -> None:
    reply = reply_of(ActionAnswer(), tracker("conditions_treated"))
    assert "If your problem is not on this list, the article does not cover it." in reply["text"]


def test_can_it_help_me_says_how_candidacy_is_decided_then_uses_the_condition_named_earlier() -> None:
    (reply,), events = run(ActionAnswer(), tracker("am_i_a_candidate", slots={"condition": "osteoporosis"}))
    assert reply["text"].startswith("Your doctor decides.")
    assert "Osteoporosis is on the article's list" in reply["text"]
    assert reply["answer_ids"] == ["am_i_a_candidate", "condition_osteoporosis"]
    assert events == [SlotSet("last_answers", ["am_i_a_candidate", "condition_osteoporosis"])]


def test_a_fracture_alone_gets_its_answer_and_the_whole_list() -> None:
    state = tracker("conditions_treated", entities=entities("condition", "compression_fracture"))
    assert reply_of(ActionAnswer(), state)["answer_ids"] == [
        "condition_compression_fracture",
        "conditions_treated",
    ]


@pytest.mark.parametrize(
    "question, answer_ids",
    [
        (
            "is it only for old ladies with thin bones or other problems too",
            ["condition_osteoporosis", "conditions_treated"],
        ),
        (
            "which problems can it treat, only osteoporosis or other stuff as well?",
            ["condition_osteoporosis", "conditions_treated"],
        ),
        ("can kyphoplasty help with osteoporosis", ["condition_osteoporosis"]),
        ("what does kyphoplasty treat besides osteoporosis", ["conditions_treated"]),
        ("apart from thin bones what else is it used for", ["conditions_treated"]),
    ],
)
def test_a_question_beyond_the_condition_named_also_gets_the_whole_list(
    question: str, answer_ids: List[str]
) -> None:
    state = tracker("conditions_treated", entities=entities("condition", "osteoporosis"))
    state.latest_message["text"] = question
    assert reply_of(ActionAnswer(), state)["answer_ids"] == answer_ids


@pytest.mark.parametrize(
    "question, answer_ids",
    [
        ("can the kyphoplasty thing help with that?", ["condition_cancer"]),
        ("is that something kyphoplasty can help with", ["condition_cancer"]),
        ("is this the kind of thing it treats", ["condition_cancer"]),
        ("can that be treated with the balloon thing", ["condition_cancer"]),
        ("what conditions does it treat?", ["conditions_treated"]),
        ("is that safe for older people", ["conditions_treated"]),
    ],
)
def test_a_condition_question_that_refers_back_uses_the_condition_named_earlier(
    question: str, answer_ids: List[str]
) -> None:
    state = tracker("conditions_treated", slots={"condition": "multiple_myeloma"})
    state.latest_message["text"] = question
    assert reply_of(ActionAnswer(), state)["answer_ids"] == answer_ids


def asked(intent: str, text: str) -> Tracker:
    state = tracker(intent)
    state.latest_message["text"] = text
    return state


@pytest.mark.parametrize(
    "intent, question",
    [
        ("invasiveness", "how many cuts will there be, one or two"),
        ("bone_cement", "how many minutes does the cement take to set"),
        ("does_it_work", "what percentage of people does it work for?"),
        ("safety_and_risks", "what are the chances something goes wrong"),
        ("balloon", "do they use one balloon or two"),
        ("prevention", "it says it reduces the risk of more spine issues. by how much though?"),
    ],
)
def test_a_question_asking_for_a_number_the_answer_does_not_give_is_declined_with_what_is_nearby(
    intent: str, question: str
) -> None:
    reply = reply_of(ActionAnswer(), asked(intent, question))
    assert reply["kind"] == "not_covered" and reply["topic"] == "numbers"
    assert reply["text"].startswith(reply_text("no_numbers"))
    assert [q["id"] for q in reply["quotes"]][-1] == KNOWLEDGE.answers[intent].evidence[-1].id
    assert numbers(reply) == [CLINIC.phone]


def about_condition(intent: str, text: str, condition: str) -> Tracker:
    state = tracker(intent, entities("condition", condition), ranking=unclear((intent, 0.4)))
    state.latest_message["text"] = text
    return state


@pytest.mark.parametrize(
    "intent, text, condition",
    [
        ("condition_osteoporosis", "does osteoporosis run in families?? worried about me", "osteoporosis"),
        ("no_cure", "is multiple myeloma curable these days", "multiple_myeloma"),
        ("condition_spinal_tumor", "are spinal tumours usually cancerous or mostly harmless", "spinal_tumor"),
        ("conditions_treated", "what causes osteoporosis in the first place", "osteoporosis"),
        ("condition_osteoporosis", "is osteoporosis hereditary?", "osteoporosis"),  # the question focus
        # the relatives are the story's, not the question's
        (
            "condition_osteoporosis",
            "Is osteoporosis hereditary? My mum and my gran both had it.",
            "osteoporosis",
        ),
    ],
)
@pytest.mark.parametrize("action", [ActionAnswer(), ActionClarify()], ids=["answer", "clarify"])
def test_a_question_about_a_condition_itself_is_declined_with_what_the_article_says_of_it(
    action: Action, intent: str, text: str, condition: str
) -> None:
    reply = reply_of(action, about_condition(intent, text, condition))
    assert reply["kind"] == "not_covered" and reply["topic"] == "condition_itself"
    assert reply["text"].startswith(reply_text("condition_itself"))
    said = KNOWLEDGE.answer_for_condition(condition)
    assert said is not None and {s.id for s in said.evidence} <= {q["id"] for q in reply["quotes"]}
    assert numbers(reply) == [CLINIC.phone]


@pytest.mark.parametrize(
    "text",
    [
        "can kyphoplasty help with osteoporosis?",  # names the procedure
        "would it help her osteoporosis",  # points at it
        "my mom has osteoporosis",  # a statement, to hear about the procedure
        "what about osteoporosis?",  # a follow-up adding a condition
        "is osteoporosis on the list",  # a word that links it to the treatment
        "what about people with osteoporosis, can they have it",
        "can u do kyphoplsty on osteoporosis",  # the procedure misspelt past the entity ruler
        "why did her back break, she has osteoporosis",  # the breaks the procedure treats
        "and for my dad? he has osteoporosis",  # a follow-up, and a relative who would have it
        "what about thin brittle bones",  # a follow-up however long the condition's words
        "My mum has osteoporosis. Can it help her?",  # the question points at the procedure
        "is osteoporosis included",
        "osteoporosis too?",
    ],
)
def test_a_condition_question_that_links_the_condition_to_the_procedure_is_answered(text: str) -> None:
    reply = reply_of(ActionAnswer(), about_condition("condition_osteoporosis", text, "osteoporosis"))
    assert reply["kind"] == "answer"


@pytest.mark.parametrize(
    "intent, question",
    [
        ("is_it_new", "who invented the balloon kyphoplasty"),
        ("is_it_new", "you say its relatively new, what year did kyphoplasty actually start being done"),
        ("bone_cement", "which brand of cement do they use"),
        ("balloon", "do they use the kyphon balloon or a different brand"),
        ("balloon", "who makes the balloon they use"),
    ],
)
def test_a_question_asking_for_a_name_or_date_the_answer_does_not_give_is_declined_with_what_is_nearby(
    intent: str, question: str
) -> None:
    reply = reply_of(ActionAnswer(), asked(intent, question))
    assert reply["kind"] == "not_covered" and reply["topic"] == "names"
    assert reply["text"].startswith(reply_text("no_names"))
    assert {s.id for s in KNOWLEDGE.answers[intent].evidence} <= {q["id"] for q in reply["quotes"]}


def test_who_decides_asks_no_name_and_is_answered() -> None:
    reply = reply_of(
        ActionAnswer(), asked("am_i_a_candidate", "who makes the decision whether im a candidate")
    )
    assert reply["kind"] == "answer" and reply["answer_ids"][0] == "am_i_a_candidate"


@pytest.mark.parametrize(
    "intent, question, topic",
    [
        ("posture", "will my back be completely straight after", "degree"),
        ("less_medication", "can i come off my tramadol completely once ive had kyphoplasty", "degree"),
        ("pain_relief", "will the pain be gone for good after kyphoplasty", "degree"),
        ("posture", "will it help my posture", None),
        ("no_cure", "the doctor said nothing will fully cure my squashed vertebra, is that true", None),
        ("vs_vertebroplasty", "is kyphoplasty safer than vertebroplasty", "comparison"),
        ("vs_vertebroplasty", "which one works better for the pain, kypho or vertebro", "comparison"),
        ("vs_vertebroplasty", "whats the difference between kyphoplasty and vertebroplasty", None),
        ("recovery", "is recovery quicker than with normal back surgery", None),  # "faster than" given
        ("recovery", "is the recovery quicker than with vertebroplasty?", "comparison"),
        ("pain_relief", "is kyphoplasty better at relieving pain than vertebroplasty?", "comparison"),
        ("prevention", "does having it make the other vertebrae more likely to break?", "other_vertebrae"),
        ("prevention", "will it stop fractures in the vertebrae above and below", "other_vertebrae"),
        ("quality_of_life", "will i be able to do yoga again?", "activity"),
        ("mobility", "mums bedroom is upstairs, will she manage the stairs straight after", "activity"),
        ("mobility", "will i be able to walk again", None),  # its answer: "move again"
        ("does_it_work", "does it work on every type of spinal fracture", "everyone"),
        ("does_it_work", "does kyphoplasty always work?", "everyone"),
        # a story's "every time", not the question's
        ("other_treatments_failed", "nothing is working, it hurts every time i stand. is it an option", None),
    ],
)
def test_a_question_asking_a_detail_its_answer_does_not_give_is_declined(
    intent: str, question: str, topic: Optional[str]
) -> None:
    reply = reply_of(ActionAnswer(), asked(intent, question))
    if topic is None:
        assert reply["kind"] == "answer"
        return
    assert reply["kind"] == "not_covered" and reply["topic"] == topic
    detail = next(d for d in DETAILS if d.name == topic)
    assert reply["text"].startswith(reply_text(detail.reply))
    assert {s.id for s in KNOWLEDGE.answers[intent].evidence} <= {q["id"] for q in reply["quotes"]}


@pytest.mark.parametrize(
    "question, ranking, topic",
    [
        ("who invented the balloon kyphoplasty", [("is_it_new", 0.4), ("balloon", 0.3)], "names"),
        ("how many compression fractures heal on their own", [("no_cure", 0.45)], "numbers"),
        ("how many steps are there again", [("how_it_is_done", 0.45)], None),  # its answer has them
    ],
)
def test_an_unclear_question_asking_for_a_detail_no_offered_answer_gives_is_declined(
    question: str, ranking: List[Tuple[str, float]], topic: Optional[str]
) -> None:
    state = tracker("nlu_fallback", ranking=unclear(*ranking))
    state.latest_message["text"] = question
    reply = reply_of(ActionClarify(), state)
    if topic is None:
        assert reply["kind"] == "clarify"
        return
    likeliest = KNOWLEDGE.answers[ranking[0][0]]
    assert reply["kind"] == "not_covered" and reply["topic"] == topic
    assert {q["id"] for q in reply["quotes"]} >= {s.id for s in likeliest.evidence}
    assert numbers(reply) == [CLINIC.phone]


@pytest.mark.parametrize(
    "question, offered",
    [
        ("does cbd oil help back pain", False),
        ("is yoga any good for lower back pain", False),
        ("would a back brace help my mum", False),
        ("is tramadol or codeine better for back pain", False),
        ("is kyphoplasty better than vertebroplasty", True),  # the procedure is the subject
        ("does it help with the pain", True),  # points at the procedure
        ("does the pain ease straight away", True),  # the pain is no remedy
        ("would the balloon thing help", True),  # a part of the procedure
        ("can u help with my back", True),  # the assistant
    ],
)
def test_an_unclear_question_whether_something_else_helps_gets_the_other_treatments_reply(
    question: str, offered: bool
) -> None:
    state = tracker("nlu_fallback", ranking=unclear(("pain_relief", 0.45)))
    state.latest_message["text"] = question
    reply = reply_of(ActionClarify(), state)
    if offered:
        assert reply["kind"] == "clarify" and reply["answer_ids"] == ["pain_relief"]
        return
    assert reply["kind"] == "not_covered" and reply["topic"] == "alternatives"
    assert reply["text"].startswith(KNOWLEDGE.topics["alternatives"].text.split(". ")[0])
    assert numbers(reply) == [CLINIC.phone]


def test_a_question_asking_for_a_number_the_answer_gives_is_answered() -> None:
    reply = reply_of(ActionAnswer(), asked("how_it_is_done", "how many steps are there?"))
    assert reply["kind"] == "answer" and reply["answer_ids"] == ["how_it_is_done"]


def test_tell_me_more_continues_with_a_related_answer() -> None:
    (reply,), events = run(
        ActionTellMeMore(), tracker("tell_me_more", slots={"last_answers": ["what_is_kyphoplasty"]})
    )
    assert events == [SlotSet("last_answers", ["how_it_is_done"])]
    assert reply["kind"] == "answer" and reply["text"].startswith("Step 1")


def test_tell_me_more_without_an_answer_offers_questions() -> None:
    (reply,), events = run(ActionTellMeMore(), tracker("tell_me_more"))
    assert events == []
    assert reply["kind"] == "menu" and titles(reply) == STARTERS


def test_where_is_that_from_shows_the_last_answers_sentences_and_references() -> None:
    reply = FIXTURES["sources"]
    assert reply["kind"] == "sources"
    assert quote_ids(reply) == [s.id for s in KNOWLEDGE.quoted(KNOWLEDGE.answers["recovery"].evidence)]
    assert [r["number"] for r in reply["references"]] == list(KNOWLEDGE.answers["recovery"].reference_numbers)


def test_where_does_this_come_from_without_an_answer_lists_the_article_and_all_references() -> None:
    reply = reply_of(ActionShowSources(), tracker("ask_sources"))
    assert CLINIC.article_url in reply["text"]
    assert reply["quotes"] == []
    assert [r["url"] for r in reply["references"]] == [r.url for r in KNOWLEDGE.references.values()]


# ---------- clarify, decline, menu ----------


def test_unclear_message_offers_the_likeliest_questions() -> None:
    ranking = unclear(("sedation", 0.41), ("pain_relief", 0.2), ("greet", 0.2), ("recovery", 0.05))
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert reply["kind"] == "clarify" and reply["text"] == reply_text("clarify")
    assert reply["answer_ids"] == ["sedation", "pain_relief"]
    assert titles(reply) == [
        KNOWLEDGE.answers["sedation"].question,
        KNOWLEDGE.answers["pain_relief"].question,
    ]


def test_unclear_condition_question_naming_a_condition_is_answered() -> None:
    ranking = unclear(("conditions_treated", 0.4), ("out_of_scope", 0.33))
    state = tracker("nlu_fallback", entities=entities("condition", "spinal_tumor"), ranking=ranking)
    (reply,), events = run(ActionClarify(), state)
    assert reply["kind"] == "answer"
    assert "Spinal tumors [5]" in [q["text"] for q in reply["quotes"]]
    assert events == [SlotSet("last_answers", ["condition_spinal_tumor"])]


def test_unclear_message_naming_a_condition_offers_its_answer_where_a_condition_question_ranks() -> None:
    ranking = unclear(("pain_relief", 0.3), ("am_i_a_candidate", 0.25))
    state = tracker("nlu_fallback", entities=entities("condition", "spinal_tumor"), ranking=ranking)
    assert reply_of(ActionClarify(), state)["answer_ids"] == [
        "pain_relief",
        "condition_spinal_tumor",
        "am_i_a_candidate",
    ]


@pytest.mark.parametrize(
    "ranking",
    [
        unclear(("out_of_scope", 0.3), ("recovery", 0.2)),
        unclear(("cost_and_insurance", 0.3), ("recovery", 0.2)),
        unclear(("greet", 0.5), ("recovery", 0.05)),
    ],
)
def test_unclear_message_that_is_likelier_not_covered_is_declined(ranking) -> None:
    assert reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))["kind"] == "decline"


def test_unclear_message_whose_topics_together_outweigh_its_likeliest_answer_is_declined() -> None:
    # "Does kyphoplasty get rid of the cancer in the bone too, or does it only fix the break?"
    ranking = unclear(("prevention", 0.2), ("cancer_treatment", 0.19), ("unlisted_effects", 0.17))
    assert reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))["kind"] == "decline"
    # "im not having any trouble breathing, but does the balloon go right inside the bone"
    ranking = unclear(("balloon", 0.32), ("procedure_details", 0.2), ("specific_risks", 0.14))
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert reply["kind"] == "clarify" and reply["answer_ids"][0] == "balloon"


def test_unclear_message_likelier_a_topic_than_all_else_gets_that_topic_s_reply() -> None:
    # "how soon could I go back to my job?"
    ranking = unclear(("activity_after", 0.66), ("recovery", 0.25))
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert reply["kind"] == "not_covered" and reply["topic"] == "activity_after"
    ranking = unclear(("activity_after", 0.45), ("timing", 0.3), ("recovery", 0.1))
    assert reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))["kind"] == "decline"


@pytest.mark.parametrize(
    "nearest, kind, topic",
    [
        # "will i feel the needle going in?": among anaesthesia questions, not the sedation answer's
        ([("anesthesia_details", 0.81), ("sedation", 0.19)], "not_covered", "anesthesia_details"),
        # several uncovered intents together are the majority: the likeliest of them replies
        (
            [("sedation", 0.45), ("anesthesia_details", 0.3), ("out_of_scope", 0.25)],
            "not_covered",
            "anesthesia_details",
        ),
        ([("out_of_scope", 0.6), ("sedation", 0.4)], "decline", None),
        # below the share, the classifier's ranking decides: "did you mean ...?"
        ([("anesthesia_details", 0.45), ("sedation", 0.55)], "clarify", None),
    ],
)
def test_unclear_message_whose_nearest_examples_are_mostly_uncovered_is_declined(
    nearest: List[Tuple[str, float]], kind: str, topic: Optional[str]
) -> None:
    ranking = unclear(("sedation", 0.35), ("anesthesia_details", 0.31))
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking, nearest=nearest))
    assert reply["kind"] == kind and reply.get("topic") == topic


def test_an_answer_the_classifier_finds_likelier_than_the_rest_is_offered_not_voted_down() -> None:
    # "can i have kyphoplasty done": DIET 0.63 candidacy; its nearest examples mostly uncovered
    nearest = [("prevent_first_fracture", 0.3), ("avoid_major_surgery", 0.3), ("eligibility_limits", 0.3)]
    replies = []
    for confidence in (0.63, 0.47):
        ranking = unclear(("am_i_a_candidate", confidence), ("eligibility_limits", 0.07))
        replies.append(reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking, nearest=nearest)))
    offered, voted_down = replies
    assert offered["kind"] == "clarify" and offered["answer_ids"][0] == "am_i_a_candidate"
    assert voted_down["kind"] == "not_covered"


def test_a_named_condition_a_likely_condition_question_asks_about_is_offered_over_a_likelier_topic() -> None:
    ranking = unclear(("diagnosis", 0.54), ("conditions_treated", 0.36))
    state = tracker("nlu_fallback", entities=entities("condition", "osteoporosis"), ranking=ranking)
    state.latest_message["text"] = "xray says compression fracture at T12, is that the kind of thing it's for"
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == "clarify" and reply["answer_ids"][0] == "condition_osteoporosis"
    # without the condition named, the topic likelier than all else replies
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert reply["kind"] == "not_covered" and reply["topic"] == "diagnosis"


def test_a_named_condition_a_likely_condition_question_asks_about_is_never_declined_by_the_vote() -> None:
    # "mum has osteoporosis, would it help her pain?": the unlisted-conditions reply would be wrong
    ranking = unclear(("pain_relief", 0.35), ("conditions_treated", 0.3), ("out_of_scope", 0.2))
    nearest = [("unlisted_conditions", 0.55), ("conditions_treated", 0.45)]
    state = tracker(
        "nlu_fallback", entities=entities("condition", "osteoporosis"), ranking=ranking, nearest=nearest
    )
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == "clarify" and "condition_osteoporosis" in reply["answer_ids"]


@pytest.mark.parametrize(
    "nearest",
    [None, "anesthesia_details", ["anesthesia_details"], [{"name": "anesthesia_details"}], {"share": 0.9}],
)
def test_missing_or_malformed_nearest_examples_leave_the_classifier_to_decide(nearest: Any) -> None:
    state = tracker("nlu_fallback", ranking=unclear(("sedation", 0.41), ("pain_relief", 0.2)))
    if nearest is None:
        del state.latest_message["nearest_examples"]  # a message that skipped NLU
    else:
        state.latest_message["nearest_examples"] = nearest  # events posted in another shape
    assert reply_of(ActionClarify(), state)["answer_ids"] == ["sedation", "pain_relief"]


@pytest.mark.parametrize("share, kind", [(0.81, "clarify"), (0.7, "not_covered")])
def test_unclear_message_whose_nearest_examples_are_mostly_one_answer_is_offered_it(
    share: float, kind: str
) -> None:
    # "The leaflet says they blow up a little balloon inside the bone. What is the point of that?"
    ranking = unclear(("procedure_details", 0.58), ("conditions_treated", 0.2))
    nearest = [("balloon", share), ("procedure_details", 1 - share)]
    reply = reply_of(ActionClarify(), tracker("nlu_fallback", ranking=ranking, nearest=nearest))
    assert reply["kind"] == kind
    assert reply.get("answer_ids", ["balloon"])[0] == "balloon"  # offered first, or not at all


@pytest.mark.parametrize(
    "probability, kind, topic",
    [
        (0.93, "not_covered", "cement_material"),  # the likeliest uncovered intent replies
        (0.9, "not_covered", "cement_material"),
        (0.89, "clarify", None),  # below the bar, the classifier's ranking decides
        (None, "clarify", None),  # a message without one (skipped NLU, an older model)
        ("0.95", "clarify", None),  # malformed: events posted in another shape
        (True, "clarify", None),
        (7.0, "clarify", None),
    ],
)
def test_unclear_message_likely_uncovered_is_declined_as_its_likeliest_uncovered_topic(
    probability: Any, kind: str, topic: Optional[str]
) -> None:
    # "I get that they put bone cement in to hold it together. What brand of cement do they use though?"
    ranking = unclear(("bone_cement", 0.45), ("cement_material", 0.3), ("out_of_scope", 0.1))
    state = tracker("nlu_fallback", ranking=ranking, nearest=[("bone_cement", 0.6), ("cement_material", 0.4)])
    if probability is not None:
        state.latest_message["uncovered_probability"] = probability
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind and reply.get("topic") == topic


def test_a_likely_uncovered_message_with_no_uncovered_intent_ranked_is_declined() -> None:
    state = tracker("nlu_fallback", ranking=unclear(("condition_cancer", 0.3), ("no_cure", 0.2)))
    state.latest_message["uncovered_probability"] = 0.96  # "how long do people live with myeloma"
    assert reply_of(ActionClarify(), state)["kind"] == "decline"


@pytest.mark.parametrize(
    "ranking, named",
    [
        # an answer likelier than all else: "do they put you to sleep for the cement job or not"
        ((("sedation", 0.63), ("anesthesia_details", 0.2)), ()),
        # a condition named and asked about: "can you have kyphoplasty if you have cancer"
        ((("eligibility_limits", 0.24), ("conditions_treated", 0.2)), ("condition", "cancer")),
    ],
)
def test_the_uncovered_probability_keeps_the_votes_exceptions(ranking: Any, named: Tuple[str, ...]) -> None:
    # the named condition's message also names the procedure (see the general condition question)
    found = entities(*named) + entities("procedure", "kyphoplasty") if named else []
    state = tracker("nlu_fallback", entities=found, ranking=unclear(*ranking))
    state.latest_message["uncovered_probability"] = 0.93
    assert reply_of(ActionClarify(), state)["kind"] == "clarify"


@pytest.mark.parametrize(
    "probability, text, procedure, kind",
    [
        (0.96, "what are the early signs of multiple myeloma", False, ("not_covered", "diagnosis")),
        # uncertain: declined as a question about the condition itself
        (0.7, "what are the early signs of multiple myeloma", False, ("not_covered", "condition_itself")),
        (0.96, "can you have kyphoplasty if you have myeloma", True, ("clarify", None)),
        (0.7, "can it help if i have myeloma", False, ("clarify", None)),
    ],
)
def test_a_general_question_about_a_named_condition_is_declined(
    probability: float, text: str, procedure: bool, kind: Tuple[str, Optional[str]]
) -> None:
    named = entities("condition", "multiple_myeloma") + (
        entities("procedure", "kyphoplasty") if procedure else []
    )
    ranking = unclear(("diagnosis", 0.2), ("after_care", 0.13), ("conditions_treated", 0.12))
    state = tracker("nlu_fallback", entities=named, ranking=ranking)
    state.latest_message["text"] = text
    state.latest_message["uncovered_probability"] = probability
    reply = reply_of(ActionClarify(), state)
    assert (reply["kind"], reply.get("topic")) == kind
    if reply["kind"] == "clarify":  # the condition the message names is offered first
        assert reply["answer_ids"][0] == "condition_cancer"


@pytest.mark.parametrize(
    "text, kind",
    [
        ("does vitamin d help with osteoporosis", "not_covered"),  # the topic likelier than all else
        ("my mum has osteoporosis, would it help her?", "clarify"),  # points at the procedure
        ("is that the kind of thing they do for osteoporosis", "clarify"),
    ],
)
def test_a_condition_question_that_does_not_point_at_the_procedure_gets_the_likeliest_topic(
    text: str, kind: str
) -> None:
    ranking = unclear(("osteoporosis_medicines", 0.64), ("conditions_treated", 0.16))
    state = tracker("nlu_fallback", entities=entities("condition", "osteoporosis"), ranking=ranking)
    state.latest_message["text"] = text
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind
    assert reply.get("topic", "osteoporosis_medicines") == "osteoporosis_medicines"
    assert reply.get("answer_ids", ["condition_osteoporosis"])[0] == "condition_osteoporosis"


@pytest.mark.parametrize(
    "probability, kind",
    [(0.09, "clarify"), (0.5, "decline"), (None, "decline")],  # None: no probability in the parse
)
def test_most_nearest_examples_one_answer_is_offered_when_the_message_is_likely_covered(
    probability: Optional[float], kind: str
) -> None:
    # "would it straighten him up a bit?": DIET leans to a not-covered topic, its neighbours do not
    ranking = unclear(("unlisted_conditions", 0.43), ("posture", 0.36))
    state = tracker(
        "nlu_fallback", ranking=ranking, nearest=[("posture", 0.71), ("unlisted_conditions", 0.29)]
    )
    if probability is not None:
        state.latest_message["uncovered_probability"] = probability
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind
    assert reply.get("answer_ids", ["posture"]) == ["posture"]


def test_the_nearest_answer_does_not_reorder_what_the_classifier_offers() -> None:
    ranking = unclear(("sedation", 0.41), ("pain_relief", 0.2))
    state = tracker("nlu_fallback", ranking=ranking, nearest=[("recovery", 0.9), ("sedation", 0.1)])
    assert reply_of(ActionClarify(), state)["answer_ids"] == ["sedation", "pain_relief"]


@pytest.mark.parametrize(
    "confidence, neighbours, kind",
    [
        (0.61, 0.0, "answer"),
        (0.4, 0.0, "clarify"),
        (0.48, 0.62, "answer"),  # "can it help him?": most of its nearest examples are candidacy questions
        (0.48, 0.45, "clarify"),
    ],
)
def test_unclear_candidacy_follow_up_uses_the_condition_named_earlier_when_likelier_than_all_else(
    confidence: float, neighbours: float, kind: str
) -> None:
    # "can kyphoplasty help with osteoporosis?", then "is it right for my mum?"
    ranking = unclear(("am_i_a_candidate", confidence), ("sedation", 0.12))
    nearest = [("am_i_a_candidate", neighbours), ("pain_relief", 1 - neighbours)]
    state = tracker("nlu_fallback", slots={"condition": "osteoporosis"}, ranking=ranking, nearest=nearest)
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind and reply["answer_ids"][:2] == ["am_i_a_candidate", "condition_osteoporosis"]


@pytest.mark.parametrize("confidence, kind", [(0.57, "answer"), (0.4, "clarify")])
def test_unclear_follow_up_referring_back_answers_the_condition_named_earlier_when_likelier_than_all_else(
    confidence: float, kind: str
) -> None:
    # "my dad fell off a ladder and cracked a bone in his spine", then "is that something this treats"
    ranking = unclear(("conditions_treated", confidence), ("am_i_a_candidate", 0.08))
    state = tracker("nlu_fallback", slots={"condition": "trauma"}, ranking=ranking)
    state.latest_message["text"] = "is that something this treats"
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind and reply["answer_ids"][0] == "condition_trauma"


def test_unclear_message_naming_a_condition_offers_its_answer_even_when_a_topic_leads() -> None:
    ranking = unclear(("osteoporosis_medicines", 0.12), ("conditions_treated", 0.1), ("recovery", 0.05))
    state = tracker("nlu_fallback", entities=entities("condition", "osteoporosis"), ranking=ranking)
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == "clarify" and reply["answer_ids"][0] == "condition_osteoporosis"


@pytest.mark.parametrize(
    "condition, kind",
    [
        ("osteoporosis", "clarify"),  # a specific condition a likely condition question asks about
        ("compression_fracture", "not_covered"),  # the fracture every patient names: not second
    ],
)
def test_only_a_specific_condition_shields_a_message_the_nearest_examples_decline(
    condition: str, kind: str
) -> None:
    # "ive got 3 fractured vertebrae, can they do all of them in one go?"
    ranking, nearest = (
        unclear(("eligibility_limits", 0.3), ("am_i_a_candidate", 0.2)),
        [("eligibility_limits", 1.0)],
    )
    state = tracker(
        "nlu_fallback", entities=entities("condition", condition), ranking=ranking, nearest=nearest
    )
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == kind
    assert reply.get("topic", "eligibility_limits") == "eligibility_limits"


def test_a_condition_named_in_the_story_does_not_outrank_the_question_asked() -> None:
    # "mum can barely walk to the loo with this fracture, will it help her get about again?"
    ranking = unclear(("mobility", 0.45), ("conditions_treated", 0.2), ("recovery", 0.15))
    state = tracker("nlu_fallback", entities=entities("condition", "compression_fracture"), ranking=ranking)
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == "clarify"
    assert reply["answer_ids"][:2] == ["mobility", "condition_compression_fracture"]


def test_a_named_condition_alone_is_no_reason_to_offer_its_answer() -> None:
    # "she cracked a bone in her back in a fall... how do we stop her falling again?"
    ranking = unclear(("other_treatments_failed", 0.06), ("alternatives", 0.06), ("conditions_treated", 0.02))
    state = tracker("nlu_fallback", entities=entities("condition", "trauma"), ranking=ranking)
    assert reply_of(ActionClarify(), state)["kind"] == "decline"


def test_declining_says_so_points_to_the_clinic_and_offers_questions() -> None:
    reply = FIXTURES["decline"]
    assert reply["kind"] == "decline" and "article does not cover that" in reply["text"]
    assert numbers(reply) == [CLINIC.phone]
    assert titles(reply) == STARTERS


def test_offer_questions_shows_the_starters() -> None:
    assert FIXTURES["menu"]["kind"] == "menu" and titles(FIXTURES["menu"]) == STARTERS


# ---------- topics the article does not cover ----------


@pytest.mark.parametrize("topic", KNOWLEDGE.topics.values(), ids=lambda t: t.id)
def test_each_topic_the_article_does_not_cover_says_so_quotes_what_is_nearby_and_routes_to_the_clinic(
    topic,
) -> None:
    reply = reply_of(ActionNotCovered(), tracker(topic.id))
    assert reply["kind"] == "not_covered" and reply["topic"] == topic.id
    assert reply["text"] == f"{topic.text} Please ask the team at {CLINIC.name}: call {CLINIC.phone}."
    assert quote_ids(reply) == [s.id for s in KNOWLEDGE.quoted(topic.nearby)]
    assert [r["number"] for r in reply["references"]] == sorted({n for s in topic.nearby for n in s.refs})
    assert numbers(reply) == [CLINIC.phone]
    assert titles(reply) == STARTERS


def test_a_topic_with_nothing_nearby_quotes_nothing() -> None:
    reply = reply_of(ActionNotCovered(), tracker("cost_and_insurance"))
    assert reply["quotes"] == [] and reply["references"] == [] and reply["article"] is None


def test_not_covered_for_an_intent_that_is_no_topic_declines() -> None:
    assert reply_of(ActionNotCovered(), tracker("greet"))["kind"] == "decline"


# ---------- after the procedure, other languages ----------


def test_after_care_sends_to_the_clinic_with_the_signs_that_need_the_emergency_number() -> None:
    reply = FIXTURES["after_care"]
    assert reply["kind"] == "after_care"
    assert "does not cover after-care" in reply["text"] and CLINIC.phone in reply["text"]
    assert reply["text"].endswith(f"Call {CLINIC.emergency_number} now if you notice:")
    assert reply["watch_for"] == [TEXTS["red_flags"][kind]["watch_for"] for kind in red_flag_kinds()]
    assert numbers(reply) == [CLINIC.phone, CLINIC.emergency_number]
    assert reply["quotes"] == [] and reply["buttons"] == []


@pytest.mark.parametrize("code", sorted(TEXTS["other_language"]))
def test_another_language_gets_the_numbers_in_that_language(code: str) -> None:
    reply = reply_of(ActionOtherLanguage(), tracker("other_language", entities("language", code)))
    assert reply["kind"] == "other_language" and reply["language"] == code
    assert reply["text"] == " ".join(TEXTS["other_language"][code].split()).format(**CLINIC.template_values())
    for value in (CLINIC.name, CLINIC.phone, CLINIC.emergency_number, CLINIC.crisis_line):
        assert value in reply["text"]
    assert numbers(reply) == [CLINIC.phone, CLINIC.emergency_number, CLINIC.crisis_line]


@pytest.mark.parametrize("detected, language", [("es-MX", "es"), ("ZH", "zh"), ("xx", "en"), (None, "en")])
def test_a_language_without_its_own_text_gets_english(detected: Optional[str], language: str) -> None:
    found = entities("language", detected) if detected else []
    assert reply_of(ActionOtherLanguage(), tracker("other_language", found))["language"] == language


# ---------- emergencies ----------


@pytest.mark.parametrize("kind", red_flag_kinds())
def test_each_red_flag_gets_its_emergency_instruction_and_nothing_else(kind: str) -> None:
    (reply,), events = run(ActionRedFlag(), tracker("red_flag", entities=entities("red_flag", kind)))
    values = CLINIC.template_values()
    assert reply["kind"] == "emergency"
    assert numbers(reply) == [values[name] for name in TEXTS["red_flags"][kind]["call"]]
    assert reply["buttons"] == [] and reply["quotes"] == [] and reply["safety_note"] is None
    assert events == []


@pytest.mark.parametrize(
    "kind, number",
    [
        ("legs", "911"),
        ("saddle_numbness", "911"),
        ("confusion", "911"),
        ("wound_infection", CLINIC.phone),
        ("self_harm", "988"),
    ],
)
def test_the_emergency_names_the_number_to_call(kind: str, number: str) -> None:
    reply = reply_of(ActionRedFlag(), tracker("red_flag", entities=entities("red_flag", kind)))
    assert number in reply["text"] and numbers(reply)[0] == number


def test_confusion_speaks_to_a_relative_who_may_be_writing() -> None:
    reply = reply_of(ActionRedFlag(), tracker("red_flag", entities=entities("red_flag", "confusion")))
    assert "if someone is very hard to wake or suddenly confused" in reply["text"]


def test_the_most_urgent_red_flag_comes_first_when_several() -> None:
    replies, _ = run(
        ActionRedFlag(), tracker("red_flag", entities("red_flag", "legs", "self_harm", "chest_pain"))
    )
    assert [numbers(r)[0] for r in replies] == ["988", "911", "911"]
    assert "chest pain" in replies[1]["text"] and "legs" in replies[2]["text"]


def test_red_flag_intent_without_a_detected_kind_still_sends_to_emergency_care() -> None:
    (reply,), _ = run(ActionRedFlag(), tracker("red_flag"))
    assert numbers(reply) == ["911", "988"]


def after(previous: Tracker, latest: Tracker) -> Tracker:
    """`latest` as the turn that follows `previous` in one conversation (a new tracker)."""
    following = copy.copy(latest)
    following.events = previous.events + latest.events
    return following


@pytest.mark.parametrize(
    "action, latest",
    [
        (ActionClarify(), tracker("nlu_fallback", ranking=unclear(("recovery", 0.3)))),  # "what do i do"
        (ActionDecline(), tracker("out_of_scope")),
        (ActionNotCovered(), tracker("timing")),  # "can it wait till the morning?"
    ],
)
def test_an_unclear_or_uncovered_message_right_after_an_emergency_gets_the_emergency_again(
    action: Any, latest: Tracker
) -> None:
    emergency = tracker("red_flag", entities("red_flag", "legs"))
    replies, _ = run(action, after(emergency, latest))
    assert [r["kind"] for r in replies] == ["emergency"] and "legs" in replies[0]["text"]
    assert reply_of(action, after(tracker("greet"), latest))["kind"] != "emergency"


def test_a_covered_question_right_after_an_emergency_is_answered() -> None:
    latest = after(tracker("red_flag", entities("red_flag", "legs")), tracker("recovery"))
    assert reply_of(ActionAnswer(), latest)["kind"] == "answer"


# ---------- safety notes ----------


NOTED = {
    "answer": (ActionAnswer(), "recovery"),
    "not_covered": (ActionNotCovered(), "activity_after"),
    "decline": (ActionDecline(), "out_of_scope"),
    "after_care": (ActionAfterCare(), "after_care"),
    "other_language": (ActionOtherLanguage(), "other_language"),
}


@pytest.mark.parametrize("kind", NOTED)
def test_a_red_flag_only_mentioned_gets_a_safety_note_before_the_reply(kind: str) -> None:
    action, intent = NOTED[kind]
    reply = reply_of(action, tracker(intent, entities("red_flag_mention", "chest_pain")))
    assert reply["kind"] == kind
    assert reply["safety_note"] == {
        "text": "If you have chest pain now, call 911.",
        "call": [{"number": "911", "tel": "911"}],
    }


def test_an_unclear_message_mentioning_a_red_flag_gets_the_note_with_its_choices() -> None:
    state = tracker(
        "nlu_fallback", entities("red_flag_mention", "fainting"), ranking=unclear(("sedation", 0.4))
    )
    reply = reply_of(ActionClarify(), state)
    assert reply["kind"] == "clarify" and "faint" in reply["safety_note"]["text"]


def test_several_mentions_get_one_line_each_most_urgent_first_with_their_numbers() -> None:
    found = entities("red_flag_mention", "wound_infection", "self_harm", "not_a_kind")
    note = reply_of(ActionAnswer(), tracker("recovery", found))["safety_note"]
    first, second = note["text"].split("\n")
    assert "harming yourself" in first and "fever" in second
    assert numbers(note) == ["988", "911", CLINIC.phone]


def test_no_mention_no_note_and_menus_sources_and_emergencies_never_get_one() -> None:
    assert (
        reply_of(ActionAnswer(), tracker("recovery", entities("red_flag_mention", "unknown")))["safety_note"]
        is None
    )
    mention = entities("red_flag_mention", "legs")
    for action, state in [
        (ActionOfferQuestions(), tracker("greet", mention)),
        (ActionShowSources(), tracker("ask_sources", mention)),
        (ActionRedFlag(), tracker("red_flag", mention + entities("red_flag", "chest_pain"))),
    ]:
        assert reply_of(action, state)["safety_note"] is None


# ---------- the schema, and every number built from the clinic's settings ----------


@pytest.mark.parametrize("kind", FIXTURES)
def test_every_reply_has_the_common_fields_and_names_the_numbers_it_offers_to_call(kind: str) -> None:
    reply = FIXTURES[kind]
    assert reply["kind"] == kind
    assert set(reply) >= COMMON_FIELDS
    assert all(set(q) == {"id", "text", "refs"} for q in reply["quotes"])
    assert all(set(r) == {"number", "label", "publisher", "url"} for r in reply["references"])
    assert all(set(b) == {"title", "payload"} for b in reply["buttons"])
    for call in reply["call"]:
        assert call["number"] in reply["text"]
        assert call["tel"] == "".join(c for c in call["number"] if c.isdigit() or c == "+")


def test_replies_follow_the_clinics_settings(monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_PHONE", "(555) 123-4567")
    monkeypatch.setenv("CLINIC_EMERGENCY_NUMBER", "112")
    load_clinic.cache_clear()
    try:
        for action, state in [
            (ActionNotCovered(), tracker("cost_and_insurance")),
            (ActionAfterCare(), tracker("after_care")),
            (ActionOtherLanguage(), tracker("other_language", entities("language", "de"))),
        ]:
            reply = reply_of(action, state)
            assert numbers(reply)[:2] in (["(555) 123-4567"], ["(555) 123-4567", "112"])
            assert "(555) 123-4567" in reply["text"] and "(555) 010-0199" not in reply["text"]
    finally:
        load_clinic.cache_clear()


# ---------- rendering: REST renders text, the widget gets the structure ----------


def test_rest_renders_an_answer_exactly_as_before() -> None:
    messages = render_text(FIXTURES["answer"])
    assert messages == [
        {"text": KNOWLEDGE.answers["what_is_kyphoplasty"].text},
        {
            "text": "From the article:\n"
            "“Kyphoplasty is a relatively new procedure that treats spinal compression fractures due to "
            "cancer, osteoporosis or injury.”\n"
            "“There is no cure for vertebral compression fractures, but a minimally invasive surgical "
            "procedure called kyphoplasty can help restore the structural integrity of the compromised "
            "bones.[2]”"
        },
        {
            "text": "Sources:\n"
            "[2] Kyphoplasty. Physiopedia, 2024. https://www.physio-pedia.com/Kyphoplasty\n"
            f"Sentences without a number: {CLINIC.name}, “{CLINIC.article_title}”, {CLINIC.article_url}",
            "buttons": [
                {"title": "How is kyphoplasty done?", "payload": "/how_it_is_done"},
                {"title": "What are the benefits?", "payload": "/benefits_overview"},
            ],
        },
    ]


def test_rest_renders_a_topic_not_covered_like_an_answer() -> None:
    reply = FIXTURES["not_covered"]
    text, quotes, sources = render_text(reply)
    assert text == {"text": reply["text"]}
    assert quotes["text"].startswith("From the article:\n“Other benefits of this procedure include:”\n")
    assert sources["text"].startswith("Sources:\n") and sources["buttons"] == reply["buttons"]


@pytest.mark.parametrize("kind", ["decline", "clarify", "menu"])
def test_rest_renders_a_reply_with_buttons_as_one_message(kind: str) -> None:
    reply = FIXTURES[kind]
    assert render_text(reply) == [{"text": reply["text"], "buttons": reply["buttons"]}]


@pytest.mark.parametrize("kind", ["emergency", "other_language"])
def test_rest_renders_a_reply_without_buttons_as_its_text(kind: str) -> None:
    assert render_text(FIXTURES[kind]) == [{"text": FIXTURES[kind]["text"]}]


def test_rest_renders_the_sources_without_buttons() -> None:
    intro, quotes, sources = render_text(FIXTURES["sources"])
    assert intro == {"text": "My last answer rests on these sentences of the clinic's article."}
    assert quotes["text"].startswith("From the article:\n“")
    assert sources["text"].startswith("Sources:\n") and "buttons" not in sources


def test_rest_renders_after_care_with_the_signs_as_a_list() -> None:
    (message,) = render_text(FIXTURES["after_care"])
    lines = message["text"].split("\n")
    assert lines[1] == "Call 911 now if you notice:"
    assert lines[2:] == [f"- {sign}" for sign in FIXTURES["after_care"]["watch_for"]]


def test_rest_renders_the_safety_note_first_as_its_own_message() -> None:
    reply = reply_of(ActionDecline(), tracker("out_of_scope", entities("red_flag_mention", "legs")))
    note, declined = render_text(reply)
    assert note == {"text": "If your legs feel newly weak or numb now, call 911."}
    assert declined["text"] == reply["text"] and declined["buttons"] == reply["buttons"]


BUTTON = {"title": "What is kyphoplasty?", "payload": "/what_is_kyphoplasty"}


def collect(channel: PatientRestInput, message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """What the channel answers for one response of the Rasa server."""
    output = channel.output_channel()
    asyncio.run(OutputChannel.send_response(output, "patient", dict(message)))
    return output.messages


def test_the_rest_channel_renders_structure_and_the_widget_channel_passes_it_through() -> None:
    reply = FIXTURES["answer"]
    assert collect(PatientRestInput(), {"custom": reply}) == [
        {"recipient_id": "patient", **message} for message in render_text(reply)
    ]
    assert collect(WidgetInput(), {"custom": reply}) == [{"recipient_id": "patient", "custom": reply}]


def test_domain_responses_are_text_on_rest_and_structured_replies_on_the_widget() -> None:
    assert collect(PatientRestInput(), {"text": "Hello!"}) == [{"recipient_id": "patient", "text": "Hello!"}]
    [widget] = collect(WidgetInput(), {"text": f"Bye! Call {CLINIC.phone}.", "buttons": [BUTTON]})
    assert widget["custom"]["kind"] == "text" and widget["custom"]["buttons"] == [BUTTON]
    assert widget["custom"]["call"] == [{"number": CLINIC.phone, "tel": re.sub(r"[^0-9+]", "", CLINIC.phone)}]


def test_a_reply_that_gives_the_clinics_phone_offers_it_to_call() -> None:
    assert [c["number"] for c in new_reply("answer", f"Call {CLINIC.phone}.")["call"]] == [CLINIC.phone]
    assert new_reply("answer", "No number here.")["call"] == []


# ---------- session ----------


def test_session_start_fills_clinic_settings_and_keeps_the_condition() -> None:
    _, events = run(
        ActionSessionStart(), tracker("greet", slots={"condition": "trauma", "clinic_phone": "old"})
    )
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["condition"] == "trauma"
    assert slots["clinic_phone"] == CLINIC.phone
    assert slots["emergency_number"] == "911"
    assert events[0]["event"] == "session_started"
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


def test_clinic_settings_can_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_PHONE", "(555) 123-4567")
    load_clinic.cache_clear()
    try:
        assert load_clinic().phone == "(555) 123-4567"
    finally:
        load_clinic.cache_clear()
