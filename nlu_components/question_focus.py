"""The question a message asks, so that the intent is decided by it and not by the story around it.

Patients often tell a story first ("my dad fell last week and the doctor said he has a fracture
in his back...") and ask at the end ("can you tell me how it works?"). Classified whole, the story
outweighs the question. This component splits the message into sentences and clauses and, when
some of them are questions and others are not, gives the classifier the questions only.

The whole message stays available (`FULL_TEXT`, `FULL_TEXT_DOC`): entities (a condition named in
the story), red flags, the language and after-care signs are read from all of it. A question
that says little by itself ("is that normal?", "can it help her?") keeps its context: the
whole message is classified.
"""

from __future__ import annotations

from typing import List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc, Span

from nlu_components.stateless import StatelessComponent

FULL_TEXT = "full_text"  # message key: the whole (normalised) message
FULL_TEXT_DOC = "full_text_spacy_doc"  # message key: its spaCy doc

WH_WORDS = {"what", "whats", "how", "hows", "why", "when", "whens", "where", "wheres", "who", "whos", "which"}
AUXILIARIES = {
    "be", "do", "can", "could", "will", "would", "should", "shall", "may", "might", "must", "have",
    "is", "are", "am", "was", "were", "does", "did", "has", "had", "ca", "wo", "is'nt", "isnt", "arent",
}  # fmt: skip
# Auxiliaries that open a question before its subject ("does kyphoplasty help?", "is the cement
# toxic?"); the others ("had", "was", "have") often open a statement ("had it done in May",
# "was told I need it") and make a question only before a pronoun ("have you...", "was it...").
QUESTION_OPENERS = {
    "do",
    "does",
    "did",
    "can",
    "could",
    "will",
    "would",
    "should",
    "shall",
    "is",
    "are",
    "may",
    "might",
}
# Words that follow an opener in a statement's clause whose subject came before the comma
# ("she had it, is still sore and can barely walk", "he may need another one"): no subject
# follows, so no question opens. The pipeline has no part-of-speech tagger, hence a list.
# A gerund can be a subject ("could having it mean no big surgery?"), so none is listed.
NO_SUBJECT = {
    "still", "also", "always", "never", "not", "just", "really", "barely", "hardly", "probably",
    "definitely", "be", "been", "need", "needs", "get", "have", "take", "feel", "see", "go",
    "come", "walk", "sit", "stand", "sleep", "start", "make", "keep", "only", "now",
}  # fmt: skip
# After a comma these open a relative clause (", which frankly terrifies me", ", who is 80"),
# and a question only in a question's word order (", when can I drive", ", which kind will they use").
RELATIVES = {"which", "who", "whose", "when", "where"}
# Lemmas of a clause's first word that make it a question or a request for information.
REQUEST_VERBS = {"tell", "explain", "describe", "wonder", "wondering", "know", "curious", "ask", "asking"}
# A request a few words in: "he just wants to know if...", "we were wondering whether...".
REQUEST_PHRASES = [("to", "know"), ("to", "ask"), ("to", "understand"), ("wonder",), ("wondering",)]
REQUEST_WITHIN = 6  # words from the clause's start
# Words before the real start of a clause: "so how long...", "and can it...".
FILLERS = {
    "so",
    "and",
    "but",
    "also",
    "ok",
    "okay",
    "well",
    "please",
    "kindly",
    "pls",
    "plz",
    "then",
    "or",
    "just",
    "now",
    "hi",
    "hello",
}
PRONOUNS = {
    "i",
    "it",
    "you",
    "he",
    "she",
    "they",
    "we",
    "that",
    "this",
    "there",
    "my",
    "his",
    "her",
    "mum",
    "mom",
    "dad",
}
# A condition first, then the question: "if I go ahead with it will it help the pain" (an opener
# before a pronoun further in: the inverted word order of a question).
CONDITIONS = {"if", "once", "after", "before", "unless"}
SUBJECTS = {"i", "you", "he", "she", "it", "we", "they"}
# "When"/"where" before a subject open a clause of time or place ("when I had it", "where she
# fell"); before an auxiliary, a question ("when can I drive?"). Its own question mark still counts.
TIME_OR_PLACE = {"when", "whens", "where", "wheres"}
STORY_SUBJECTS = SUBJECTS | {"my", "his", "her", "our", "their", "mum", "mom", "dad", "the"}
# A question that points back with this many content words says what it asks by itself. Chosen
# on tests/patient_questions/tuning.yml and twelve probe sets: it changes the focus of 7 of their
# 4,246 messages, none for the worse (a story sentence that only named the procedure "that"
# points at, "...threw out the word kyphoplasty and I didn't get to ask. Is that something they
# do for people with myeloma?").
SELF_CONTAINED = 4
# A question needs at least this many content words to be understood without its story.
MIN_CONTENT_WORDS = 2


def _first_word(clause: Span) -> Optional[int]:
    """Index (in the doc) of the clause's first word that is not filler or punctuation."""
    for token in clause:
        if token.is_alpha and token.lower_ not in FILLERS:
            return token.i
    return None


def is_question(clause: Span) -> bool:
    """A question mark, or an opening wh-word, question opener, auxiliary before a pronoun,
    request verb ("tell me...") or condition before a question ("if..., will it...")."""
    if any(token.text == "?" for token in clause):
        return True
    start = _first_word(clause)
    if start is None:
        return False
    first = clause.doc[start]
    following = clause.doc[start + 1] if start + 1 < clause.end else None
    if first.lower_ in RELATIVES and clause.start > 0 and clause.doc[clause.start - 1].text == ",":
        opens = (
            first.lower_ in {"when", "where"} and following is not None and following.lower_ in AUXILIARIES
        )
        return opens or _inverted(clause, start + 1)  # ", which kind will they use"
    if first.lower_ in TIME_OR_PLACE and following is not None and following.lower_ in STORY_SUBJECTS:
        return False  # "when I had my hip replaced I was sick for days": a story's time, no question
    if first.lower_ in WH_WORDS or first.lemma_ in REQUEST_VERBS or _requests(clause, start):
        return True
    if first.lower_ in CONDITIONS and _inverted(clause, start + 2):
        return True
    if following is None:
        return False
    opens = first.lower_ in QUESTION_OPENERS and following.is_alpha and following.lower_ not in NO_SUBJECT
    return opens or (first.lower_ in AUXILIARIES and following.lower_ in PRONOUNS | {"n't", "nt", "not"})


def _inverted(clause: Span, start: int) -> bool:
    """A question opener before a subject pronoun from `start` (a doc index) on, not itself after
    a subject or an auxiliary: "... will it help", not "she could do it" or "my bones are that"."""
    doc = clause.doc
    return any(
        doc[i].lower_ in QUESTION_OPENERS
        and doc[i + 1].lower_ in SUBJECTS
        and doc[i - 1].lower_ not in SUBJECTS | AUXILIARIES | {"to", "not", "n't", "nt"}
        for i in range(max(start, 1), clause.end - 1)
    )


def _requests(clause: Span, start: int) -> bool:
    """A request for information in the clause's first words ("he just wants to know if...")."""
    words = [t.lower_ for t in clause.doc[start : min(start + REQUEST_WITHIN, clause.end)]]
    return any(
        tuple(words[i : i + len(phrase)]) == phrase for phrase in REQUEST_PHRASES for i in range(len(words))
    )


def clauses(sentence: Span) -> List[Span]:
    """The sentence split at commas and semicolons that open a question ("..., how do I...")."""
    doc, parts, start = sentence.doc, [], sentence.start
    for token in sentence:
        if token.text in {",", ";"} and token.i + 1 < sentence.end:
            following = doc[token.i + 1 : sentence.end]
            if is_question(following) and not is_question(doc[start : token.i]):
                parts.append(doc[start : token.i])
                start = token.i + 1
    parts.append(doc[start : sentence.end])
    return [part for part in parts if len(part)]


def content_words(span: Span) -> int:
    return sum(1 for t in span if t.is_alpha and t.lower_ not in STOP_WORDS and t.lower_ not in PRONOUNS)


def points_back(clause: Span) -> bool:
    """A question about what was just said: "is that a problem?", "would that stop it?"."""
    start = _first_word(clause)
    if start is None:
        return False
    words = [t.lower_ for t in clause.doc[start : min(start + 2, clause.end)]]
    return words[:1] == ["that"] or (words[0] in AUXILIARIES and words[1:] == ["that"])


def needs_what_came_before(question: Span) -> bool:
    """A question that points back and says too little alone to be understood without the
    clause before it: "is that a problem?", not "is that something they do for people with
    myeloma or is it mainly an osteoporosis thing?"."""
    return points_back(question) and content_words(question) < SELF_CONTAINED


def question_focus(doc: Doc) -> Optional[str]:
    """The text of the message's questions, or None when the whole message should be classified.
    A question that points back ("I'm allergic to the dye, is that a problem?") keeps the clause
    before it: there is what it asks about."""
    parts = [clause for sentence in doc.sents for clause in clauses(sentence)]
    asks = [is_question(part) for part in parts]
    kept = [
        i
        for i in range(len(parts))
        if asks[i] or (i + 1 < len(parts) and asks[i + 1] and needs_what_came_before(parts[i + 1]))
    ]
    questions = [parts[i] for i in kept if asks[i]]
    if not questions or len(kept) == len(parts):
        return None
    if sum(content_words(q) for q in questions) < MIN_CONTENT_WORDS:
        return None
    return " ".join(parts[i].text for i in kept)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False, model_from="SpacyNLP"
)
class QuestionFocus(StatelessComponent):
    """Right after SpacyNLP: keeps the whole message aside and narrows `text` to its questions."""

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            message.set(FULL_TEXT, message.get(TEXT))
            message.set(FULL_TEXT_DOC, doc)
            focus = question_focus(doc)
            if focus is not None:
                message.set(TEXT, focus)
                message.set(SPACY_DOCS[TEXT], model.model(focus))
        return messages

    def process_training_data(self, training_data: TrainingData, model: SpacyModel) -> TrainingData:
        self.process(training_data.training_examples, model)
        return training_data
