"""Personal details are masked before a message is parsed or stored (channels/pii_masking.py,
applied by channels/message_guard.py), and the assistant still answers the masked text.

The cases are in pii_cases.yml: its tuning part must pass case by case; its held-out part was
written after the patterns were frozen and is only measured (precision and recall of the details
masked), with a floor at the measured values so that a change that loses some fails.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import requests
import spacy
import yaml

from actions.knowledge import load_knowledge
from actions.reply import payload_for
from channels.message_guard import guard
from channels.pii_masking import PLACEHOLDERS, MaskedText, mask_personal_details, personal_details
from channels.sms import sms_conversation_id
from evaluation.servers import Assistant
from nlu_components.paths import PROJECT_ROOT
from nlu_components.red_flags import RedFlagFinder
from tests.channels.fake_platform import FakePlatform
from tests.channels.test_sms import inbound_form, post, to
from tests.conftest import TEST_CHANNEL_SECRETS

CASES = yaml.safe_load(Path(__file__).with_name("pii_cases.yml").read_text(encoding="utf-8"))
TUNING, HELDOUT = CASES["tuning"], CASES["heldout"]
PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
KIND_OF = {placeholder: kind for kind, placeholder in PLACEHOLDERS.items()}

# Measured on the held-out part when it was first run: 41 of its 45 details masked, 1 of the 42
# masked ranges not a personal detail ("I'm Catholic").
HELDOUT_MIN_PRECISION = 0.97
HELDOUT_MIN_RECALL = 0.91


def expected_details(text: str, masked: str) -> List[Tuple[int, int, str]]:
    """The `(start, end, kind)` ranges of `text` that the expected `masked` text replaces."""
    pieces = PLACEHOLDER.split(masked)
    pattern = "(.+?)".join(re.escape(piece) for piece in pieces)
    match = re.fullmatch(pattern, text, re.DOTALL)
    assert match, f"the expected masked text does not fit the message: {masked!r}"
    kinds = [KIND_OF[p] for p in PLACEHOLDER.findall(masked)]
    return [(*match.span(i + 1), kind) for i, kind in enumerate(kinds)]


@pytest.mark.parametrize("case", TUNING["masked"], ids=lambda c: c["text"][:50])
def test_personal_details_are_masked(case: Dict[str, str]) -> None:
    masked = mask_personal_details(case["text"])
    assert masked.text == case["masked"]
    expected_kinds = [KIND_OF[p] for p in PLACEHOLDER.findall(case["masked"])]
    assert masked.kinds == tuple(dict.fromkeys(expected_kinds))


@pytest.mark.parametrize("text", TUNING["kept"], ids=lambda t: t[:50])
def test_lookalikes_are_kept(text: str) -> None:
    assert mask_personal_details(text).text == text
    assert mask_personal_details(text).kinds == ()


def scores(cases: Dict[str, list]) -> Dict[str, float]:
    """Precision: the masked ranges that hit a personal detail; recall: the personal details
    masked in full; both over the cases' details, lookalikes included."""
    masked_right = masked_total = found = details = 0
    for case in [*cases["masked"], *({"text": t, "masked": t} for t in cases["kept"])]:
        expected = expected_details(case["text"], case["masked"])
        predicted = personal_details(case["text"])
        details += len(expected)
        masked_total += len(predicted)
        masked_right += sum(
            any(s < e_end and e_start < e for e_start, e_end, _ in expected) for s, e, _ in predicted
        )
        found += sum(
            all(any(s <= i < e for s, e, _ in predicted) for i in range(e_start, e_end))
            for e_start, e_end, _ in expected
        )
    return {"precision": masked_right / masked_total, "recall": found / details, "details": details}


def test_the_held_out_cases_are_masked_as_well_as_when_measured(capsys: pytest.CaptureFixture) -> None:
    measured = scores(HELDOUT)
    with capsys.disabled():
        print(
            f"\nPII masking, held-out part: {measured['details']} details in {len(HELDOUT['masked'])} "
            f"messages and {len(HELDOUT['kept'])} lookalikes: precision {measured['precision']:.3f}, "
            f"recall {measured['recall']:.3f}"
        )
    assert measured["precision"] >= HELDOUT_MIN_PRECISION
    assert measured["recall"] >= HELDOUT_MIN_RECALL
    assert scores(TUNING) == {"precision": 1.0, "recall": 1.0, "details": scores(TUNING)["details"]}


def every_case_text() -> Iterator[str]:
    for part in (TUNING, HELDOUT):
        yield from (case["text"] for case in part["masked"])
        yield from part["kept"]


def test_masking_a_masked_text_changes_nothing() -> None:
    for text in every_case_text():
        once = mask_personal_details(text).text
        assert mask_personal_details(once) == MaskedText(once, ())


def project_messages() -> List[str]:
    """Every patient message the project was trained or tested on (data/nlu, the NLU, red-flag
    and patient-question sets, the conversation tests)."""
    messages = []
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in item.get("examples", "").splitlines():
                if line.strip().startswith("- "):  # "[brittle bones](condition)" -> "brittle bones"
                    messages.append(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line.strip()[2:]))
    sets = [*(PROJECT_ROOT / "tests").glob("*/*.yml"), PROJECT_ROOT / "tests" / "conversations.yml"]

    def texts(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "user") and isinstance(value, str):
                    yield value
                else:
                    yield from texts(value)
        elif isinstance(node, list):
            for value in node:
                yield from texts(value)

    for path in sets:
        if path.name != "pii_cases.yml":
            messages.extend(texts(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return list(dict.fromkeys(messages))


def test_the_projects_own_patient_messages_come_through_unchanged_but_for_names() -> None:
    messages = project_messages()
    assert len(messages) >= 4000
    masked = {message: mask_personal_details(message).text for message in messages}
    # The only personal details in them: six names.
    assert {m: text for m, text in masked.items() if text != m} == {
        "hi my name is margaret": "hi my name is [person]",
        "is dr patel still working at your clinic? he did my injections before": (
            "is dr [person] still working at your clinic? he did my injections before"
        ),
        "is dr patel at st thomas's any good at kyphoplasty": (
            "is dr [person] at st thomas's any good at kyphoplasty"
        ),
        **{
            m: m.replace("Margaret", "[person]")
            for m in messages
            if m.startswith("Hi, it's Margaret's daughter.")
        },
        **{m: m.replace("Edna", "[person]") for m in messages if m.startswith("Hello, this is Edna,")},
        **{m: m.replace("Ray", "[person]", 1) for m in messages if m.startswith("My name is Ray,")},
    }


def test_every_button_payload_comes_through_unchanged() -> None:
    # A masked payload would no longer be one the assistant offered (channels/button_payloads.py).
    payloads = [payload_for(answer) for answer in load_knowledge().answers.values()]
    assert len(payloads) >= 20
    assert [p for p in payloads if mask_personal_details(p).text != p] == []


@pytest.fixture(scope="module")
def red_flag_finder() -> Tuple[spacy.language.Language, RedFlagFinder]:
    nlp = spacy.load("en_kyphoplasty")
    return nlp, RedFlagFinder(nlp)


def test_red_flags_are_found_in_masked_messages(
    red_flag_finder: Tuple[spacy.language.Language, RedFlagFinder],
) -> None:
    nlp, finder = red_flag_finder
    introduction = "Hi, my name is Ann Lee (DOB 3/4/1950), call me on 415-555-0123 or ann.lee@example.com. "
    emergencies = [
        entry
        for name in ("tuning.yml", "tuning_second.yml", "final.yml")
        for entry in yaml.safe_load((PROJECT_ROOT / "tests" / "red_flags" / name).read_text())["emergencies"]
    ]
    assert len(emergencies) >= 250
    for entry in emergencies:
        masked = mask_personal_details(introduction + entry["text"])
        assert masked.kinds == ("name", "date of birth", "phone", "email")
        # Rasa's SpacyNLP lower-cases messages before spaCy sees them.
        before = finder.find(nlp(entry["text"].lower())).emergencies
        assert finder.find(nlp(masked.text.lower())).emergencies == before, entry["text"]


def test_the_guard_masks_and_says_which_kinds_it_masked() -> None:
    checked = guard("  my name is Ann Lee, my number is 415\u2011555\u20110123 and my dob is 3/4/1950  ")
    assert checked.reply is None
    assert checked.text == "my name is [person], my number is [phone] and my dob is [date of birth]"
    assert checked.masked == ("name", "phone", "date of birth")
    assert guard("what is kyphoplasty?").masked == ()


# --- end to end, on the session's servers ----------------------------------------------------

NAME, PHONE, EMAIL = "Ann Lee", "415-555-0123", "ann.lee@example.com"
INTRODUCTION = f"my name is {NAME}, my phone is {PHONE} and my email is {EMAIL}."
# Never anywhere in the stored conversation; the parts of the name and number not in what the
# patient said either (the article's references may name a "Lee").
VALUES = (NAME, PHONE, "4155550123", EMAIL, "ann.lee")
PARTS = ("Ann", "Lee", "415", "0123")


def stored_events(assistant: Assistant, sender: str) -> List[Dict]:
    with sqlite3.connect(assistant.logs / "conversations.db") as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data) for (data,) in rows]


def assert_nothing_personal_stored(assistant: Assistant, sender: str) -> List[Dict]:
    events = stored_events(assistant, sender)
    user_events = [e for e in events if e["event"] == "user"]
    assert user_events, "the conversation was not stored"
    for event in user_events:  # parse_data["text"] is what NLU read: the question part of it
        assert "[person]" in event["text"] and event["parse_data"]["text"].lower() in event["text"].lower()
    stored, said = json.dumps(events), json.dumps(user_events)
    assert not [value for value in VALUES if value in stored]
    assert not [part for part in PARTS if re.search(rf"\b{part}\b", said)]  # not in a timestamp
    return user_events


def test_a_message_with_personal_details_gets_an_answer_and_none_of_them_is_stored(
    assistant: Assistant,
) -> None:
    sender = uuid.uuid4().hex
    replies = assistant.chat(sender, f"{INTRODUCTION} How long is recovery after kyphoplasty?")
    texts = [r["text"] for r in replies]
    assert any(t.startswith("From the article:") for t in texts) and any(
        t.startswith("Sources:") for t in texts
    )
    [event] = assert_nothing_personal_stored(assistant, sender)
    assert event["text"] == (
        "my name is [person], my phone is [phone] and my email is [e-mail]. "
        "How long is recovery after kyphoplasty?"
    )
    assert event["parse_data"]["intent"]["name"] != "nlu_fallback"


def test_an_emergency_told_with_a_name_gets_the_emergency_reply(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    replies = assistant.chat(sender, "my name is Ann Lee and I can't feel my legs")
    assert "911" in replies[0]["text"]
    [event] = assert_nothing_personal_stored(assistant, sender)
    assert event["parse_data"]["intent"]["name"] == "red_flag"


def test_the_widget_channel_masks_before_storing(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    response = requests.post(
        f"{assistant.base_url}/webhooks/widget/webhook",
        json={"sender": sender, "message": f"{INTRODUCTION} is kyphoplasty painful?"},
        headers={"Origin": assistant.site_url},
        timeout=60,
    )
    response.raise_for_status()
    # Understood despite the personal details: an answer, an honest decline or "did you mean ...?"
    # ("is it painful?" is unclear: during the procedure, or afterwards?).
    assert {"answer", "not_covered", "decline", "clarify"} & {r["custom"]["kind"] for r in response.json()}
    assert_nothing_personal_stored(assistant, sender)


def test_a_messaging_channel_masks_before_storing_even_when_sending_fails(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    """A run with errors: Twilio is down, every send attempt fails and is logged; the conversation
    is stored masked, the channel state keeps ids only and no log has the details."""
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    fake_platform.down = True
    try:
        assert (
            post(assistant, inbound_form(number, f"{INTRODUCTION} what is kyphoplasty?")).status_code == 200
        )
        assert len(fake_platform.wait_for(to(number), 3, settle_s=3)) == 3
    finally:
        fake_platform.down = False
    assert_nothing_personal_stored(
        assistant, sms_conversation_id("twilio_sms", TEST_CHANNEL_SECRETS["TWILIO_AUTH_TOKEN"], number)
    )
    with sqlite3.connect(assistant.logs / "conversations.db") as connection:  # nor is the number
        senders = [sender for (sender,) in connection.execute("SELECT DISTINCT sender_id FROM events")]
    assert senders and not [sender for sender in senders if number in sender or number[1:] in sender]
    with sqlite3.connect(assistant.logs / "channel_state.db") as connection:
        tables = [
            name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        rows = [row for table in tables for row in connection.execute(f"SELECT * FROM {table}")]
    assert rows and not [value for value in VALUES if value in repr(rows)]
    logs = {
        log.name: log.read_text(encoding="utf-8", errors="replace") for log in assistant.logs.glob("*.log")
    }
    assert "send attempt 3 of 3 failed" in logs["rasa.log"]
    assert not [
        (name, value) for name, text in logs.items() for value in (*VALUES, "Ann Lee") if value in text
    ]


def test_the_servers_logs_hold_none_of_the_details(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    assistant.chat(sender, f"{INTRODUCTION} what is kyphoplasty?")
    for log in assistant.logs.glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert not [value for value in VALUES if value in text], log.name
