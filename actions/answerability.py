"""Does an answer contain what was asked? The part of the check that needs the answers' text.

A question that asks for a quantity ("how many cuts?", "what percentage does it work for?", "how
many minutes does the cement take?") is not answered by a text that gives none, however close
its topic: the reply says plainly that the article gives no number, and quotes what it does
say. The same for a question that asks for a name or a date ("who invented it?", "which brand of
cement?", "what year did it start?"), for one that asks how far or how lasting an effect is
("will my back be completely straight?"), how two treatments compare in outcome ("is it safer
than vertebroplasty?", "is recovery quicker than with vertebroplasty?"), whether an effect holds
for everyone ("does it always work?"), what it does to the other vertebrae ("will the others be
more likely to break?") or when one activity by name is possible again ("will I be able to do
yoga again?"): one table, DETAILS, of what a question asks for and what in an answer's text
gives it. Nor is a question about a condition itself ("is osteoporosis genetic?", "is myeloma
curable these days?") answered by the article's list of conditions kyphoplasty treats, nor one
whether something else helps ("does CBD oil help back pain?") by what kyphoplasty does. (The NLU
part, nlu_components/answerability.py, catches questions whose words belong to a topic the
article does not cover.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Pattern, Sequence

from actions.knowledge import Answer

# "How many", "how often", "how likely", "what percentage", "what are the chances", "success
# rate", "in minutes/hours", "one balloon or two?", "by how much?" ("how much" alone is left out:
# "how much downtime?" asks how long, not a count).
ASKS_FOR_NUMBER = re.compile(
    r"\bhow\s+(many|often|likely)\b"
    r"|\bwhat\s+(percent|percentage|proportion|fraction|share|odds|chance|chances|rate|number)\b"
    r"|\bwhat\s+(are|is)\s+the\s+(odds|chances?|rates?|numbers?|statistics|stats)\b"
    r"|\b(success|failure|complication|risk)\s+rates?\b|\bpercent(age)?\b|%"
    r"|\b(in|how many)\s+(minutes|hours|mins|hrs)\b|\bone\s+([a-z]+\s+)?or\s+(two|more)\b"
    r"|\bby\s+how\s+much\b|\bhow\s+much\s+(less|more|lower|higher|better|faster|quicker|taller)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred|half|once|twice)\b",
    re.IGNORECASE,
)
# "Who invented it?", "which brand of balloon?", "what year did it start?": a person, a maker or a
# date. The article names none; an answer that gives a year would answer the date.
ASKS_FOR_NAME = re.compile(
    r"\bwho\s+(invented|discovered|developed|created|came up with|pioneered)\b"
    r"|\bwho\s+(makes|made|manufactures)\s+(the\s+)?(balloon|cement|kit|device|needle|tools?)\b"
    r"|\b(what|which)\s+(make|company|firm|model|year)\b|\b(brands?|manufacturers?)\b(?!\s+new)"
    r"|\bwhen\s+was\s+(it|this|kyphoplasty|the procedure|the balloon)\s+(invented|developed|first)\b",
    re.IGNORECASE,
)
YEAR = re.compile(r"\b(1[89]|20)\d\d\b")
# "Will my back be completely straight?", "can I come off my tramadol completely?", "gone for
# good?": how far or how lasting an effect is. The article's answers say what can improve, not by
# how much; one that says "completely" or "for good" would answer it.
DEGREE = r"(completely|fully|totally|entirely|100 ?%|for good|permanently)"
DEGREE_BEFORE = (
    r"(straight|straighten|pain[- ]?free|better|healed|heal|recovered|recover|off|gone|normal|back)"
)
DEGREE_AFTER = r"(off|gone|go|goes|away|straight|healed|heal|recover|recovered|better|normal)"
ASKS_FOR_DEGREE = re.compile(
    rf"\b{DEGREE}\s+{DEGREE_BEFORE}\b|\b{DEGREE_AFTER}\b[^.?!,]{{0,25}}\b{DEGREE}", re.IGNORECASE
)
GIVES_DEGREE = re.compile(rf"\b{DEGREE}", re.IGNORECASE)
# "Is it safer than vertebroplasty?", "which works better for pain, kypho or vertebro?": how two
# treatments compare in outcome. The article compares kyphoplasty with surgery only in size and
# speed ("faster than"), which these words leave out; an answer saying "safer than" would answer it.
OUTCOME = (
    r"(safer|riskier|(more|less)\s+(risky|dangerous|effective|successful|painful)|hurts?\s+(less|more)"
    r"|works?\s+better|better\s+results|more\s+(pain\s+)?relief|lasts?\s+longer|longer[- ]lasting"
    r"|better\s+at\s+[a-z]+ing(\s+(the\s+)?[a-z]+)?|better\s+for\s+(me|you|him|her|us|them|my|the|pain|[a-z]+\s+pain)"
    r"|(fewer|less|more)\s+(complications|side\s+effects|risks|problems|leaks))"
)
# "Is the recovery quicker than with vertebroplasty?": speed compared with anything but surgery,
# the one comparison the article makes ("faster than after regular surgery").
SPEED_BESIDES_SURGERY = (
    r"\b(quicker|faster|sooner|speedier|shorter)\b[^.?!]{0,25}\bthan\s+((with|after|a|an|the|having|doing)\s+)*"
    r"(?!(with|after|a|an|the|having|doing)\s)(?!((regular|open|normal|traditional|major|big|conventional|spinal|back|proper)\s+)*"
    r"(surgery|surgeries|operations?|ops?|fusion)\b)[a-z]"
)
ASKS_FOR_COMPARISON = re.compile(
    rf"\b{OUTCOME}\s+than\b|\bwhich\b[^.?!]{{0,30}}\b{OUTCOME}\b|\b{OUTCOME}\b[^.?!]{{0,15}}\bor\b"
    rf"|{SPEED_BESIDES_SURGERY}",
    re.IGNORECASE,
)
GIVES_COMPARISON = re.compile(rf"\b{OUTCOME}\s+than\b", re.IGNORECASE)
# "Does it work on every type of fracture?", "does it always work?": whether an effect holds for
# everyone or every case. The article says what it can do, not for whom it always does.
ASKS_FOR_EVERYONE = re.compile(
    r"\b(work|works|help|helps|succeed|succeeds|successful|effective|fix|fixes)\b[^.?!,]{0,30}"
    r"\b(everyone|everybody|every\s+(type|kind|sort|case|patient|person|fracture|single)"
    r"|all\s+(types|kinds|sorts|fractures|patients|cases|people))\b"
    r"|\b(always|every time)\s+(work|works|help|helps|successful|effective)\b"
    r"|\bdoes\s+(everyone|everybody)\s+(get|feel|have|see)\b",
    re.IGNORECASE,
)
GIVES_EVERYONE = re.compile(r"\b(everyone|everybody|every|always|all patients)\b", re.IGNORECASE)
# "Does having it make the other vertebrae more likely to break?", "will it stop fractures in the
# vertebrae above and below?": the article speaks of the treated vertebra only.
ASKS_ABOUT_OTHER_VERTEBRAE = re.compile(
    r"\b(the\s+other|other|adjacent|neighbouring|neighboring|nearby|surrounding)\s+(vertebrae|levels|bones\s+in)\b"
    r"|\b(vertebrae|levels|ones|bones)\s+(above|below|next\s+to)\s+(it|and|or|the)\b",
    re.IGNORECASE,
)
GIVES_OTHER_VERTEBRAE = re.compile(r"\bother\s+vertebrae\b", re.IGNORECASE)
# "Will I be able to do yoga again?", "will she manage the stairs straight after?": one activity by
# name. The article speaks of activities in general only ("light activities within days", "move
# again"), so walking and moving are not among these.
# Words with another sense in a question about the procedure are left out ("can they lift the
# bone?", "can you run me through it?", "the steps").
ACTIVITY = (
    r"(yoga|pilates|golf|tennis|bowls|bowling|swim|swimming|stairs|garden|gardening|drive|driving"
    r"|dance|dancing|lifting|running|jog|jogging|cycling|bike|gym|exercises?|workouts?"
    r"|hike|hiking|ski|skiing|ride|riding|fishing|fly|flying|sex|carry(?!\s+on)|carrying|bending"
    r"|hoover|hoovering|vacuum|vacuuming|housework|sports?|football|soccer|cricket)"
)
ASKS_ABOUT_ACTIVITY = re.compile(
    r"\b(able\s+to|manage|managing|go\s+back\s+to|get\s+back\s+to|return\s+to|resume|start|allowed\s+to"
    rf"|ok\s+to|okay\s+to|safe\s+to|ok\s+on|can|could|until|till|til)\b[^.?!]{{0,25}}\b{ACTIVITY}\b",
    re.IGNORECASE,
)
GIVES_ACTIVITY = re.compile(rf"\b{ACTIVITY}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Detail:
    """A kind of detail a question can ask for: `name` (the reply's topic id), `question` (its
    label), `reply` (its text's key in actions/replies.yml), `asks` (matches a question asking
    for it) and `gives` (matches an answer text that gives it)."""

    name: str
    question: str
    reply: str
    asks: Pattern[str]
    gives: Pattern[str]


DETAILS = (
    Detail("numbers", "How many? How much?", "no_numbers", ASKS_FOR_NUMBER, NUMBER),
    Detail("names", "Who? Which make? When?", "no_names", ASKS_FOR_NAME, YEAR),
    Detail("degree", "Completely? For good?", "no_degree", ASKS_FOR_DEGREE, GIVES_DEGREE),
    Detail("comparison", "Safer? Better than?", "no_comparison", ASKS_FOR_COMPARISON, GIVES_COMPARISON),
    Detail("everyone", "For everyone? Always?", "no_everyone", ASKS_FOR_EVERYONE, GIVES_EVERYONE),
    Detail(
        "other_vertebrae",
        "The other vertebrae?",
        "no_other_vertebrae",
        ASKS_ABOUT_OTHER_VERTEBRAE,
        GIVES_OTHER_VERTEBRAE,
    ),
    Detail("activity", "That activity again?", "no_activity", ASKS_ABOUT_ACTIVITY, GIVES_ACTIVITY),
)


def missing_detail(question: str, answers: Sequence[Answer]) -> Optional[Detail]:
    """The first of DETAILS that `question` asks for and none of `answers` gives, else None."""
    return next(
        (
            detail
            for detail in DETAILS
            if detail.asks.search(question) and not any(detail.gives.search(a.text) for a in answers)
        ),
        None,
    )


# Conditions a question may ask about for themselves; the fracture and the injury are what the
# procedure treats, so a question about them is a question about the procedure's field.
CONDITIONS_IN_THEMSELVES = frozenset({"osteoporosis", "cancer", "multiple_myeloma", "spinal_tumor"})
# Words by which a message points at the procedure without naming it ("is that the kind of thing
# it's for?", "can they do it with myeloma?").
POINTING_WORDS = frozenset({"it", "this", "that", "they", "them"})
# Words that tie a named condition to the procedure, to the spine's breaks it treats, or to
# someone who would have it ("can it help with osteoporosis?", "is myeloma on the list?", "people
# with bone cancer", "why did her back break, she has osteoporosis").
TREATMENT_LINK = (
    frozenset(
        """help helps helped helping treat treats treated treating treatment treatments fix fixes fixed work
    works qualify qualifies candidate candidates suitable eligible option options done offer offered ok okay
    list listed included count counts cover covered apply recommend recommended use used benefit ease relieve
    relief
    kyphoplasty kypho procedure surgery operation op balloon cement vertebroplasty break breaks broke
    broken fracture fractures fractured crack cracked cracking collapse collapsed crush crushed squashed
    vertebra vertebrae after afterwards again people patients patient someone somebody person anyone
    sufferers mum mom mother dad father husband wife partner son daughter nan nana gran granny grandma
    grandmother grandad grandpa grandfather brother sister aunt uncle friend""".split()
    )
    | POINTING_WORDS
)
# A question, not a statement ("my mom has osteoporosis" tells the condition, to hear about the procedure).
QUESTION = re.compile(
    r"\?|^\W*(what|whats|why|how|is|are|can|could|does|do|will|would|should|which|when|who)\b", re.IGNORECASE
)
# "And osteoporosis?", "what about spinal tumours?": a follow-up that adds a condition to the last
# question, however many words the condition takes.
FOLLOW_UP = re.compile(r"^\W*(and|or|also|what about|how about|what if)\b", re.IGNORECASE)
MIN_WORDS = 3  # "is osteoporosis hereditary?"; "myeloma too?" is two
SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+")


def misspelt_procedure(words: Iterable[str]) -> bool:
    """Whether one of `words` (lowercase) is the procedure's name misspelt past the entity ruler's
    list ("kyphoplsty", "kyfoplasty", "vertebroplsty"): it still names the procedure."""
    return any(word.startswith(("kyph", "kyf", "vertebrop")) for word in words)


def question_sentences(text: str) -> str:
    """The sentences of `text` that are a QUESTION, or all of it when none is: "Is osteoporosis
    hereditary? My mum and my gran both had it." asks the first; the second is the story."""
    asked = [sentence for sentence in SENTENCE_BREAK.split(text) if QUESTION.search(sentence)]
    return " ".join(asked) if asked else text


def asks_about_condition_itself(text: str, conditions: Iterable[str], procedure_named: bool) -> bool:
    """Whether `text` asks about a condition itself, not about kyphoplasty for it: it names one of
    CONDITIONS_IN_THEMSELVES (`conditions`: the entity ruler's condition ids), names no procedure
    (`procedure_named`: a `procedure` entity), has at least MIN_WORDS words, its question
    sentences none of TREATMENT_LINK (nor a relative, who would have it), and is a QUESTION, not a
    FOLLOW_UP. "Does osteoporosis run in families?", "what causes spinal tumours?"."""
    words = re.findall(r"[a-z]+", text.lower())
    asked = set(re.findall(r"[a-z]+", question_sentences(text).lower()))
    about_condition = bool(CONDITIONS_IN_THEMSELVES.intersection(conditions)) and not procedure_named
    unlinked = len(words) >= MIN_WORDS and not TREATMENT_LINK & asked and not misspelt_procedure(words)
    asks = bool(QUESTION.search(text)) and not FOLLOW_UP.search(text)
    return about_condition and unlinked and asks


# "Does CBD oil help back pain?", "is yoga good for lower back pain?", "is tramadol or codeine
# better for back pain?": whether something else helps, or helps more. Its subject is the words
# between the opening verb and "help"/"work"/"good for"/"better".
ASKS_IF_IT_HELPS = re.compile(
    r"^\W*(does|do|would|will|can|could|might|is|are)\s+((?:[a-z']+\s+){1,3}?)"
    r"(help|helps|work|works|fix|ease|relieve|cure|good for|any good|better|best|safer|stronger)\b",
    re.IGNORECASE,
)
# Subjects that are not another remedy: the procedure and its parts, the patient's own body or
# pain ("does the pain ease?"), the clinic's people, the assistant, "is there a cure?".
NOT_A_REMEDY = (
    frozenset(
        """kyphoplasty kypho procedure surgery operation op balloon cement treatment injection injections
    fix having getting doing pain fracture fractures bone bones vertebra vertebrae there you
    u doctor doctors gp surgeon specialist nurse clinic team i me my""".split()
    )
    | POINTING_WORDS
)
# Words that make no subject by themselves.
ARTICLES = frozenset({"a", "an", "the", "some", "any", "your"})


def asks_if_something_else_helps(text: str, procedure_named: bool) -> bool:
    """Whether `text` asks if something other than the procedure helps (ASKS_IF_IT_HELPS, a
    subject none of NOT_A_REMEDY), naming no procedure (`procedure_named`: a `procedure` entity)."""
    match = ASKS_IF_IT_HELPS.search(text)
    if match is None or procedure_named:
        return False
    subject = set(re.findall(r"[a-z]+", match.group(2).lower())) - ARTICLES  # "is the fix permanent?": none
    return bool(subject) and not NOT_A_REMEDY & subject and not misspelt_procedure(subject)
