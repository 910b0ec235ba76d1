"""The red-flag detector finds emergencies in patients' words, and only emergencies."""

from __future__ import annotations

import pytest
import spacy

from nlu_components.red_flags import RedFlagMatcher

NLP = spacy.load("en_kyphoplasty")
MATCHER = RedFlagMatcher(NLP.vocab)


def kinds(text: str) -> list:
    # Rasa's SpacyNLP lower-cases messages before spaCy sees them.
    return MATCHER.kinds(NLP(text.lower()))


@pytest.mark.parametrize(
    "text, kind",
    [
        ("I can't feel my legs since this morning", "legs"),
        ("my legs went numb after the procedure", "legs"),
        ("My Mother cannot move her legs!!", "legs"),
        ("sudden weakness in both legs", "legs"),
        ("my legs gave out and i fell", "legs"),
        ("no feeling in my feet", "legs"),
        ("i wet myself and cant control my bladder", "bladder_bowel"),
        ("my husband lost control of his bowels", "bladder_bowel"),
        ("I can't hold my pee anymore since yesterday", "bladder_bowel"),
        ("chest pain", "chest_pain"),
        ("My chest feels tight and heavy", "chest_pain"),
        ("i think im having a heart attack", "chest_pain"),
        ("I cant breathe", "breathing"),
        ("she has trouble breathing", "breathing"),
        ("shortness of breath", "breathing"),
        ("I have a fever. The incision is red and hot", "wound_infection"),
        ("running a temperature and there is pus coming from the wound", "wound_infection"),
        ("i want to kill myself", "self_harm"),
        ("I don't want to live anymore", "self_harm"),
        ("been thinking about suicide", "self_harm"),
        ("sometimes i want to hurt myself", "self_harm"),
        ("honestly i'd rather be dead than live with this pain", "self_harm"),
        ("thinking of taking an overdose of my pills", "self_harm"),
        ("my groin and bottom went numb", "legs"),
        ("he is wheezing and can't get enough air", "breathing"),
    ],
)
def test_emergency_is_found(text: str, kind: str) -> None:
    assert kind in kinds(text)


def test_several_emergencies_in_one_message_are_all_found() -> None:
    assert kinds("I can't breathe and my chest hurts. I also cannot feel my legs.") == [
        "breathing",
        "chest_pain",
        "legs",
    ]


def test_a_long_story_with_an_emergency_at_the_end_is_found() -> None:
    story = "My mom had kyphoplasty last week and it went well. " * 20 + "Now she can't move her legs."
    assert kinds(story) == ["legs"]


@pytest.mark.parametrize(
    "text",
    [
        "what is kyphoplasty",
        "will I be able to walk after the procedure",
        "can i drive after",
        "my mom has a fever",
        "I feel hot",
        "is it safe for my heart?",
        "how long is recovery",
        "does the cement help with back pain",
        "my legs are fine but my back hurts",
        "I have osteoporosis and a compression fracture",
        "will the cut leave a scar",
    ],
)
def test_ordinary_questions_are_not_emergencies(text: str) -> None:
    assert kinds(text) == []


def test_a_fever_told_apart_from_the_red_wound_is_found() -> None:
    message = (
        "How long is recovery? Also I've had a fever since yesterday and the needle spot is red and hot."
    )
    assert kinds(message) == ["wound_infection"]
