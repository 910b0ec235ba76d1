"""The project's NLU components, each on its own: normalisation and payloads, the question focus,
language identification, after-care signs, the answerability check and the safety routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
import scipy.sparse
import spacy
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.constants import (
    ENTITIES,
    FEATURE_TYPE_SENTENCE,
    FEATURE_TYPE_SEQUENCE,
    INTENT,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions import guidance
from nlu_components.after_care import AfterCareFinder
from nlu_components.answerability import (
    NEAREST_EXAMPLES,
    UNCOVERED_PROBABILITY,
    AnswerabilityCheck,
    Examples,
    UncoveredScorer,
    content_lemmas,
)
from nlu_components.conversation_turns import ConversationTurns
from nlu_components.language import EnglishWords, LanguageIdentifier, domain_words
from nlu_components.normalization import (
    DOMAIN_RESOURCE,
    KnownNames,
    MessageNormalizer,
    guarded_text,
    is_exact_payload,
    normalize_text,
)
from nlu_components.paths import PROJECT_ROOT
from nlu_components.question_focus import FULL_TEXT_DOC, question_focus
from nlu_components.routing import SafetyRouting
from nlu_components.seed_ensemble import add_member
from nlu_components.sentence_features import SentenceFeaturesOnly
from nlu_components.spacy_entities import SpacyRulerEntityExtractor

NLP = spacy.load("en_kyphoplasty")


def doc(text: str) -> spacy.tokens.Doc:
    return NLP(text.lower())  # as Rasa's SpacyNLP does


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("Ｉ ｃａｎ'ｔ ｂｒｅａｔｈｅ", "I can't breathe"),
        ("I can\u2019t feel my legs", "I can't feel my legs"),
        ("I can't breathe \ud83d", "I can't breathe"),
        ("can\u200b it \ufffdhelp\u00ad me\u200d?", "can it help me?"),
        ("  what\x00 is\x1b it  ", "what  is  it"),
    ],
)
def test_messages_are_put_in_one_canonical_form(raw: str, canonical: str) -> None:
    assert normalize_text(raw) == canonical
    assert normalize_text(canonical) == canonical


@pytest.mark.parametrize(
    "text, exact",
    [
        ("/thank", True),
        ('/conditions_treated{"condition": "osteoporosis"}', True),
        ("/thank{ chest pain", False),
        ("/greet@ I can't breathe", False),
        ("/greet@0.99", False),
        ('/conditions_treated{"condition": "I cannot breathe"}', False),
        ('/conditions_treated{"condition": ["legs"]}', False),
        ("/ what is it", False),
        ('/am_i_a_candidate{"condition":{}}', False),
        ('/am_i_a_candidate{"condition": 1}', False),
        ('/thank{"condition": "osteoporosis"}\nI cannot breathe', False),
    ],
)
def test_only_the_exact_payloads_of_buttons_count_as_payloads(text: str, exact: bool) -> None:
    assert is_exact_payload(text) is exact
    assert guarded_text(text).startswith("/") is exact


KNOWN = KnownNames(frozenset({"thank", "conditions_treated"}), frozenset({"condition"}))


@pytest.mark.parametrize(
    "text, exact",
    [
        ("/thank", True),
        ('/conditions_treated{"condition": "osteoporosis"}', True),
        ("/no_such_intent", False),
        ('/conditions_treated{"no_such_entity": "osteoporosis"}', False),
    ],
)
def test_with_the_domain_only_its_intents_and_entities_count(text: str, exact: bool) -> None:
    assert is_exact_payload(text, KNOWN) is exact
    assert is_exact_payload(text + "\n", KNOWN) is False  # matched whole: "$" would allow a newline


def test_the_normalizer_reads_the_domain_stored_in_the_model(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}))
    assert MessageNormalizer.create({}, storage, Resource("normalizer"), context).known is None  # training
    with storage.write_to(DOMAIN_RESOURCE) as directory:
        Domain.from_dict({"intents": ["greet"], "entities": ["condition"]}).persist(directory / "domain.yml")
    normalizer = MessageNormalizer.create({}, storage, Resource("normalizer"), context)
    assert normalizer.known is not None  # Rasa adds its default intents (restart, session_start...)
    assert "greet" in normalizer.known.intents and "thank" not in normalizer.known.intents
    assert normalizer.known.entities == frozenset({"condition"})
    [greet, other] = normalizer.process([Message({TEXT: "/greet"}), Message({TEXT: "/thank"})])
    assert (greet.get(TEXT), other.get(TEXT)) == ("/greet", "thank")


@pytest.mark.parametrize(
    "message, focus",
    [
        (
            "my dad fell last week and the doctor said he has a fracture. can you tell me how it works?",
            "can you tell me how it works?",
        ),
        (
            "I'm 70 with osteoporosis and a painful fracture, how do I find out if I'm a candidate?",
            "how do i find out if i'm a candidate?",
        ),
        ("no numbness in my legs, just curious how long recovery usually is", None),
        (  # a request a few words in, after a denied symptom
            "dad hasn't got any chest pain, he's fine. he just wants to know if he'll be asleep for it.",
            "he just wants to know if he'll be asleep for it.",
        ),
        ("had the op on monday and was told to rest", None),  # statements, not questions
        (  # a question that points back keeps what it points to
            "my mum fell in may. im allergic to the xray dye, is that a problem for kyphoplasty",
            "im allergic to the xray dye is that a problem for kyphoplasty",
        ),
        ("my mom has osteoporosis. can it help her?", None),  # says little alone: keeps its story
        ("is the bone cement poisonous? does it stay in you forever?", None),  # all questions
        # "does", "is", "can"... open a question before any word, with or without a question mark
        ("does it get rid of the cancer in the bone too, or does it only fix the break?", None),
        (
            "my husband is afraid of another fracture, does kyphoplasty lower that chance",
            "does kyphoplasty lower that chance",
        ),
        ("was told i need the balloon procedure, is the cement safe", "is the cement safe"),
        ("what is kyphoplasty", None),
        (  # a condition, then the question in a question's word order
            "ive been stuck on the sofa for weeks, i have honestly had enough. if i go ahead with the"
            " kyphoplasty will it actually help with the pain",
            "if i go ahead with the kyphoplasty will it actually help with the pain",
        ),
        (  # no question's word order after the condition: "could do it", "are that weak"
            "before the fall she could do it all herself. how long is recovery after kyphoplasty",
            "how long is recovery after kyphoplasty",
        ),
        (  # a condition, then a statement
            "if mum has it done she stays with us. how long is the recovery after kyphoplasty?",
            "how long is the recovery after kyphoplasty?",
        ),
        # an opener with no subject after it continues a statement: no question opens there
        (
            "my mum had it on friday, is still sore and can barely walk. how long does soreness last?",
            "how long does soreness last?",
        ),
        ("the doctor says he may need another one, will be seeing him monday", None),
        (  # a gerund after the opener is its subject; ", which..." after a comma is no question
            "my surgeon mentioned a big operation with rods, which frankly terrifies me. could having"
            " kyphoplasty mean i dont need the major surgery",
            "could having kyphoplasty mean i dont need the major surgery",
        ),
        (
            "my mum, who is 84, fell in march, when could she have the balloon procedure",
            "when could she have the balloon procedure",
        ),
        (  # "when" before a subject: a story's time, not a question
            "when i had my hip replaced i was sick for two days. would i be asleep or awake for kyphoplasty",
            "would i be asleep or awake for kyphoplasty",
        ),
        ("when can i drive after kyphoplasty", None),
        (  # a question that points back but says what it asks by itself
            "my oncologist said the word kyphoplasty and i didn't get to ask. is that something they"
            " do for people with myeloma or mainly for osteoporosis?",
            "is that something they do for people with myeloma or mainly for osteoporosis?",
        ),
        (  # "which" and a noun in a question's word order: a question
            "my grandmother has dementia and gets muddled, which sedation do they use for kyphoplasty",
            "which sedation do they use for kyphoplasty",
        ),
    ],
)
def test_the_question_decides_and_the_story_stays_context(message: str, focus: Any) -> None:
    found = question_focus(doc(message))
    assert found == focus or (focus is None and found is not None and "recovery" in found)


@pytest.fixture(scope="module")
def language() -> LanguageIdentifier:
    table = NLP.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    return LanguageIdentifier(EnglishWords(table, domain_words()))


@pytest.mark.parametrize(
    "text, code",
    [
        ("how long is recovry time", None),
        ("kyfoplasty wat iz it", None),
        ("mum had it done, is she ok", None),
        ("lol ok thx m8", None),
        ("kypho vs vertebro", None),  # the clinic's words, shortened or mistyped, are English
        ("vertabroplasty vs kyphoplsty", None),
        ("¿Qué es la cifoplastia y duele mucho?", "es"),
        ("这个手术安全吗", "zh"),
        ("Phẫu thuật này có an toàn không?", "vi"),
        ("masakit ba ang kyphoplasty pagkatapos", "tl"),
        ("هل هذه العملية آمنة؟", "ar"),
        ("Est-ce que la cyphoplastie fait mal ?", "fr"),
        ("이 수술은 안전한가요?", "ko"),
        ("Эта операция безопасна?", "ru"),
        # Named among the neighbours: German read as English, Italian as Spanish, Ukrainian as
        # Russian, and Japanese as nothing before.
        ("Wie lange dauert die Erholung nach der Kyphoplastie?", "de"),
        ("Ist die Kyphoplastie gefährlich?", "de"),
        ("Mia madre ha l'osteoporosi, può fare questo intervento?", "it"),
        ("Quanto costa la cifoplastica?", "es"),  # too short to tell from Spanish: close enough
        ("Minha mãe tem osteoporose, ela pode fazer?", "pt"),
        ("Ile trwa rekonwalescencja?", "pl"),
        ("手術の後どのくらいで歩けますか", "ja"),
        ("क्या यह प्रक्रिया दर्दनाक है", "hi"),
        ("Скільки триває відновлення?", "uk"),
    ],
)
def test_the_language_of_a_message(language: LanguageIdentifier, text: str, code: Any) -> None:
    assert language.language(text, doc(text)) == code


@pytest.mark.parametrize(
    "text, after_care",
    [
        ("I had it two weeks ago and the pain is back, is that normal?", True),
        ("mum had her kyphoplasty on monday and she's really sore where the needle went", True),
        ("since the procedure my back feels stiff", True),
        ("had the balloon op 3 days ago and theres a bit of dried blood on the plaster, is that ok", True),
        ("can't stop shaking and my heart's racing, had the op this morning", True),
        ("I have a procedure next week and I'm worried about the pain", False),
        ("how long is the recovery after kyphoplasty?", False),
        ("I had kyphoplasty two weeks ago, when can I drive?", False),
        ("they did my procedure last week, the wound is red and hot", True),
        ("dad is worn out since he came home from the procedure", True),
        ("i'm 3 days out from my kyphoplasty and the site is a bit swollen", True),
        ("my kyphoplasty was done on friday and im really tired", True),
        ("I had it last week, can I have a hot bath?", False),
        ("I came home from work and my back is sore, will kyphoplasty help the pain?", False),
        ("did the procedure help your pain, will it help mine", False),
        ("is it normal to be sore after kyphoplasty", False),
        ("3 days after my kyphoplasty and im so tired, just sleeping most of the day", True),
        ("im 2 weeks post and still sore", True),
        ("I'm 2 weeks after and still sore", True),
        ("had two levels done last week and still need paracetamol, is it normal to need painkillers?", True),
        ("had an MRI done last week and it showed a fracture, is it normal to be this sore?", False),
        ("feel really good after mine but im scared to move in case i crack the cement", True),
        ("dad came home from his kyphoplasty this afternoon and he's a bit dozy, is that ok?", True),
        ("i'm scared of the operation, is it painful?", False),
        ("will my back hurt after mine?", False),
        ("she's 3 days out and very sore", True),
        ("shes 3 days out and very sore", True),
        ("mum is 10 days out and so tired", True),
        ("what's it like 2 weeks after, will i be sore", False),
        ("I'm 2 weeks away from my kyphoplasty and my back is sore", False),
        ("3 days after my kyphoplasty and the wound is red, would you say its infected?", True),
        ("is it normal to be sore 2 days after kyphoplasty", False),
        ("do most people get back pain 6 weeks after vertebroplasty?", False),
        ("will i be sore 2 days after kyphoplasty?", False),
        ("got home from hospital yesterday after the balloon thing and i am totally wiped out", True),
        ("came home from hospital yesterday after they found a crushed vertebra, i'm so sore", False),
        ("mum came home from hosp after her back procedure and shes sleeping badly", True),
        ("surgery was wed and the little holes look a bit pink, is that ok", True),
        ("plaster came off in the shower and the little holes look a bit pink, is that ok", True),
        ("when the dressing comes off will the skin be red?", False),
        ("had mine done last week and honestly i feel amazing, is it ok to potter about?", True),
        ("the plaster over my incision has come off, it looks clean and dry. anything i should do", True),
        ("my mum had kyphoplasty last year and feels great, would it help my osteoporosis too?", False),
        ("will the plaster come off by itself?", False),
        # the procedure's wound as it is now says it has happened
        ("the cut on my back itches like mad now", True),
        ("theres a small lump where they put the needle in, sore when i press it", True),
        ("the little wound on my back is sore and pink", True),
        ("will the cut on my back be sore after kyphoplasty?", False),  # a question before it
        ("im booked in next week, will the wound on my back be sore", False),
    ],
)
def test_after_care_needs_a_past_procedure_and_how_the_patient_feels(text: str, after_care: bool) -> None:
    assert AfterCareFinder(NLP).describes_after_care(doc(text)) is after_care


def message(
    text: str, intent: str, ranking: List[str], entities: List[Dict[str, Any]], story: str = ""
) -> Message:
    """A parsed message: `text` the question QuestionFocus left, after `story` in the whole message."""
    parsed = doc(text)
    whole = doc(f"{story} {text}") if story else parsed
    result = Message(data={TEXT: text, SPACY_DOCS[TEXT]: parsed, FULL_TEXT_DOC: whole, ENTITIES: entities})
    result.set(INTENT, {"name": intent, "confidence": 0.9})
    result.set(INTENT_RANKING_KEY, [{"name": n, "confidence": 0.9 - i / 10} for i, n in enumerate(ranking)])
    return result


def checker(counts: Dict[str, Dict[str, int]]) -> AnswerabilityCheck:
    config = {
        **AnswerabilityCheck.get_default_config(),
        "entity_answered_intents": {"conditions_treated": "condition"},
        "unchecked_intents": ["greet"],
    }
    return AnswerabilityCheck(config, None, None, counts)  # type: ignore[arg-type]


COUNTS = {
    "toxic": {"cement_material": 9, "specific_risks": 1},
    "cement": {"bone_cement": 30, "cement_material": 20},
    "yoga": {"out_of_scope": 4},
    "thin": {"prevent_first_fracture": 8},
    "hospital": {"hospital_stay": 5, "vs_vertebroplasty": 1, "recovery": 3},
}


@pytest.mark.parametrize(
    "text, intent, entities, expected",
    [
        ("is the bone cement toxic", "bone_cement", [], "cement_material"),
        ("is yoga safe", "safety_and_risks", [], "out_of_scope"),
        ("is the cement hard", "bone_cement", [], "bone_cement"),  # every word seen: answered
        ("can they fix thin bones", "conditions_treated", [{"entity": "condition"}], "conditions_treated"),
        ("a hospital said so, what is it", "what_is_kyphoplasty", [], "what_is_kyphoplasty"),  # 5 of 9: < 0.8
        ("hello is yoga ok", "greet", [], "greet"),
    ],
)
def test_a_covered_answer_gives_way_when_the_question_asks_an_uncovered_detail(
    text: str, intent: str, entities: List[Dict[str, Any]], expected: str
) -> None:
    checked = checker(COUNTS).process([message(text, intent, [intent], entities)])[0]
    assert checked.get(INTENT)["name"] == expected


@pytest.mark.parametrize("confidence, expected", [(0.95, "bone_cement"), (0.85, "cement_material")])
def test_an_answer_the_classifier_is_sure_of_is_kept(confidence: float, expected: str) -> None:
    gated = checker(COUNTS)
    gated.config["max_confidence"] = 0.9
    asked = message("is the bone cement toxic", "bone_cement", [], [])
    asked.set(INTENT_RANKING_KEY, [{"name": "bone_cement", "confidence": confidence}])
    assert gated.process([asked])[0].get(INTENT)["name"] == expected


@pytest.mark.parametrize(
    "intent, entities, expected",
    [
        ("conditions_treated", ["unlisted_condition"], "unlisted_conditions"),  # "would it help my sciatica?"
        ("conditions_treated", ["unlisted_condition", "condition"], "conditions_treated"),  # and a fracture
        ("recovery", ["unlisted_condition"], "recovery"),  # "I have arthritis; how long is recovery?"
    ],
)
def test_a_condition_question_about_an_unlisted_condition_only_is_that_topic(
    intent: str, entities: List[str], expected: str
) -> None:
    unlisted = checker({})
    unlisted.config["unlisted_entities"] = {"unlisted_condition": "unlisted_conditions"}
    asked = message("would it help", intent, [intent], [{"entity": name} for name in entities])
    assert unlisted.process([asked])[0].get(INTENT)["name"] == expected


def configured_checker() -> AnswerabilityCheck:
    """The AnswerabilityCheck with config.yml's settings (no training counts)."""
    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    settings = next(c for c in pipeline if c["name"].endswith("AnswerabilityCheck"))
    config = {**AnswerabilityCheck.get_default_config(), **settings}
    return AnswerabilityCheck(config, None, None, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("how long does recovery from a vasectomy usually take", "recovery", "out_of_scope"),
        ("does having your gallbladder out leave a big scar", "safety_and_risks", "out_of_scope"),
        ("is a spinal fusion a safe operation", "safety_and_risks", "out_of_scope"),
        # this procedure named too, a comparison, or a comparison's answer: kept
        ("i had a hip replacement, is kyphoplasty recovery as long", "recovery", "recovery"),
        ("will recovery be like after my knee replacement", "recovery", "recovery"),
        ("can it spare me a spinal fusion", "avoid_major_surgery", "avoid_major_surgery"),
        ("how long is recovery after back surgery", "recovery", "recovery"),
    ],
)
def test_a_question_about_another_operation_is_out_of_scope(text: str, intent: str, expected: str) -> None:
    asked = message(text, intent, [intent], [])
    assert configured_checker().process([asked])[0].get(INTENT)["name"] == expected


@pytest.mark.parametrize(
    "story, question, expected",
    [
        ("my mum needs a hip replacement.", "how long is recovery from that", "out_of_scope"),
        (
            "dad is booked for a knee replacement.",
            "how long will he need to recover after that",
            "out_of_scope",
        ),
        # the question does not point back: it asks about this procedure
        ("my mum had a hip replacement last year.", "how long is recovery", "recovery"),
        ("my mum needs a hip replacement and kyphoplasty.", "how long is recovery from that", "recovery"),
    ],
)
def test_a_question_pointing_back_at_another_operation_named_in_the_story_is_out_of_scope(
    story: str, question: str, expected: str
) -> None:
    asked = message(question, "recovery", ["recovery"], [], story=story)
    assert configured_checker().process([asked])[0].get(INTENT)["name"] == expected


def with_feature(result: Message, vector: List[float]) -> Message:
    """The message with a dense sentence feature, as the MiniLM featurizer leaves it."""
    result.add_features(Features(np.array([vector], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "MiniLM"))
    return result


def unclear(vector: List[float], ranking: List[str], entities: Tuple[str, ...] = ()) -> Message:
    """A message behind an `nlu_fallback` (ranked ["nlu_fallback", *ranking]) with this feature."""
    named = [{"entity": name} for name in entities]
    return with_feature(message("will i feel the needle", FALLBACK, [FALLBACK, *ranking], named), vector)


FALLBACK = "nlu_fallback"
# Three questions the article does not answer, two it does (unit vectors on three axes).
NEIGHBOURS = [
    ([1.0, 0.0, 0.0], "anesthesia_details"),
    ([0.9, 0.1, 0.0], "anesthesia_details"),
    ([0.8, 0.0, 0.2], "out_of_scope"),
    ([0.0, 1.0, 0.0], "sedation"),
    ([0.0, 0.0, 1.0], "conditions_treated"),
]


def voter(tmp_path: Path, **config: Any) -> AnswerabilityCheck:
    """An AnswerabilityCheck trained on NEIGHBOURS, stored, and loaded back as at prediction."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    storage, resource = LocalModelStorage(tmp_path), Resource("answerability")
    context = ExecutionContext(GraphSchema({}))
    settings = {
        **AnswerabilityCheck.get_default_config(),
        "nearest_examples": 3,
        "entity_answered_intents": {"conditions_treated": "condition"},
        **config,
    }
    examples = [with_feature(Message({TEXT: name, INTENT: name}), vector) for vector, name in NEIGHBOURS]
    AnswerabilityCheck.create(settings, storage, resource, context).train(TrainingData(examples))
    return AnswerabilityCheck.load(settings, storage, resource, context)


def test_an_unclear_message_gets_the_intents_of_its_nearest_examples(tmp_path: Path) -> None:
    """Three nearest of NEIGHBOURS to (0.6, 0.6, 0): anesthesia_details twice (0.78, 0.71) and
    sedation (0.71): shares of their similarity, largest first, stored in the model and back."""
    [asked] = voter(tmp_path).process([unclear([0.6, 0.6, 0.0], ["sedation"])])
    nearest = asked.get(NEAREST_EXAMPLES)
    assert [n["name"] for n in nearest] == ["anesthesia_details", "sedation"]
    assert nearest[0]["share"] == pytest.approx(0.678, abs=0.002)
    assert sum(n["share"] for n in nearest) == pytest.approx(1.0, abs=0.002)
    assert asked.as_dict(only_output_properties=True)[NEAREST_EXAMPLES] == nearest  # in the parse data
    assert NEAREST_EXAMPLES == guidance.NEAREST_EXAMPLES  # where the reply's action reads them


def test_an_unclear_message_gets_how_likely_it_is_uncovered(tmp_path: Path) -> None:
    """Trained on NEIGHBOURS (three uncovered, two answers), stored and loaded back: a question
    along the uncovered examples' direction is likelier uncovered than one along the answers'."""
    check = voter(tmp_path)
    [near_uncovered, near_answers] = check.process(
        [unclear([0.95, 0.0, 0.05], ["sedation"]), unclear([0.0, 0.7, 0.7], ["sedation"])]
    )
    high, low = near_uncovered.get(UNCOVERED_PROBABILITY), near_answers.get(UNCOVERED_PROBABILITY)
    assert 0.5 < high <= 1.0 and 0.0 <= low < 0.5
    assert near_uncovered.as_dict(only_output_properties=True)[UNCOVERED_PROBABILITY] == high
    assert UNCOVERED_PROBABILITY == guidance.UNCOVERED_PROBABILITY  # where the reply's action reads it
    confident = with_feature(message("x", "sedation", ["sedation"], []), [0.95, 0.0, 0.05])
    assert check.process([confident])[0].get(UNCOVERED_PROBABILITY) is None  # only unclear messages


def test_the_uncovered_scorer_needs_examples_of_both_kinds() -> None:
    examples = Examples(np.eye(3, dtype=np.float32), np.array(["sedation", "recovery", "balloon"]))
    assert UncoveredScorer.fit(examples, {"out_of_scope"}, 3.0) is None
    assert UncoveredScorer.fit(examples, {"sedation"}, 3.0) is not None


def test_a_model_trained_before_the_nearest_examples_loads_without_them(tmp_path: Path) -> None:
    storage, resource = LocalModelStorage(tmp_path), Resource("answerability")
    with storage.write_to(resource) as directory:
        (directory / "intent_lemmas.json").write_text("{}", encoding="utf-8")
    context = ExecutionContext(GraphSchema({}))
    old = AnswerabilityCheck.load(AnswerabilityCheck.get_default_config(), storage, resource, context)
    [asked] = old.process([unclear([0.6, 0.6, 0.0], ["sedation"])])
    assert asked.get(NEAREST_EXAMPLES) == [] and asked.get(UNCOVERED_PROBABILITY) is None


@pytest.mark.parametrize(
    "asked",
    [
        with_feature(message("x", "sedation", ["sedation"], []), [0.95, 0.05, 0.0]),  # not unclear
        message("no feature", FALLBACK, [FALLBACK], []),  # a payload that skipped NLU
    ],
)
def test_only_an_unclear_message_with_a_feature_gets_nearest_intents(tmp_path: Path, asked: Message) -> None:
    assert not voter(tmp_path).process([asked])[0].get(NEAREST_EXAMPLES)


@pytest.mark.parametrize(
    "text, label, concept",
    [
        ("the scan showed a growth on the bone", "CONDITION", "spinal_tumor"),
        ("i've got a slipped disc at l4", "UNLISTED_CONDITION", "disc_problem"),
        ("would it help my pinched nerve", "UNLISTED_CONDITION", "sciatica"),
    ],
)
def test_the_entity_ruler_names_the_concept(text: str, label: str, concept: str) -> None:
    assert (label, concept) in [(ent.label_, ent.ent_id_) for ent in doc(text).ents]


def test_entity_words_are_not_focus_words() -> None:
    assert "thin" not in content_lemmas(message("can it help thin bones", "x", ["x"], []))


def test_a_lemma_that_is_no_word_is_no_focus_word() -> None:
    # spaCy's lookup table lemmatises "first" to "1"; "fracture" is an entity
    asked = message("why do vertebrae fracture in the first place", "x", ["x"], [])
    assert content_lemmas(asked) == {"vertebra", "place"}


@pytest.mark.parametrize("topic_share, expected", [(0.0, "osteoporosis_medicines"), (0.5, "bone_cement")])
def test_a_word_spread_over_several_topics_decides_nothing(topic_share: float, expected: str) -> None:
    spread = {
        "injection": {
            "osteoporosis_medicines": 11,
            "alternatives": 7,
            "anesthesia_details": 5,
            "out_of_scope": 5,
        }
    }
    gated = checker(spread)
    gated.config["min_intent_share"] = topic_share
    asked = message("purpose of cement injection", "bone_cement", ["bone_cement"], [])
    assert gated.process([asked])[0].get(INTENT)["name"] == expected


@pytest.mark.parametrize(
    "entities, text, expected",
    [
        ([{"entity": "red_flag", "value": "legs"}, {"entity": "language", "value": "es"}], "x", "red_flag"),
        ([{"entity": "language", "value": "es"}], "I had it last week and it hurts", "other_language"),
        ([], "I had it last week and it hurts", "after_care"),
        ([], "thanks, I had it last week and it hurts a bit less now", "thank"),
        ([], "what is kyphoplasty", "what_is_kyphoplasty"),
    ],
)
def test_safety_routing_puts_emergencies_first_then_languages_then_after_care(
    entities: List[Dict[str, Any]], text: str, expected: str
) -> None:
    intent = "thank" if text.startswith("thanks") else "what_is_kyphoplasty"
    routed = SafetyRouting().process([message(text, intent, [intent], entities)], NLP_MODEL)[0]
    assert routed.get(INTENT)["name"] == expected


def test_an_unclear_message_most_likely_after_care_gets_the_after_care_reply() -> None:
    text = "a spot of dried blood on the little plaster, is that ok"
    unclear = message(text, "nlu_fallback", ["after_care", "aftercare_instructions"], [])
    assert SafetyRouting().process([unclear], NLP_MODEL)[0].get(INTENT)["name"] == "after_care"
    other = message(text, "nlu_fallback", ["aftercare_instructions", "after_care"], [])
    assert SafetyRouting().process([other], NLP_MODEL)[0].get(INTENT)["name"] == "nlu_fallback"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm undergoing kyphoplasty next month, how long is the recovery period?", "nlu_fallback"),
        ("having it next week, how long till i can drive", "nlu_fallback"),
        ("she is booked in for the procedure, how long is the recovery", "nlu_fallback"),
        ("my husband is meant to be having one in a few weeks, does it work or not", "nlu_fallback"),
        (
            "im 70, broke my back stepping off a bus, i cant sleep, will kyphoplasty help with the pain?",
            "nlu_fallback",
        ),
        ("i am so sore all the time, will it take the pain away", "nlu_fallback"),
        # no date or plan ahead: for someone who may have had it, the after-care reply
        ("still really sore, is that normal", "after_care"),
        ("my incision is red and warm", "after_care"),
        ("my back feels worse than before the procedure", "after_care"),
        ("still having pain after surgery, is that normal", "after_care"),
        ("sore after the op, next steps?", "after_care"),
        ("the wound is weeping a bit, going to get it looked at, is that ok", "after_care"),
        # said to be ahead and also to have happened: the after-care reply stays the safe one
        ("had the op last week, going to have another one next month, still sore", "after_care"),
        ("had it last week and still sore, will it settle?", "after_care"),
        ("my incision is red and warm, will it heal on its own?", "after_care"),
        ("im worried my cut is red, what can i expect", "after_care"),
    ],
)
def test_an_unclear_question_before_the_procedure_is_not_taken_for_after_care(
    text: str, expected: str
) -> None:
    unclear = message(text, "nlu_fallback", ["after_care", "recovery"], [])
    assert SafetyRouting().process([unclear], NLP_MODEL)[0].get(INTENT)["name"] == expected


def test_a_classifier_red_flag_behind_an_unclear_message_is_still_an_emergency() -> None:
    unclear = message("I can't go on", "nlu_fallback", ["nlu_fallback", "red_flag", "greet"], [])
    assert SafetyRouting().route(unclear) == "red_flag"


class _SpacyModel:
    model = NLP


NLP_MODEL = _SpacyModel()


def test_the_classifier_gets_sentence_features_and_one_placeholder_for_the_tokens() -> None:
    """DIET has no transformer: per-token features would only be padded into every batch."""
    sequence = Features(scipy.sparse.coo_matrix(np.ones((5, 30))), FEATURE_TYPE_SEQUENCE, TEXT, "counts")
    sentence = Features(np.ones((1, 384)), FEATURE_TYPE_SENTENCE, TEXT, "minilm")
    label = Features(np.ones((1, 3)), FEATURE_TYPE_SENTENCE, INTENT, "counts")
    message = Message(data={TEXT: "is the bone cement toxic"}, features=[sequence, sentence, label])
    payload = Message(data={TEXT: "/greet"})
    SentenceFeaturesOnly().process([message, payload])
    kept_sequence, kept_sentence = message.get_dense_features(TEXT)
    assert kept_sequence is not None and kept_sequence.features.tolist() == [[0.0]]
    assert message.get_sparse_features(TEXT) == (None, None)
    assert kept_sentence is not None and kept_sentence.features.shape == (1, 384)
    assert label in message.features
    assert payload.features == []


def test_the_seed_ensemble_leaves_the_mean_of_its_members_confidences() -> None:
    message = Message(data={TEXT: "how long is recovery"})
    first = [{"name": "recovery", "confidence": 0.5}, {"name": "mobility", "confidence": 0.4}]
    first += [{"name": f"topic_{n}", "confidence": 0.1 / 12} for n in range(12)]
    second = [{"name": "mobility", "confidence": 0.8}, {"name": "recovery", "confidence": 0.2}]
    third = [{"name": "recovery", "confidence": 0.8}, {"name": "mobility", "confidence": 0.2}]
    add_member(message, first)
    assert message.get(INTENT) == {"name": "recovery", "confidence": 0.5}
    assert len(message.get(INTENT_RANKING_KEY)) == 10  # Rasa's ranking length, over all intents
    add_member(message, second)
    assert message.get(INTENT)["name"] == "mobility"
    assert message.get(INTENT)["confidence"] == pytest.approx(0.6)
    add_member(message, third)
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking[:2]] == ["recovery", "mobility"]
    assert [r["confidence"] for r in ranking[:2]] == pytest.approx([0.5, 0.4667], abs=1e-4)
    assert ranking[2]["confidence"] == pytest.approx(0.1 / 12 / 3)
    parse_result = message.as_dict(only_output_properties=True)
    assert INTENT_RANKING_KEY in parse_result and "seed_ensemble" not in parse_result


def test_a_seed_ensemble_member_without_features_leaves_the_message_as_it_was() -> None:
    message = Message(data={TEXT: "/greet"})
    message.set(INTENT, {"name": "greet", "confidence": 1.0})
    add_member(message, [])
    assert message.get(INTENT) == {"name": "greet", "confidence": 1.0}


@pytest.mark.parametrize(
    "ranking, expected",
    [
        ([("ask_sources", 0.5), ("goodbye", 0.1)], "ask_sources"),  # a conversation turn, above 0.45
        ([("ask_sources", 0.4), ("goodbye", 0.1)], "nlu_fallback"),  # below its bar
        ([("recovery", 0.6), ("ask_sources", 0.3)], "nlu_fallback"),  # an answer keeps the high bar
    ],
)
def test_conversation_turns_keep_a_lower_bar_than_answers(ranking: List[Any], expected: str) -> None:
    unclear = message("where is that from?", "nlu_fallback", [], [])
    unclear.set(
        INTENT_RANKING_KEY,
        [{"name": "nlu_fallback", "confidence": 0.7}]
        + [{"name": name, "confidence": confidence} for name, confidence in ranking],
    )
    turns = ConversationTurns({"intents": ["ask_sources", "goodbye"], "threshold": 0.45})
    assert turns.process([unclear])[0].get(INTENT)["name"] == expected


@pytest.mark.parametrize(
    "text, conditions",
    [
        ("no osteoporosis, its just from the crash. is it used for injuries?", ["trauma"] * 2),
        ("dad came off his quad bike and fractured a vertebra", ["compression_fracture", "trauma"]),
        ("mum tripped over the cat, can it help her", ["trauma"]),
        ("the dressing came off my back in the shower", []),
        ("she doesn't have cancer, it's her osteoporosis, can kyphoplasty help?", ["osteoporosis"]),
        ("mum has osteoporosis and myeloma, can it help her?", ["osteoporosis", "multiple_myeloma"]),
        # every condition named reads as denied: NegEx misreads these questions, so all are kept
        ("is it not used for osteoporosis?", ["osteoporosis"]),
        ("the doctor isn't sure whether it's myeloma or osteoporosis", ["multiple_myeloma", "osteoporosis"]),
        # the fracture first: Rasa fills the `condition` slot with the last value, the specific one
        (
            "my husband has multiple myeloma and the scan showed two collapsed vertebrae",
            ["compression_fracture", "multiple_myeloma"],
        ),
    ],
)
def test_a_condition_the_message_denies_is_no_entity(text: str, conditions: List[str]) -> None:
    parsed = doc(text)
    result = Message(data={TEXT: text, SPACY_DOCS[TEXT]: parsed, FULL_TEXT_DOC: parsed})
    SpacyRulerEntityExtractor().process([result], NLP_MODEL)
    assert [e["value"] for e in result.get(ENTITIES) if e["entity"] == "condition"] == conditions
