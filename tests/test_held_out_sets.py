"""Held-out means held out: no training example repeats or nearly repeats a held-out message.

The held-out sets (`tests/patient_questions/heldout.yml`, `tests/nlu/heldout.yml`,
`tests/red_flags/final.yml`) are only reported on. A training example in `data/nlu/` that is the
same message (case, punctuation and spacing aside) or shares nearly all its words with one would
turn a held-out figure into a training figure.
"""

from __future__ import annotations

import collections
import re
from typing import Dict, FrozenSet, Iterator, List, Set, Tuple

import yaml

from nlu_components.paths import PROJECT_ROOT

TESTS = PROJECT_ROOT / "tests"
# Two messages of at least MIN_WORDS words sharing this share of their words (Jaccard) are one message.
# Shorter ones ("hi", "thank you") are the same whoever writes them.
NEAR_DUPLICATE_JACCARD = 0.8
MIN_WORDS = 3


def words(text: str) -> FrozenSet[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


def canonical(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def training_examples() -> Iterator[Tuple[str, str]]:
    """(file name, example text) for every example of `data/nlu/`."""
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            for line in block.get("examples", "").splitlines():
                if line.strip().startswith("- "):
                    yield path.name, line.strip()[2:]


def held_out_messages() -> Iterator[Tuple[str, str]]:
    """(set name, message) for every message of the held-out sets, follow-ups' context included."""
    for case in yaml.safe_load((TESTS / "patient_questions" / "heldout.yml").read_text())["cases"]:
        for text in [case["text"], *case.get("context", [])]:
            yield "patient_questions/heldout.yml", text
    for block in yaml.safe_load((TESTS / "nlu" / "heldout.yml").read_text())["nlu"]:
        for line in block.get("examples", "").splitlines():
            if line.strip().startswith("- "):
                yield "nlu/heldout.yml", line.strip()[2:]
    red_flags = yaml.safe_load((TESTS / "red_flags" / "final.yml").read_text())
    for entry in [*red_flags["emergencies"], *red_flags["lookalikes"]]:
        yield "red_flags/final.yml", entry["text"]


def near_duplicates(held_out: List[Tuple[str, str]], training: List[Tuple[str, str]]) -> List[str]:
    index: Dict[str, Set[int]] = collections.defaultdict(set)
    training_words = [words(text) for _, text in training]
    for position, example_words in enumerate(training_words):
        for word in example_words:
            index[word].add(position)
    found = []
    for set_name, text in held_out:
        message_words = words(text)
        if len(message_words) < MIN_WORDS:
            continue
        shared = collections.Counter(position for word in message_words for position in index[word])
        for position, count in shared.items():
            union = len(message_words | training_words[position])
            if count / union >= NEAR_DUPLICATE_JACCARD and len(training_words[position]) >= MIN_WORDS:
                found.append(f"{set_name}: {text!r} ~ {training[position][0]}: {training[position][1]!r}")
    return found


def test_no_training_example_is_a_held_out_message() -> None:
    training = {canonical(text): file for file, text in training_examples()}
    repeated = [
        f"{set_name}: {text!r} in {training[canonical(text)]}"
        for set_name, text in held_out_messages()
        if canonical(text) in training and len(words(text)) >= MIN_WORDS
    ]
    assert not repeated, "\n".join(repeated)


def test_no_training_example_nearly_repeats_a_held_out_message() -> None:
    found = near_duplicates(list(held_out_messages()), list(training_examples()))
    assert not found, "\n".join(found)


def test_no_tuning_case_nearly_repeats_a_held_out_case() -> None:
    """The patient-questions parts stay apart: fitting on the tuning part never fits the held-out."""
    part = "patient_questions/tuning.yml"
    tuning = [(part, c["text"]) for c in yaml.safe_load((TESTS / part).read_text())["cases"]]
    held_out = [(s, t) for s, t in held_out_messages() if s == "patient_questions/heldout.yml"]
    found = near_duplicates(held_out, tuning)
    assert not found, f"{len(found)} tuning cases nearly repeat held-out ones"


def test_the_near_duplicate_check_finds_a_reworded_copy() -> None:
    held_out = [("set", "is the bone cement toxic, does it stay in you forever")]
    copy = "Is the bone cement toxic?? Does it stay in you forever then"
    training = [("data.yml", copy), ("data.yml", "is it safe")]
    assert len(near_duplicates(held_out, training)) == 1
