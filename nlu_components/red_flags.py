"""Red-flag detector: finds emergencies in a message and tells them from mere mentions.

Two steps, both on the whole message (not only the question QuestionFocus kept):
1. Concepts. A spaCy `Matcher` marks concepts on lowercase lemmas ("a leg word", "numbness",
   "can't ... feel"); a kind of red flag is a `core` concept with the concepts it needs in the
   same sentence (or anywhere in the message for a fever and a red wound). The patterns are data:
   red_flag_patterns.yml.
2. Context of each core, the NegEx algorithm (negspacy's `Negex`) run three times with three
   termsets: negated ("no chest pain"), hypothetical ("what if my legs go numb"), past or
   long-standing ("numb for years from chemo, nothing new"). A question with no person in it
   ("is numbness a side effect?") is general, and a symptom in the future tense ("my legs will be
   weak after") is hypothetical. Words of the present ("right now", "since the
   procedure") make a hypothetical or past core a report again; a denial stays a denial.

A kind with a core that is none of these is an emergency: `red_flag` intent, `red_flag` entities,
overriding whatever was predicted (this component runs last). Kinds only mentioned become
`red_flag_mention` entities: the question is answered, with a conditional emergency line.
Messages in other languages are checked against short phrase lists (red_flags_multilingual.yml).
"""

from __future__ import annotations

import datetime
import itertools
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

import yaml
from negspacy.negation import Negex
from negspacy.termsets import termset
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from nlu_components.language import LANGUAGE_ENTITY
from nlu_components.overrides import add_entities
from nlu_components.question_focus import FULL_TEXT, FULL_TEXT_DOC
from nlu_components.stateless import StatelessComponent

HERE = Path(__file__).resolve().parent
PATTERNS_PATH = HERE / "red_flag_patterns.yml"
MULTILINGUAL_PATH = HERE / "red_flags_multilingual.yml"

RED_FLAG_INTENT = "red_flag"
RED_FLAG_ENTITY = "red_flag"
MENTION_ENTITY = "red_flag_mention"
UNSPECIFIED = "unspecified"  # a possible emergency of no known kind (actions/replies.yml)
# From this confidence (0..1), DIET's `red_flag` intent alone makes an emergency. Chosen on the
# red-flag tuning sets: below it, DIET flags ordinary questions ("cut down on the oxycodone").
CLASSIFIER_CONFIDENCE = 0.8
CORE_LABEL = "RED_FLAG_CORE"
# negspacy's clinical cues that misfire on patients' words ("ro", "doubt", "versus"...).
CLINICAL_CUES_DROPPED = {"doubt", "versus", "ro", "r/o", "evaluate for", "symptoms atypical", "declined"}
NUMBER_WORDS = ["a", "a few", "few", "a couple of", "couple of", "several", "many", "two", "three", "four",
                "five", "six", "seven", "eight", "nine", "ten", "twelve", "fifteen", "twenty", "thirty",
                "forty"]  # fmt: skip


@dataclass(frozen=True)
class RedFlags:
    """What a message says about red flags: kinds happening now, and kinds only mentioned.

    Kinds are the keys of `kinds` in red_flag_patterns.yml, in that order (most urgent first).
    """

    emergencies: Tuple[str, ...]
    mentions: Tuple[str, ...]


@dataclass(frozen=True)
class Alternative:
    """One way a kind shows: a core concept, the concepts it needs, those that cancel it."""

    core: str
    needs: FrozenSet[str] = frozenset()
    within: Optional[int] = None  # words between the core and each needed concept, at most
    unless: FrozenSet[str] = frozenset()
    whole_message: bool = False
    mention_only: bool = False  # never an emergency, only a mention when not happening now

    @classmethod
    def of(cls, spec: Dict[str, Any]) -> Alternative:
        return cls(
            spec["core"],
            frozenset(spec.get("with", ())),
            spec.get("within"),
            frozenset(spec.get("unless", ())),
            spec.get("scope") == "message",
            bool(spec.get("mention_only", False)),
        )

    def cores(self, sentence: Dict[str, List[Span]], message: Dict[str, List[Span]]) -> List[Span]:
        """The core spans of one sentence's concepts that this alternative accepts: a core or a
        needed span that overlaps an `unless` concept does not count ("wiped out" is not wiping)."""
        nearby = message if self.whole_message else sentence
        cancelled = [other for name in self.unless for other in nearby.get(name, [])]

        def kept(span: Span) -> bool:
            return not any(_overlap(span, other) for other in cancelled)

        return [
            core
            for core in sentence.get(self.core, [])
            if kept(core)
            and all(
                any(self._near(core, other) and kept(other) for other in nearby.get(need, []))
                for need in self.needs
            )
        ]

    def _near(self, core: Span, other: Span) -> bool:
        if self.within is None:
            return True
        return max(other.start - core.end, core.start - other.end) <= self.within


def _with_auxiliary(core: Span) -> int:
    """Start of a core that begins with "n't"/"not", moved back to its auxiliary: in "doesn't
    know where he is" the denial is part of the symptom, not a denial of it."""
    return core.start - 1 if core.start > 0 and core[0].lemma_ == "not" else core.start


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _read(path: Path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def expand_macros(phrase: str, macros: Dict[str, List[str]]) -> List[str]:
    """`"@CANT * feel"` -> one phrase per word sequence of the macro."""
    options = [macros[item[1:]] if item.startswith("@") else [item] for item in phrase.split()]
    return [" ".join(choice) for choice in itertools.product(*options)]


def token_pattern(phrase: str, nlp: Language) -> List[Dict[str, Any]]:
    """A Matcher pattern on lemmas: words are tokenised and lemmatised by `nlp` itself.

    Syntax: `word`, `a|b` (one of), `*` (any word, optional), `#` (a number), `=word` or
    `=a|b` (exactly this form: "=had" is not "have").
    """
    pattern: List[Dict[str, Any]] = []
    for item in phrase.lower().split():
        if item == "*":
            pattern.append({"OP": "?"})
        elif item == "#":
            pattern.append({"LIKE_NUM": True})
        elif item.startswith("="):
            pattern.append({"LOWER": {"IN": item[1:].split("|")}})
        elif "|" in item:
            pattern.append({"LEMMA": {"IN": [t.lemma_ for word in item.split("|") for t in nlp(word)]}})
        else:
            pattern.extend({"LEMMA": token.lemma_} for token in nlp(item))
    return pattern


def numbered_history(spec: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """Phrases such as "for 10 years", "3 months ago", "since 2015" (preceding, following)."""
    numbers = NUMBER_WORDS + [str(n) for n in range(2, 61)]
    years = [str(y) for y in range(1950, datetime.date.today().year)]

    def fill(templates: List[str]) -> List[str]:
        phrases = set()
        for template in templates:
            if "{year}" in template:
                phrases.update(template.format(year=year) for year in years)
            else:
                phrases.update(template.format(n=n, unit=u) for n in numbers for u in spec["units"])
        return sorted(phrases)

    return fill(spec["preceding_templates"]), fill(spec["following_templates"])


def negated_termset() -> Dict[str, List[str]]:
    """The negspacy termset of patients' denials ("no", "never had", "not"), as the red flags use it."""
    return context_termsets(_read(PATTERNS_PATH)["context"])["negated"]


def context_termsets(context: Dict[str, Any]) -> Dict[str, Dict[str, List[str]]]:
    """negspacy termsets for the three contexts (negated builds on negspacy's en_clinical)."""
    clinical = termset("en_clinical").get_patterns()
    negated = context["negated"]
    preceding_history, following_history = numbered_history(context["numbered_history"])

    def merged(base: List[str], extra: List[str]) -> List[str]:
        return sorted((set(base) - CLINICAL_CUES_DROPPED) | set(extra))

    return {
        "negated": {
            "pseudo_negations": merged(clinical["pseudo_negations"], negated["pseudo"]),
            "preceding_negations": merged(clinical["preceding_negations"], negated["preceding"]),
            "following_negations": merged(clinical["following_negations"], negated["following"]),
            "termination": merged(clinical["termination"], negated["termination"]),
        },
        "hypothetical": {
            "pseudo_negations": [],
            "preceding_negations": context["hypothetical"]["preceding"],
            "following_negations": context["hypothetical"]["following"],
            "termination": context["hypothetical"]["termination"],
        },
        "historical": {
            "pseudo_negations": [],
            "preceding_negations": context["historical"]["preceding"] + preceding_history,
            "following_negations": context["historical"]["following"] + following_history,
            "termination": context["historical"]["termination"],
        },
    }


class TypoCorrector:
    """Phones mistype the very words that matter ("truoble breathing"): an unknown word (not in
    spaCy's English lemma table) one edit from a pattern word (two for long words) is read as
    that word. RapidFuzz's Damerau-Levenshtein distance; short words are left alone."""

    MIN_LENGTH = 4
    LONG = 8

    def __init__(self, nlp: Language, phrases: Iterable[str]) -> None:
        table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        self.known = set(table.values()) | STOP_WORDS
        self.table = table
        self.lemma_of: Dict[str, str] = {}  # a pattern word, as written or as its lemma -> lemma
        for phrase in phrases:
            for item in phrase.lower().split():
                for word in item.lstrip("=").split("|"):
                    for token in nlp(word) if word.isalpha() else ():
                        self.lemma_of[token.lower_] = self.lemma_of[token.lemma_] = token.lemma_
        self.keywords = sorted(k for k in self.lemma_of if len(k) >= self.MIN_LENGTH)

    def correct(self, doc: Doc) -> Doc:
        """A copy of `doc` whose mistyped words carry the lemma of the pattern word they stand for."""
        corrected = doc.copy()
        for token in corrected:
            word = token.lower_
            if len(word) < self.MIN_LENGTH or not word.isalpha() or word in self.known or word in self.table:
                continue
            limit = 2 if len(word) >= self.LONG else 1
            match = process.extractOne(
                word, self.keywords, scorer=DamerauLevenshtein.distance, score_cutoff=limit
            )
            if match is not None:
                token.lemma_ = self.lemma_of[match[0]]
        return corrected


class RedFlagFinder:
    """Finds red flags in a spaCy doc made by the project's pipeline (lowercase lemmas)."""

    def __init__(self, nlp: Language, patterns: Optional[Dict[str, Any]] = None) -> None:
        patterns = patterns or _read(PATTERNS_PATH)
        self.kind_order = list(patterns["kinds"])
        self.alternatives = {
            kind: [Alternative.of(spec) for spec in alternatives]
            for kind, alternatives in patterns["kinds"].items()
        }
        self.matcher = Matcher(nlp.vocab)
        all_phrases: List[str] = []
        for concept, phrases in patterns["concepts"].items():
            expanded = [p for phrase in phrases for p in expand_macros(str(phrase), patterns["macros"])]
            self.matcher.add(concept, [token_pattern(p, nlp) for p in expanded])
            all_phrases += expanded
        self.typos = TypoCorrector(nlp, all_phrases)
        context = patterns["context"]
        self.contexts = {
            name: Negex(nlp, f"red_flag_{name}", terms, [CORE_LABEL], f"red_flag_{name}", [])
            for name, terms in context_termsets(context).items()
        }
        self.now = self._phrases(nlp, context["now"])
        self.future_modals = frozenset(context["future"]["modals"])
        self.future_verbs = frozenset(context["future"]["verbs"])
        self.personal = set(context["personal"])

    @staticmethod
    def _phrases(nlp: Language, phrases: Iterable[str]) -> PhraseMatcher:
        matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        matcher.add("PHRASE", list(nlp.tokenizer.pipe(phrases)))
        return matcher

    def find(self, doc: Doc, english: bool = True) -> RedFlags:
        """The red flags of `doc` (a doc of the project's spaCy pipeline, with sentences);
        mistyped words are corrected only in English (`fait` is French, not a typo of `faint`)."""
        if english:
            doc = self.typos.correct(doc)
        concepts: Dict[int, Dict[str, List[Span]]] = {}  # sentence start -> concept -> spans
        for match_id, start, end in self.matcher(doc):
            span = doc[start:end]
            concepts.setdefault(span.sent.start, {}).setdefault(
                self.matcher.vocab.strings[match_id], []
            ).append(span)
        message: Dict[str, List[Span]] = {}
        for by_concept in concepts.values():
            for concept, spans in by_concept.items():
                message.setdefault(concept, []).extend(spans)
        candidates: Dict[str, List[Tuple[Span, bool]]] = {}  # kind -> (core, mention only)
        for kind, alternatives in self.alternatives.items():
            cores = [
                (c, a.mention_only)
                for a in alternatives
                for sentence in concepts.values()
                for c in a.cores(sentence, message)
            ]
            if cores:
                candidates[kind] = cores
        if not candidates:
            return RedFlags((), ())
        reported = self._reported(doc, [span for cores in candidates.values() for span, _ in cores])

        def now(kind: str) -> bool:
            return any(reported[(s.start, s.end)] and not only for s, only in candidates.get(kind, []))

        def mentioned(kind: str) -> bool:
            return any(not reported[(s.start, s.end)] for s, _ in candidates.get(kind, []))

        emergencies = [k for k in self.kind_order if now(k)]
        mentions = [k for k in self.kind_order if k not in emergencies and mentioned(k)]
        return RedFlags(tuple(emergencies), tuple(mentions))

    def _reported(self, doc: Doc, cores: List[Span]) -> Dict[Tuple[int, int], bool]:
        """For each core (start, end): True when it reports a symptom happening now."""
        marked = doc.copy()
        kept = filter_spans([Span(marked, _with_auxiliary(s), s.end, label=CORE_LABEL) for s in cores])
        marked.ents = kept
        for negex in self.contexts.values():
            negex(marked)
        now_sentences = {marked[start].sent.start for _, start, _ in self.now(marked)}
        verdicts = {}
        for core in cores:
            span = next(k for k in kept if k.start <= core.start < k.end or core.start <= k.start < core.end)
            if span._.red_flag_negated:
                verdicts[(core.start, core.end)] = False
                continue
            distanced = (
                span._.red_flag_hypothetical
                or span._.red_flag_historical
                or self._general(span.sent)
                or self._future(marked, span.start)
            )
            verdicts[(core.start, core.end)] = not distanced or span.sent.start in now_sentences
        return verdicts

    def _future(self, doc: Doc, start: int) -> bool:
        """A core said in the future tense: a modal and a verb such as "be"/"go" just before the
        core at `start`, at most one word between ("my legs will be weak", "might go really numb")."""
        for modal in (start - 3, start - 2):
            if modal < 0 or doc[modal].sent.start != doc[start].sent.start:
                continue
            between = doc[modal + 2 : start]
            if (
                doc[modal].lower_ in self.future_modals
                and doc[modal + 1].lemma_ in self.future_verbs
                and all(t.is_alpha for t in between)
            ):
                return True
        return False

    def _general(self, sentence: Span) -> bool:
        """A question about symptoms in general: it opens like a question and names no one."""
        words = [t for t in sentence if t.is_alpha]
        if not words or not sentence.text.rstrip().endswith("?"):
            return False
        opens_question = words[0].lower_ in {"is", "are", "does", "do", "can", "could", "will", "would",
                                             "what", "how", "why", "when", "should"}  # fmt: skip
        negated_opening = len(words) > 1 and words[1].lower_ in {"nt", "not"}
        return opens_question and not negated_opening and not any(t.lower_ in self.personal for t in sentence)


def fold(text: str) -> str:
    """Lowercase without accents, for phrase lists in other languages ("PIERNAS" ~ "piernas")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def multilingual_phrases() -> Dict[str, List[Tuple[str, ...]]]:
    """Kind -> phrases from red_flags_multilingual.yml, each the folded parts that must all occur."""
    entries = _read(MULTILINGUAL_PATH)["kinds"]
    return {
        kind: [
            tuple(fold(part.strip()) for part in phrase.split(" + "))
            for phrases in by_language.values()
            for phrase in phrases
        ]
        for kind, by_language in entries.items()
    }


def multilingual_kinds(text: str, order: List[str]) -> List[str]:
    """Kinds whose phrases in another language occur in `text`, in `order`."""
    folded = fold(text)
    found = {
        kind
        for kind, phrases in multilingual_phrases().items()
        if any(all(part in folded for part in parts) for parts in phrases)
    }
    return [kind for kind in order if kind in found]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False, model_from="SpacyNLP"
)
class RedFlagDetector(StatelessComponent):
    """Before the FallbackClassifier: marks red flags as entities, and checks DIET's `red_flag`.

    - `red_flag` entities: kinds happening now (the routing component makes them the intent).
    - `red_flag_mention` entities: kinds only mentioned; the question gets answered with a
      conditional emergency line first.
    - DIET's `red_flag` intent is the second net for wordings the patterns do not know. It stands
      only when the patterns found no red flag at all and DIET is sure (`CLASSIFIER_CONFIDENCE`);
      otherwise it gives way to the question's own intent (the patterns read negation, DIET does
      not), and an unconfirmed one becomes a mention of kind `unspecified`.
    - A message in another language (entity `language`) is checked against its phrase list.
    """

    def __init__(self) -> None:
        self._finder: Optional[RedFlagFinder] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._finder is None:
            self._finder = RedFlagFinder(model.model)
        for message in messages:
            doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            foreign = any(e.get("entity") == LANGUAGE_ENTITY for e in message.get(ENTITIES, []))
            flags = self._finder.find(doc, english=not foreign)
            if foreign:
                order = self._finder.kind_order
                found = multilingual_kinds(message.get(FULL_TEXT) or message.get(TEXT) or "", order)
                flags = RedFlags(tuple(k for k in order if k in flags.emergencies or k in found), ())
            annotate(message, flags)
        return messages


def _entity(name: str, kind: str) -> Dict[str, str]:
    return {"entity": name, "value": kind, "extractor": RedFlagDetector.__name__}


def without_red_flag(ranking: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The intent ranking without `red_flag`, its confidences renormalised to sum as before: the
    classifier's belief given that the message is no emergency. Without it, "no trouble
    breathing, but does the balloon go inside the bone?" keeps the few per cent DIET left to
    `balloon` next to 90% `red_flag`, and no answer is likely enough even to offer."""
    others = [r for r in ranking if r.get("name") != RED_FLAG_INTENT]
    total = sum(r.get("confidence") or 0.0 for r in ranking)
    rest = sum(r.get("confidence") or 0.0 for r in others)
    if rest <= 0.0:
        return others
    return [{**r, "confidence": (r.get("confidence") or 0.0) * total / rest} for r in others]


def annotate(message: Message, flags: RedFlags) -> None:
    """Adds the red-flag entities; demotes an unconfirmed `red_flag` intent predicted by DIET."""
    intent = message.get(INTENT) or {}
    mentions = flags.mentions
    if intent.get("name") == RED_FLAG_INTENT and not flags.emergencies:
        if not mentions and intent.get("confidence", 0.0) < CLASSIFIER_CONFIDENCE:
            mentions = (UNSPECIFIED,)
        if mentions:
            others = without_red_flag(message.get(INTENT_RANKING_KEY, []))
            message.set(INTENT, others[0] if others else None, add_to_output=True)
            message.set(INTENT_RANKING_KEY, others, add_to_output=True)
    add_entities(message, [_entity(RED_FLAG_ENTITY, kind) for kind in flags.emergencies])
    add_entities(message, [_entity(MENTION_ENTITY, kind) for kind in mentions])
