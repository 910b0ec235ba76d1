"""After-care triage: someone who has had the procedure and says how they feel gets no benefits
answer, whatever the classifier thought of their words.

"I had it two weeks ago and the pain is back, is that normal?" reads to a classifier like a
question about pain relief, and the article's "many patients report reduced pain immediately"
is the last thing such a patient should be told: the article says nothing about after-care.
When a message says the procedure has happened (a past-procedure phrase) and describes how the
patient feels or what they see at the wound (a feeling phrase), the intent becomes `after_care`;
its reply sends to the clinic today, with the red flags to watch for (nlu_components/routing.py
decides; an emergency or a message in another language still wins).
"""

from __future__ import annotations

from typing import Set

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

from nlu_components.red_flags import token_pattern

PROCEDURE = "procedure|kyphoplasty|kypho|vertebroplasty|op|operation|surgery|cement|balloon"
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|wed|weds|thurs|fri"
WHEN = f"yesterday|{DAYS}|today|week|month|fortnight"
PAST_PROCEDURE = [
    f"=had * {PROCEDURE}",
    f"=had * * {PROCEDURE}",
    "=had it",
    "=had mine",
    f"since * {PROCEDURE}",
    f"since * * {PROCEDURE}",
    f"{PROCEDURE} =was # day|days|week|weeks|month|months ago",
    f"{PROCEDURE} =was {WHEN}",
    f"{PROCEDURE} =was last",
    f"{PROCEDURE} # day|days|week|weeks|month|months ago",
    "post op",
    "post-op",
    f"post {PROCEDURE}",
    "day # after|post|since",
    "day # of recovery",
    f"=did =my|her|his|mums|dads {PROCEDURE}",
    f"=did =my|her|his|mums|dads * {PROCEDURE}",
    f"home from * {PROCEDURE}",
    f"home from * * {PROCEDURE}",
    f"after * {PROCEDURE} on|last|yesterday|this|{WHEN}",
    f"{PROCEDURE} =was|were done",
    f"{PROCEDURE} =was|were * done",
    f"# day|days|week|weeks out from * {PROCEDURE}",
    "plaster|plasters|dressing|dressings|stitches|bandage * * * =came|fell off",
    "plaster|plasters|dressing|dressings|stitches|bandage * * * =has|have|had =come|fallen off",
    # "had two levels done last week", "had my back done": the treated bones, not any test
    "=had # level|levels|vertebra|vertebrae|bone|bones done|treated|fixed|cemented",
    "=had * level|levels|vertebra|vertebrae|bone|bones done|treated|fixed|cemented",
    "=had =my|her|his|the back|spine done|treated|fixed",
    # "since mine", "feel really good after mine", not "will it hurt after mine?"
    "since =mine|hers|his",
    "=feel|feels|felt|feeling|been * * after =mine|hers|his",
    # "home from hospital yesterday after the balloon thing", not "... after they found a fracture"
    f"home from hospital|hosp|clinic after * {PROCEDURE}",
    f"home from hospital|hosp|clinic after * * {PROCEDURE}",
    f"home from hospital|hosp|clinic * after * {PROCEDURE}",
    f"home from hospital|hosp|clinic * after * * {PROCEDURE}",
]
# "3 days after my kyphoplasty", "I'm 2 weeks after": the procedure has happened, unless the
# message asks what it will be like ("will I be sore 2 days after my kyphoplasty?").
TIME_AFTER = [
    f"# day|days|week|weeks|month|months after|post|since my|her|his|mums|dads|mum's|dad's {PROCEDURE}",
    f"# day|days|week|weeks|month|months after|post|since my|her|his|mums|dads|mum's|dad's * {PROCEDURE}",
    # spaCy splits "i'm", "im", "she's", "shes" into two tokens: the verb's form is matched alone
    "=am|'m|m|'s|s|'re|re # day|days|week|weeks after|post|out",
    "=she|he|mum|mom|dad|wife|husband is # day|days|week|weeks after|post|out",
    "# day|days|week|weeks post",
]
# The procedure's wound, told as it is now ("the cut on my back itches", "a lump where they put
# the needle in"): it has happened, unless the message says it is still to come.
WOUND = [
    "=the|my|her|his|mums|dads cut|incision|wound|puncture|scar|hole|holes on|in =my|her|his|the back",
    "=the|my|her|his|mums|dads * cut|incision|wound|puncture|scar|hole|holes on|in =my|her|his|the back",
    "=the|my|her|his|mums|dads needle|injection site|mark|marks",
    "where =they|he|she|the * =put|went|inserted|injected * needle|cement|balloon",
]
WILL = {"will", "'ll", "ll", "wo", "would", "going", "gonna"}
FUTURE = [
    "will|'ll i|he|she|we|mum|mom|dad be|feel|get|need|have|hurt",
    "=be|am|is|are going to be|feel|hurt",
    "expect",
]
# A question about what the procedure will do ("will kyphoplasty help with the pain?"), asked before it.
PROCEDURE_QUESTION = [
    f"will|would|could|can|does|might {PROCEDURE}|it|this|that help|fix|work|take|ease|stop|cure|relieve",
    f"will|would|could|can|does|might * {PROCEDURE} help|fix|work|take|ease|stop|cure|relieve",
]
# The procedure is still to come, said with a date or a plan: "I'm having kyphoplasty next month",
# "she is booked in for the procedure". Not "before": "worse than before the op" is after-care.
AHEAD = [
    f"{PROCEDURE} next week|month|year|{DAYS}",
    f"{PROCEDURE} * next week|month|year|{DAYS}",
    f"{PROCEDURE} * * next week|month|year|{DAYS}",
    f"{PROCEDURE} tomorrow",
    f"{PROCEDURE} * tomorrow",
    "=having|getting it next|tomorrow",
    "=having|getting it * next|tomorrow",
    "=having|getting it|one in * * day|days|week|weeks|month|months",
    f"upcoming|scheduled|booked|planned * {PROCEDURE}",
    f"upcoming|scheduled|booked|planned * * {PROCEDURE}",
    f"booked|scheduled in for * {PROCEDURE}",
    f"=going to have * {PROCEDURE}",
    f"=undergoing|considering * {PROCEDURE}",
    f"=undergoing|considering * * {PROCEDURE}",
    f"=thinking about|of * {PROCEDURE}",
]
FEELING = [
    "pain|painful|sore|soreness|hurt|hurts|hurting|ache|aching|achy|stiff|stiffness|bruise|bruised|bruising",
    "tired|exhausted|worse|swollen|swelling|itchy|itch|tender|throbbing|burning|spasm|spasms|cramp|cramps",
    "dizzy|sick|nausea|nauseous|queasy|shaky|weak|numb|tingling|headache|constipated|bunged",
    "groggy|drowsy|dozy|sleepy|woozy|twinge|twinges|niggle|niggles|pulling|tight|tightness|sleepless",
    "shaking|shivering|shivery|racing|pounding|palpitation|palpitations|sweating|sweaty|clammy",
    "no better",
    "not better",
    "no improvement",
    "not improve",
    "not help",
    "not work",
    "be back",
    "come back",
    "normal",
    "worried|worry|concerned|scared|afraid|frightened|nervous",
    "worn out",
    "wiped out",
    "can't|cannot sleep",
    "cant sleep",
    "trouble sleeping",
    "sleep|sleeping badly|poorly",
    # what the patient sees at the wound: a discharge sheet's "call us if" list, not a feeling
    "blood|bleed|bleeding|bled|ooze|oozing|weeping|leaking|scab|scabby|lump|bump|rash|redness|red|pink|pinkish",
    "hot|warm to the touch",
    "hot|warm and red",
]
# How they feel or the wound looks when all is well ("feel amazing, ok to potter about?"): still
# after-care, which the article does not cover; not in a question about what the procedure would
# do for someone else ("mum had it last year and feels great, would it help me?").
FEELING_WELL = [
    "=feel|feels|felt|feeling amazing|great|fine|good|better|brilliant|wonderful|fantastic|well",
    "=feel|feels|felt|feeling * amazing|great|fine|good|better|brilliant|wonderful|fantastic|well",
    "=look|looks|looking clean|dry|fine|healed|healing|ok|okay",
    "=look|looks|looking * clean|dry|fine|healed|healing|ok|okay",
]


class AfterCareFinder:
    """Tells whether a doc says the procedure has happened and how the patient feels now."""

    def __init__(self, nlp: Language) -> None:
        self.matcher = Matcher(nlp.vocab)
        self.matcher.add("PAST_PROCEDURE", [token_pattern(p, nlp) for p in PAST_PROCEDURE])
        self.matcher.add("FEELING", [token_pattern(p, nlp) for p in FEELING])
        self.matcher.add("FEELING_WELL", [token_pattern(p, nlp) for p in FEELING_WELL])
        self.matcher.add("AHEAD", [token_pattern(p, nlp) for p in AHEAD])
        self.matcher.add("TIME_AFTER", [token_pattern(p, nlp) for p in TIME_AFTER])
        self.matcher.add("FUTURE", [token_pattern(p, nlp) for p in FUTURE])
        self.matcher.add("WOUND", [token_pattern(p, nlp) for p in WOUND])
        self.matcher.add("PROCEDURE_QUESTION", [token_pattern(p, nlp) for p in PROCEDURE_QUESTION])

    def _found(self, doc: Doc) -> Set[str]:
        matches = [(self.matcher.vocab.strings[match_id], start) for match_id, start, _ in self.matcher(doc)]
        found = {label for label, _ in matches}
        if "TIME_AFTER" in found and "FUTURE" not in found:
            found.add("PAST_PROCEDURE")
        # "will the cut on my back be sore?" asks ahead; "the cut itches, will it heal?" does not
        wound_now = any(
            label == "WOUND" and not any(t.lower_ in WILL for t in doc[:start]) for label, start in matches
        )
        if wound_now and not {"AHEAD", "PROCEDURE_QUESTION"} & found:
            found.add("PAST_PROCEDURE")
        return found

    def describes_after_care(self, doc: Doc) -> bool:
        found = self._found(doc)
        feeling_well = "FEELING_WELL" in found and "PROCEDURE_QUESTION" not in found
        return "PAST_PROCEDURE" in found and ("FEELING" in found or feeling_well)

    def procedure_ahead(self, doc: Doc) -> bool:
        """The doc says the procedure is still to come (a date, a plan, or a question about what
        it will do: "will kyphoplasty help with the pain?"), and nowhere that it has happened."""
        found = self._found(doc)
        return bool({"AHEAD", "PROCEDURE_QUESTION"} & found) and "PAST_PROCEDURE" not in found
