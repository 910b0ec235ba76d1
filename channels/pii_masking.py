"""Masks the personal details a patient types anyway, before the message is stored or read.

`mask_personal_details(text)` returns the text with each detail replaced by a placeholder of its
kind, and the kinds it masked (never the values):

| kind | placeholder | found by |
|---|---|---|
| phone | `[phone]` | Google's libphonenumber (`phonenumbers`), US numbering by default, any `+` number |
| email | `[e-mail]` | spaCy's `LIKE_EMAIL` token attribute |
| date of birth | `[date of birth]` | a date after "born", "DOB", "date of birth", "birthday"... |
| date | `[date]` | any other full date (day, month, year) whose year is 18 or more years ago |
| address | `[place]` | number + street + suffix ("12 Oak St"), unit, city, state, ZIP; PO boxes |
| name | `[person]` | names after "my name is", "I'm called", "this is", "I'm", "my wife", "Dr."... |
| record number | `[id]` | after "MRN", "member ID", "policy number"...; any code of 6+ digits |
| social security number | `[ssn]` | ###-##-#### anywhere, or a number after "SSN", "social security" |

The placeholders are what the assistant reads: NLU classifies the masked text. Their words were
chosen on 150 questions of tests/patient_questions/tuning.yml after an introduction ("Hi, my name
is Ann Lee. <question>"): the intent stayed the one of the question alone for 141 with the name
typed, 134 with "[name]" and 140 with "[person]"; "I live at ...": 138 typed, 135 "[address]",
141 "[place]"; "my email is ...": 127 typed, 120 "[email]", 126 "[e-mail]"; "my member id is
...": 141 typed, 134 "[record number]", 142 "[id]". "name", "address", "email" and "number" are
words of the questions about the clinic's details, and pulled towards them.

Why these tools. spaCy is already the project's NLP library: its tokenizer (the blank English
one, which is also the tokenizer of the project's own pipeline `en_kyphoplasty`) and its
`PhraseMatcher`/`Matcher` find the cue phrases and street patterns however they are cased or
typed, without any model download. Phone numbers are libphonenumber's job (the library Android
uses; scrubadub uses it too): it knows which digit runs can be numbers and leaves dates, "911" or
"2 weeks" alone. The PII libraries were not a better fit: Presidio's recognizers need a large
spaCy English model, which cannot be downloaded here; scrubadub 2.0.1 pins textblob 0.15.3 and
brings nltk, Faker and dateparser, finds names only through NER models, and knows neither cue
phrases ("my name is") nor a date of birth from the date of a procedure.

What the assistant needs is kept: durations ("2 weeks"), doses ("5 mg"), vertebrae ("L1", "T12"),
ages ("I'm 70"), 911 and 988, and dates that are not a birth date and not long ago: the date of a
procedure ("kyphoplasty on 3/14") tells the after-care replies how far along the patient is, and
without a name or a birth date it does not identify anyone. Every phone number is masked, the
clinic's own included: nothing the assistant says depends on it, and the stored conversation
loses nothing by it.

Names are the hard part: a name is a word that is not a word of this assistant's vocabulary.
After a strong cue ("my name is", "name:", "I'm called") the next word is taken whatever it is,
and the words after it unless the assistant was trained on them (data/nlu, the red-flag and
entity patterns): "my name is ann lee and I can't feel my legs" becomes "my name is [person]
and I can't feel my legs", so red-flag detection still reads every symptom word. After a weak cue
("I'm", "this is", "my husband", "Dr.", "thanks,") the word must also look like a name: capitalised
in a message that uses case, or, in an all-lower or all-upper message, not an English word
(spaCy's English lemma tables) nor one typo inside a long one ("embarassing"). Names typed with
no cue at all are not found.

Not masked: cities without a street, a date of a procedure, ages (over 89 too), names without a
cue ("Beatriz here"), names that are English words in a message without capitals ("this is nancy",
"my husband bill"), national phone numbers of other countries (07700 900123: with +44 they are
masked), spelled-out numbers and e-mail addresses typed as words ("ann at gmail dot com").
tests/channels/pii_cases.yml has the cases; its held-out part measures what is missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import phonenumbers
import spacy
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.lookups import Table, load_lookups
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Token

from nlu_components.paths import PROJECT_ROOT

PHONE_REGION = "US"  # numbers without a leading + are read as US numbers (other countries need the +)
ADULT_YEARS = 18  # a full date at least this many years ago is masked even without a birth cue

# Files whose words are the assistant's vocabulary: a word in them is not taken as a name.
TRAINING_DATA = PROJECT_ROOT / "data" / "nlu"
VOCABULARY_FILES = (
    *sorted(TRAINING_DATA.glob("*.yml")),
    PROJECT_ROOT / "nlu_components" / "red_flag_patterns.yml",
    PROJECT_ROOT / "spacy_pipeline" / "entity_patterns.yml",
)

PLACEHOLDERS = {
    "phone": "[phone]",
    "email": "[e-mail]",
    "date of birth": "[date of birth]",
    "date": "[date]",
    "address": "[place]",
    "name": "[person]",
    "record number": "[id]",
    "social security number": "[ssn]",
}


@dataclass(frozen=True)
class MaskedText:
    """`text` with every personal detail found replaced by its placeholder; `kinds`: the kinds
    masked (keys of PLACEHOLDERS), in order of first appearance, each once."""

    text: str
    kinds: Tuple[str, ...] = ()


class _Span(NamedTuple):
    start: int  # character offsets in the text
    end: int
    kind: str
    priority: int  # when spans overlap, the higher wins (then the longer)


# --- cue phrases (matched on lower-case tokens) ---------------------------------------------

STRONG_NAME_CUES = (
    "my name is", "my name's", "my names", "my name was", "my nam is", "my nme is", "my name iz",
    "name is", "name's", "names is", "name:", "name -", "name =", "full name", "patient name",
    "patient's name", "pt name", "patient:", "pt:", "i'm called", "im called", "i am called", "i go by",
    "they call me", "everyone calls me",
)  # fmt: skip
WEAK_NAME_CUES = (
    "i'm", "im", "i am", "this is", "it's", "its", "call me", "named", "called", "mr", "mr.", "mrs",
    "mrs.", "ms", "ms.", "miss", "mx", "dr", "dr.", "doctor", "prof", "prof.", "professor",
)  # fmt: skip
# Sign-offs, at the end of a message or before a name: "Thanks, Ann", "Kind regards - Ann Lee".
SIGN_OFFS = ("thanks", "thank you", "thx", "cheers", "best", "love", "regards", "kind regards",
             "best regards", "sincerely", "yours", "signed", "many thanks", "ty")  # fmt: skip
BARE_SIGN_OFFS = ("thanks", "thank you", "thx", "cheers", "regards", "kind regards", "best regards",
                  "many thanks", "sincerely")  # fmt: skip
RELATIVES = (
    "husband", "wife", "mother", "mom", "mum", "mam", "father", "dad", "son", "daughter",
    "sister", "brother", "aunt", "uncle", "grandmother", "grandma", "gran", "nan", "grandfather",
    "grandpa", "grandson", "granddaughter", "friend", "neighbor", "neighbour", "partner", "spouse",
    "niece", "nephew", "cousin", "caregiver", "carer", "fiance", "fiancee", "boyfriend",
    "girlfriend", "stepmother", "stepfather", "mother-in-law", "father-in-law",
)  # fmt: skip
BIRTH_CUES = (
    "born", "dob", "d.o.b", "d.o.b.", "d.o.b:", "date of birth", "birth date", "birthdate",
    "birthday", "bday", "b-day", "b'day", "birth day", "born on", "born in",
)  # fmt: skip
RECORD_CUES = (
    "mrn", "medical record number", "medical record", "record number", "record no", "record #",
    "chart number", "member id", "member number", "member no", "member #", "membership number",
    "insurance id", "insurance number", "insurance no", "insurance #", "policy number",
    "policy no", "policy #", "policy id", "subscriber id", "subscriber number", "group number",
    "group no", "group #", "account number", "account no", "account #", "acct", "patient id",
    "patient number", "patient no", "patient #", "id number", "id no", "id #", "id", "claim number",
    "medicare number", "medicare id", "medicare", "medicaid number", "medicaid id", "medicaid",
    "mbi", "hospital number", "nhs number",
)  # fmt: skip
SSN_CUES = ("ssn", "ss#", "ss #", "social security number", "social security no", "social security #",
            "social security", "social")  # fmt: skip
ADDRESS_CUES = ("my address is", "address is", "address:", "address", "i live at", "live at", "lives at",
                "living at", "i live on", "live on", "lives on", "reside at", "mailing address")  # fmt: skip

STREET_SUFFIXES = (
    "street", "st", "avenue", "ave", "av", "road", "rd", "lane", "ln", "drive", "dr", "boulevard",
    "blvd", "court", "ct", "way", "place", "pl", "terrace", "ter", "circle", "cir", "parkway",
    "pkwy", "highway", "hwy", "trail", "trl", "square", "sq", "crescent", "cres", "close", "alley",
    "plaza", "loop", "pike", "row", "grove", "gardens", "mews", "hill", "heights", "point",
)  # fmt: skip
STREET_ABBREVIATIONS = frozenset(
    s for s in STREET_SUFFIXES if len(s) <= 4 and s not in {"way", "row", "loop", "pike", "hill", "mews"}
)
# Words that never name a street: "a 2 hour drive", "3 days in a row", "5 mg a day".
NOT_STREET_WORDS = frozenset(
    """hour hours minute minutes min mins day days week weeks month months year years time times
    mile miles km block blocks mg ml pill pills tablet tablets dose doses level levels vertebra
    vertebrae fracture fractures inch inches foot feet step steps floor floors flight flights""".split()
)
UNIT_WORDS = (
    "apt",
    "apartment",
    "unit",
    "suite",
    "ste",
    "flat",
    "room",
    "rm",
    "#",
    "no",
    "bldg",
    "building",
    "floor",
)
US_STATES = frozenset(
    """al ak az ar ca co ct de dc fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh nj
    nm ny nc nd oh ok or pa ri sc sd tn tx ut vt va wa wv wi wy pr""".split()
)
# Words after a name cue that are not part of the name ("my name is Ann, born...").
NOT_NAME_WORDS = frozenset(
    """born dob age aged years year yo old phone number email address here calling writing asking
    texting wondering hoping looking trying just only also please thanks thank hi hello hey dear
    re patient mrs mr ms dr doctor wo ca ai""".split()  # "wont", "cant", "aint": the tokenizer
    # splits them "wo"+"nt", as typed without the apostrophe ("my husband wont need...")
)

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
YEAR = r"(?:(?:19|20)\d{2}|'\d{2})"
NUMERIC_DATE = r"\d{1,4}[/.\-]\d{1,2}(?:[/.\-]\d{2,4})?"
SPELLED_DATE = (
    rf"(?:{MONTH}\s+{DAY}(?:\s*,)?(?:\s+{YEAR})?"
    rf"|(?:the\s+)?{DAY}(?:\s+of)?\s+{MONTH}(?:\s*,)?(?:\s+{YEAR})?"
    rf"|{MONTH}(?:\s*,)?\s+{YEAR}|{YEAR})"
)
# What may stand between a birth cue and the date: "born on", "DOB:", "birthday is the".
BIRTH_VALUE = re.compile(
    rf"(?:\s*(?:[:=\-,#]|(?:is|was|on|in|of|date|the)\b))*\s*(?P<date>{NUMERIC_DATE}|{SPELLED_DATE})(?![\w/])",
    re.IGNORECASE,
)
FULL_DATE = re.compile(
    rf"(?<![\w/.\-])(?:(?P<m>\d{{1,2}})[/.\-](?P<d>\d{{1,2}})[/.\-](?P<y>\d{{4}}|\d{{2}})"
    rf"|(?P<iy>(?:19|20)\d{{2}})-\d{{1,2}}-\d{{1,2}}"
    rf"|{MONTH}\s+{DAY},?\s+(?P<sy>(?:19|20)\d{{2}})"
    rf"|{DAY}(?:\s+of)?\s+{MONTH},?\s+(?P<ty>(?:19|20)\d{{2}}))(?![\w/])",
    re.IGNORECASE,
)
# A record number after its cue: "MRN: 00123456", "member ID is XJH 123456789", "#A-55-1234".
RECORD_VALUE = re.compile(
    r"(?:\s*(?:[:=\-,#]|(?:is|was|no|number|num|nr)\b\.?))*\s*"
    r"(?P<value>(?-i:[A-Z]{1,4}[\s\-]?)?[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[\s\-][A-Za-z0-9]*\d[A-Za-z0-9]*){0,3})(?![\w])",
    re.IGNORECASE,
)
# A cue glued to its number: "ID#12345", "mrn:00123".
ATTACHED_RECORD = re.compile(
    r"(?<![\w])(?:mrn|id|member|policy|acct|account|patient|chart)\s?[#:]\s?(?P<value>[A-Za-z]{0,4}\d[\w\-]*)",
    re.IGNORECASE,
)
SSN = re.compile(r"(?<![\w\-])\d{3}([\- ])\d{2}\1\d{4}(?![\w\-])")
LONG_CODE = re.compile(
    r"(?<![\w\-/.])(?!\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}(?![\w\-]))(?=(?:[A-Za-z\-]*\d){6})[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w\-/]|\.\d)"
)
PO_BOX = re.compile(r"\bp\.?\s?o\.?\s+box\s+\d+\b|\bpost\s+office\s+box\s+\d+\b", re.IGNORECASE)
ADDRESS_TAIL_UNIT = re.compile(
    rf"\s*,?\s*(?:{'|'.join(re.escape(u) for u in UNIT_WORDS)})\.?\s*#?\s*[A-Za-z]?\d+[A-Za-z]?\b",
    re.IGNORECASE,
)
ADDRESS_TAIL_DIRECTION = re.compile(r"\s+(?:[NSEW]|NE|NW|SE|SW)\b\.?")
ADDRESS_TAIL_PLACE = re.compile(
    r"(?P<city>(?:\s*,)?\s*(?:[A-Z][a-z]+|St\.?)(?:\s+[A-Z][a-z]+){0,2})?"
    r"(?P<state>(?:\s*,\s*[A-Za-z]{2}|\s+[A-Z]{2})\b)?(?P<zip>\s*\d{5}(?:-\d{4})?\b)?"
)
# After "my address is" / "I live at": a house number and what follows, to the clause's end
# ("my address is 12 Oakfield, Springfield and ...").
ADDRESS_VALUE = re.compile(
    r"\s*(?:is\b|:|-)?\s*(?P<value>\d{1,6}[A-Za-z]?\s+[^.;!?\n]*?)(?=\s+(?:and|but|so|i|my)\b|[.;!?\n]|$)",
    re.IGNORECASE,
)
NAME_SHAPE = re.compile(r"[A-Za-z][A-Za-z']*\.?")


@lru_cache(maxsize=1)
def _vocabulary() -> FrozenSet[str]:
    """The words the assistant was trained on or looks for (lower case), less the names in its
    training examples ("hi my name is margaret")."""
    if not any(path.is_relative_to(TRAINING_DATA) for path in VOCABULARY_FILES):
        raise FileNotFoundError(
            f"{TRAINING_DATA}/*.yml: the assistant's vocabulary, needed to tell names from words"
        )
    words: set = set()
    for path in VOCABULARY_FILES:
        text = path.read_text(encoding="utf-8").lower()
        words.update(re.findall(r"[a-z]+(?:'[a-z]+)?", text))
        words.difference_update(re.findall(r"name is ([a-z]+)", text))
    return frozenset(words)


@lru_cache(maxsize=1)
def _english_lookups() -> Tuple[Table, FrozenSet[str]]:
    """spaCy's English lookup tables (spacy-lookups-data): inflected forms (keys hashed) and
    the WordNet lemmas by part of speech."""
    lookups = load_lookups("en", ["lemma_index", "lemma_lookup"])
    lemmas = frozenset(w for words in lookups.get_table("lemma_index").values() for w in words)
    return lookups.get_table("lemma_lookup"), lemmas


def _is_english_word(lower: str) -> bool:
    forms, lemmas = _english_lookups()
    return lower in lemmas or lower in forms or _misspelt_word(lower)


MISSPELLING_MIN_LETTERS = 7


@lru_cache(maxsize=1)
def _long_words_by_length() -> Dict[int, List[str]]:
    """English lemmas and the assistant's words of at least MISSPELLING_MIN_LETTERS letters, by length."""
    words = _english_lookups()[1] | _vocabulary()
    by_length: Dict[int, List[str]] = {}
    for word in sorted(w for w in words if w.isalpha() and len(w) >= MISSPELLING_MIN_LETTERS):
        by_length.setdefault(len(word), []).append(word)
    return by_length


def _misspelt_word(lower: str) -> bool:
    """One typo (Damerau-Levenshtein distance 1) inside a long English word ("embarassing",
    "definately", "recieved"): first and last letters kept, so "patricia" (patrician) stays a name."""
    if len(lower) < MISSPELLING_MIN_LETTERS or not lower.isalpha():
        return False
    by_length = _long_words_by_length()
    candidates = [
        w
        for n in (len(lower) - 1, len(lower), len(lower) + 1)
        for w in by_length.get(n, ())
        if w[0] == lower[0] and w[-1] == lower[-1]
    ]
    nearest = process.extractOne(lower, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=1)
    return nearest is not None


class _Matchers(NamedTuple):
    nlp: Language
    cues: PhraseMatcher
    streets: Matcher


@lru_cache(maxsize=1)
def _matchers() -> _Matchers:
    nlp = spacy.blank("en")
    cues = PhraseMatcher(nlp.vocab, attr="LOWER")
    for label, phrases in (
        ("strong_name", STRONG_NAME_CUES),
        ("weak_name", WEAK_NAME_CUES + tuple(f"{s}{p}" for s in SIGN_OFFS for p in (",", " -", "!", "."))),
        ("weak_name", BARE_SIGN_OFFS),
        ("relative", tuple(f"my {r}" for r in RELATIVES) + tuple(f"my {r}," for r in RELATIVES)),
        ("birth", BIRTH_CUES),
        ("record", RECORD_CUES),
        ("ssn", SSN_CUES),
        ("address", ADDRESS_CUES),
    ):
        # Tokenization depends on case ("id" is "i" + "d", as in "I'd"; "Dr." is one token, "dr." two):
        # each phrase as typed in lower case, capitalised and in capitals.
        variants = {v for p in phrases for v in (p, p.capitalize(), p.title(), p.upper())}
        cues.add(label, [nlp.make_doc(phrase) for phrase in sorted(variants)])
    streets = Matcher(nlp.vocab)
    number = {"TEXT": {"REGEX": r"^\d{1,6}[A-Za-z]?$"}}
    street_word = {
        "TEXT": {"REGEX": r"^(?:[A-Za-z][A-Za-z'\-]*\.?|\d{1,3}(?:st|nd|rd|th))$"},
        "LOWER": {"NOT_IN": sorted(NOT_STREET_WORDS | STOP_WORDS - {"n", "s", "e", "w"})},
    }
    suffix = {"LOWER": {"IN": list(STREET_SUFFIXES)}}
    for words in range(1, 5):
        streets.add("street", [[number, *[street_word] * words, suffix]], greedy="LONGEST")
    return _Matchers(nlp, cues, streets)


def _is_cased(doc: Doc) -> bool:
    """True when the message uses case (some words lower, some capitalised), so a capital letter
    tells something; False for all-lower, ALL-UPPER or Title Case Everywhere messages."""
    words = [t.text for t in doc if t.is_alpha and t.lower_ != "i"]
    return any(w[0].islower() for w in words) and any(w[0].isupper() for w in words)


def _name_part(token: Token, first: bool, strong: bool, cased: bool, capitalised_name: bool) -> bool:
    text = token.text
    if not NAME_SHAPE.fullmatch(text):
        return False
    lower = text.lower().rstrip(".")
    if lower in STOP_WORDS or lower in NOT_NAME_WORDS or lower.startswith("'"):
        return False
    if first and strong:
        return True
    if not first and len(lower) == 1 and text[0].isupper():  # an initial: "Ann B. Lee"
        return True
    if lower in _vocabulary():
        return False
    if strong:  # a later word after a strong cue: in a cased message, capitalised like the first
        return text[0].isupper() if cased and capitalised_name else True
    if cased:
        return text[0].isupper()
    return not _is_english_word(lower)


def _name_after(
    doc: Doc, start: int, strong: bool, cased: bool, max_words: int = 4
) -> Optional[Tuple[int, int]]:
    """The token range of a name starting at token `start` (fillers like ":" and "is" skipped
    after a strong cue), or None."""
    i = start
    while strong and i < len(doc) and doc[i].lower_ in {":", "-", "=", ",", "is", "was"}:
        i += 1
    first, words, j = i, 0, i
    while j < len(doc) and words < max_words:
        token = doc[j]
        # "Mary-Ann": a hyphen joining two name words without spaces
        if words and token.text == "-" and not doc[j - 1].whitespace_ and not token.whitespace_:
            j += 1
            continue
        if not _name_part(token, words == 0, strong, cased, doc[first].text[:1].isupper()):
            break
        words, j = words + 1, j + 1
    if doc[j - 1].text == "-" and j > first:
        j -= 1
    return (first, j) if words else None


def _names(doc: Doc, cue_matches: List[Tuple[str, int, int]]) -> List[_Span]:
    cased = _is_cased(doc)
    spans = []
    for label, _, end in cue_matches:
        if label not in {"strong_name", "weak_name", "relative"}:
            continue
        found = _name_after(doc, end, label == "strong_name", cased)
        if found is not None:
            first, last = found
            spans.append(_Span(doc[first].idx, doc[last - 1].idx + len(doc[last - 1].text), "name", 3))
    return spans


def _end_char(doc: Doc, end: int) -> int:
    """The character offset where token `end - 1` ends."""
    return doc[end - 1].idx + len(doc[end - 1].text)


def _after_cue(text: str, pattern: re.Pattern, cue_end: int, group: str) -> Optional[Tuple[int, int]]:
    match = pattern.match(text, cue_end)
    return match.span(group) if match else None


def _dates_of_birth(text: str, doc: Doc, cue_matches: List[Tuple[str, int, int]]) -> List[_Span]:
    spans = []
    for label, _, end in cue_matches:
        if label == "birth":
            found = _after_cue(text, BIRTH_VALUE, _end_char(doc, end), "date")
            if found:
                spans.append(_Span(*found, "date of birth", 3))
    return spans


def _numbers_after_cues(text: str, doc: Doc, cue_matches: List[Tuple[str, int, int]]) -> List[_Span]:
    """Record and Social Security numbers after their cue: 4 digits or more, not a year alone
    ("Medicare since 2015" is no number)."""
    found = []
    for label, _, end in cue_matches:
        if label in {"record", "ssn"}:
            match = RECORD_VALUE.match(text, _end_char(doc, end))
            if match:
                found.append(
                    (match.span("value"), "social security number" if label == "ssn" else "record number")
                )
    found += [(m.span("value"), "record number") for m in ATTACHED_RECORD.finditer(text)]
    spans = []
    for (start, end), kind in found:
        value = text[start:end]
        if sum(c.isdigit() for c in value) >= 4 and not re.fullmatch(r"(?:19|20)\d{2}", value):
            spans.append(_Span(start, end, kind, 3))
    return spans


def _full_dates_long_ago(text: str) -> List[_Span]:
    this_year, spans = date.today().year, []
    for match in FULL_DATE.finditer(text):
        year_text = next(match[g] for g in ("y", "iy", "sy", "ty") if match[g])
        year = int(year_text)
        if year < 100:  # two digits: the most recent such year not in the future
            year += 2000 if 2000 + year <= this_year else 1900
        if year <= this_year - ADULT_YEARS:
            spans.append(_Span(*match.span(), "date", 2))
    return spans


def _phones(text: str) -> List[_Span]:
    matcher = phonenumbers.PhoneNumberMatcher(text, PHONE_REGION, leniency=phonenumbers.Leniency.POSSIBLE)
    return [_Span(m.start, m.end, "phone", 2) for m in matcher if _looks_like_phone(m.raw_string)]


def _looks_like_phone(raw: str) -> bool:
    """libphonenumber's loosest check takes any 7-11 digits ("10 20 30 40"): a number without a
    country code must have 7 or 10 digits (11 with a leading 1) in groups of 3 or more."""
    if raw.startswith("+"):
        return True
    digits = re.sub(r"\D", "", raw)
    groups = re.findall(r"\d+", raw)
    if len(digits) == 11 and digits.startswith("1"):
        groups = groups[1:] if groups[0] == "1" else groups
        digits = digits[1:]
    return len(digits) in (7, 10) and all(len(g) >= 3 for g in groups)


def _emails(doc: Doc) -> List[_Span]:
    return [_Span(t.idx, t.idx + len(t.text), "email", 3) for t in doc if t.like_email]


def _address_end(text: str, end: int) -> int:
    """`end` moved past what follows a street: unit, city, state, ZIP ("Apt 4B, Springfield, IL 62704")."""
    direction = ADDRESS_TAIL_DIRECTION.match(text, end)
    if direction:
        end = direction.end()
    unit = ADDRESS_TAIL_UNIT.match(text, end)
    if unit:
        end = unit.end()
    place = ADDRESS_TAIL_PLACE.match(text, end)
    if place is None or not place.group(0).strip():
        return end
    city, state, zip_code = place.span("city"), place["state"], place["zip"]
    if place["city"] and any(w.lower() in _vocabulary() for w in re.findall(r"[A-Za-z]+", place["city"])):
        return end  # "12 Oak St, Back pain since..." is not a city
    if state and state.strip(" ,").lower() not in US_STATES:
        state = None
    if zip_code:
        return place.end("zip")
    if state and state.strip(" ,").isupper():  # "Springfield, IL"
        return place.end("state")
    return city[1] if place["city"] and text[end : city[0]].strip() == "," else end


def _addresses(text: str, doc: Doc, cue_matches: List[Tuple[str, int, int]]) -> List[_Span]:
    nlp_matches = _matchers().streets(doc)
    spans = []
    for _, start, end in nlp_matches:
        span_end = _end_char(doc, end)
        if span_end < len(text) and text[span_end] == "." and doc[end - 1].lower_ in STREET_ABBREVIATIONS:
            span_end += 1  # "St."
        spans.append(_Span(doc[start].idx, _address_end(text, span_end), "address", 3))
    for match in PO_BOX.finditer(text):
        spans.append(_Span(*match.span(), "address", 3))
    for label, _, end in cue_matches:
        if label != "address":
            continue
        match = ADDRESS_VALUE.match(text, _end_char(doc, end))
        if match and re.search(r"[A-Za-z]", match["value"]):
            spans.append(_Span(*match.span("value"), "address", 3))
    return spans


def _standalone_numbers(text: str) -> List[_Span]:
    spans = [_Span(*m.span(), "social security number", 2) for m in SSN.finditer(text)]
    spans += [_Span(*m.span(), "record number", 1) for m in LONG_CODE.finditer(text)]
    return spans


def _chosen(spans: Iterable[_Span]) -> List[_Span]:
    """Non-overlapping spans: the higher priority first, then the longer; in text order."""
    chosen: List[_Span] = []
    for span in sorted(spans, key=lambda s: (-s.priority, -(s.end - s.start), s.start)):
        if span.end > span.start and all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen)


def personal_details(text: str) -> List[Tuple[int, int, str]]:
    """The personal details in `text` as `(start, end, kind)` character ranges, in text order."""
    matchers = _matchers()
    doc = matchers.nlp.make_doc(text)
    cue_matches = [(doc.vocab.strings[key], start, end) for key, start, end in matchers.cues(doc)]
    spans = (
        _emails(doc)
        + _phones(text)
        + _names(doc, cue_matches)
        + _dates_of_birth(text, doc, cue_matches)
        + _numbers_after_cues(text, doc, cue_matches)
        + _addresses(text, doc, cue_matches)
        + _standalone_numbers(text)
        + _full_dates_long_ago(text)
    )
    return [(s.start, s.end, s.kind) for s in _chosen(spans)]


def prepare() -> None:
    """Builds the matchers and loads the word lists (~1.5 s), so that the first message does not wait."""
    _matchers()
    _vocabulary()
    _english_lookups()
    _long_words_by_length()


def mask_personal_details(text: str) -> MaskedText:
    """`text` with each personal detail replaced by its placeholder (see the table above);
    idempotent: masking a masked text changes nothing. `text` is in the canonical form of
    nlu_components/normalization.py, as the message guard gives it (spaCy's tokenizer raises
    UnicodeEncodeError on a lone surrogate)."""
    pieces, kinds, position = [], [], 0
    for start, end, kind in personal_details(text):
        pieces += [text[position:start], PLACEHOLDERS[kind]]
        position = end
        if kind not in kinds:
            kinds.append(kind)
    pieces.append(text[position:])
    return MaskedText("".join(pieces), tuple(kinds))
