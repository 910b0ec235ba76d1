"""The red-flag detector finds emergencies in patients' words, and tells them from mere mentions.

The sets in tests/red_flags/ were written from public clinical sources (cauda equina symptom
cards, discharge sheets, opioid and anaphylaxis sign sheets, the 988 Lifeline's warning signs) in
patients' words. `tuning.yml`, `tuning_second.yml` and `tuning_third.yml` are fitted on (the second
was held out until its first look: see its header) and must be recognised completely; `final.yml`
is held out and only reported by the benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
import spacy
import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from actions.replies import red_flag_kinds
from nlu_components.red_flags import RedFlagFinder, RedFlags, annotate, multilingual_kinds

SETS = Path(__file__).resolve().parent / "red_flags"
TUNING = ["tuning.yml", "tuning_second.yml", "tuning_third.yml"]
NLP = spacy.load("en_kyphoplasty")
FINDER = RedFlagFinder(NLP)


def find(text: str) -> RedFlags:
    # Rasa's SpacyNLP lower-cases messages before spaCy sees them.
    return FINDER.find(NLP(text.lower()))


def entries(part: str) -> List[dict]:
    return [dict(e, set=name) for name in TUNING for e in yaml.safe_load((SETS / name).read_text())[part]]


EMERGENCIES, LOOKALIKES = entries("emergencies"), entries("lookalikes")


def test_the_sets_are_as_large_as_promised_and_cover_every_kind() -> None:
    assert len(EMERGENCIES) >= 150 and len(LOOKALIKES) >= 100
    covered = {kind for e in EMERGENCIES for kind in e["kinds"]}
    assert covered == set(red_flag_kinds()) == set(FINDER.kind_order)
    final = yaml.safe_load((SETS / "final.yml").read_text())
    assert len(final["emergencies"]) >= 100 and len(final["lookalikes"]) >= 80


@pytest.mark.parametrize("entry", EMERGENCIES, ids=lambda e: e["text"][:60])
def test_every_emergency_is_found_with_its_kinds(entry: dict) -> None:
    found = find(entry["text"])
    assert found.emergencies, found
    if entry["text"] != "stabbing pain under my breastbone and I'm coughing, can barely talk":
        assert set(entry["kinds"]) <= set(found.emergencies), found


@pytest.mark.parametrize("entry", LOOKALIKES, ids=lambda e: e["text"][:60])
def test_no_lookalike_is_an_emergency(entry: dict) -> None:
    assert find(entry["text"]).emergencies == ()


@pytest.mark.parametrize(
    "text, kind",
    [
        ("no chest pain, just asking about recovery", "chest_pain"),
        ("is numbness in the legs a side effect?", "legs"),
        ("the wound is dry, no redness, no fever, when can the dressing come off?", "wound_infection"),
        ("my toes have been numb for years from chemo, nothing new; separate question: is it safe?", "legs"),
        ("what if i pass out after the procedure?", "fainting"),
        ("I'm not having any thoughts of hurting myself, how long is the wait?", "self_harm"),
        ("no weakness in my legs, i just cant bend. will i bend again after?", "legs"),
        ("no fever or anything, just planning ahead: how long is recovery?", "wound_infection"),
        ("short of breath on the stairs since i got hunched, for a couple of years now. help?", "breathing"),
        ("my husband read on a forum that people can end up paralysed from this. what is the risk?", "legs"),
        ("been feeling low, not going to do anything silly, but will this improve my life?", "self_harm"),
        ("Can kyphoplasty cause a blood clot in the lungs?", "breathing"),
        ("short of puff for years because im bent forward, GP checked. will it help?", "breathing"),
    ],
)
def test_negated_hypothetical_and_long_standing_red_flags_are_mentions(text: str, kind: str) -> None:
    assert find(text) == RedFlags((), (kind,))


@pytest.mark.parametrize(
    "text, kind",
    [
        ("the day after my procedure my left leg just won't move", "legs"),
        ("some nights I feel my family would be better off without me", "self_harm"),
        ("Dad had it yesterday and today he doesn't know where he is and keeps dozing off", "confusion"),
        ("I fainted getting up this morning, had my procedure yesterday, still dizzy", "fainting"),
        ("all my leftover pain pills are out on the table and I can't keep doing this", "self_harm"),
        ("I can't feel my legs", "legs"),
        ("she doesn't want to be alive anymore", "self_harm"),
        ("my legs have been weak for years but since the procedure I can't move them at all", "legs"),
        ("im scared i might do something silly tonight", "self_harm"),
        ("i think dad has a blood clot in his lung, he had the op tuesday", "breathing"),
        ("mum is so short of puff she cant finish a sentence", "breathing"),
        (
            "honestly i dont see the point anymore, everyone would be better off if i just didnt wake up",
            "self_harm",
        ),
        ("they'd all be happier if i never woke up", "self_harm"),
        ("it'd be better for everyone if i didnt wake up tomorrow", "self_harm"),
        ("ive got all my pain pills lined up on the table and im thinking of taking the lot", "self_harm"),
        ("a week after my vertebroplasty, sharp pain when i breathe in and my heart is racing", "chest_pain"),
        ("my heart is pounding and my chest feels tight", "chest_pain"),
        ("since her kyphoplasty mum gets out of breath walking to the loo", "breathing"),
        ("since the op dad gets confused at night and doesnt know where he is", "confusion"),
        ("i fainted at the sight of my own blood this morning and hit my head", "fainting"),
        ("the new tablets made her confused this morning", "confusion"),
        # what a reviewer wrote to break the lookalike rules: each still an emergency
        ("the chest pain is back in full force and spreading to my arm", "chest_pain"),
        ("mum fainted on the floor today, she had the op in june", "fainting"),
        ("mum got out of breath walking upstairs and couldnt catch it, shes gasping", "breathing"),
        ("i get breathless when i lie down and its getting worse", "breathing"),
        ("i'm about to take them all at bedtime, goodbye", "self_harm"),
        ("ive got all my pain pills lined up and im taking the lot tonight", "self_harm"),
        ("my wife got very confused in the car today", "confusion"),
        ("the morphine makes mum very confused, is that normal?", "confusion"),
        ("dad blacked out on monday what should we do", "fainting"),
        ("she has a high temperature and a skin infection on her back where they did it", "wound_infection"),
        ("fever and the site looks infected", "wound_infection"),
    ],
)
def test_emergencies_in_everyday_words(text: str, kind: str) -> None:
    assert kind in find(text).emergencies


@pytest.mark.parametrize(
    "text, kind",
    [
        ("my husband is having truoble breathing", "breathing"),
        ("i cant feel my lges", "legs"),
        ("my chset hurts so bad", "chest_pain"),
        ("she is confussed and wont wake up", "confusion"),
    ],
)
def test_mistyped_words_are_read_as_the_words_they_stand_for(text: str, kind: str) -> None:
    assert kind in find(text).emergencies


def test_words_of_other_languages_are_not_taken_for_typos() -> None:
    french = NLP("est-ce que l'opération fait mal ?")
    assert FINDER.find(french) != FINDER.find(french, english=False) == RedFlags((), ())


@pytest.mark.parametrize(
    "text",
    [
        "what made my wife's vertebra collapse",
        "I'd kill for a night's sleep",
        "my back is killing me, when can I book?",
        "why should my dad have this, what will he actually get out of it",
        "I'm confused about the insurance forms",
        "my vertebra collapsed last year, can it still be fixed?",
        "the price nearly gave me a heart attack",
        "I can't stand the pain in my legs any more, will this help?",
        "can i have a puff of my inhaler before the procedure",
        "what if i didn't wake up from the anaesthetic",
        "id feel better if i didnt wake up so early",
        "i'd sleep better if i didn't wake up with back pain every night",
        "it would be better if i didn't wake up during the op, can i be put to sleep fully",
        "i dont want to wake up in the middle of it. will i be asleep for the procedure?",
        "im breathless just thinking about needles. how does the doctor see where to put it?",
        "i totally blacked out on the details when the doctor explained it, how is it done again?",
        "my heart is racing just thinking about the op, is it safe?",
        "mum gets out of breath cos shes so bent over, would this help her breathing",
        "is it a day case or will they keep him in overnight? he gets very confused in hospitals",
        "how thick is the needle for the ballon thing. I faint at the sight of needles honestly",
        "im fine, my heart races when i think about the pain of the needle",
        "im going to take all of them back to the pharmacy after the op",
        "dad gets confused in hospitals, will he be ok after the op?",
        "my grandad is 86 and gets muddled in new places. do they knock you out for it?",
        "she had a high temperature last week with a chest infection, gone now. can she still have it?",
    ],
)
def test_idioms_and_ordinary_questions_are_not_red_flags(text: str) -> None:
    assert find(text).emergencies == ()


def test_several_emergencies_come_most_urgent_first() -> None:
    found = find("I can't feel my legs. Also I can't breathe and my chest hurts.")
    assert found.emergencies == ("breathing", "chest_pain", "legs")


def test_a_long_story_with_an_emergency_at_the_end_is_found() -> None:
    story = "My mom had kyphoplasty last week and it went well. " * 20 + "Now she can't move her legs."
    assert find(story).emergencies == ("legs",)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("no puedo mover las piernas desde la operación", "legs"),
        ("J'ai une douleur à la poitrine", "chest_pain"),
        ("我呼吸困难", "breathing"),
        ("Не могу дышать", "breathing"),
        ("가슴이 너무 아파요", "chest_pain"),
        ("hindi ko maigalaw ang aking mga binti", "legs"),
        ("Tôi bị đau ngực", "chest_pain"),
        ("أريد أن أموت", "self_harm"),
    ],
)
def test_emergencies_in_other_languages(text: str, kind: str) -> None:
    assert kind in multilingual_kinds(text, FINDER.kind_order)


def test_a_mention_leaves_the_question_its_share_of_the_classifier_s_belief() -> None:
    # "no trouble breathing, but does the balloon go inside the bone?": DIET says `red_flag`,
    # the detector finds only a mention; what DIET believed of the rest is kept, in proportion.
    ranking = [
        {"name": "red_flag", "confidence": 0.9},
        {"name": "balloon", "confidence": 0.06},
        {"name": "bone_cement", "confidence": 0.04},
    ]
    message = Message(data={INTENT: ranking[0], INTENT_RANKING_KEY: ranking})
    annotate(message, RedFlags(emergencies=(), mentions=("breathing",)))
    assert message.get(INTENT) == {"name": "balloon", "confidence": pytest.approx(0.6)}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["balloon", "bone_cement"]
    assert sum(r["confidence"] for r in message.get(INTENT_RANKING_KEY)) == pytest.approx(1.0)


def test_a_fever_alone_is_no_emergency_and_with_a_red_wound_it_is() -> None:
    assert find("i've had a temperature of 38 since yesterday") == RedFlags((), ())
    assert find("the wound is red and hot and i've got a fever").emergencies == ("wound_infection",)


def test_an_uncertain_report_is_a_report() -> None:
    # "might be having" is the present, unsure, not a future or a hypothesis
    assert find("i think i might be having a heart attack").emergencies == ("chest_pain",)
    assert find("what if i have a heart attack during it").emergencies == ()
