"""Telegram against the real servers and a fake Bot API: secret-token checks, HTML replies with
links and inline keyboards, button presses, commands, duplicates, ignored update kinds, the API
down, webhook registration; and the rendering itself on fixed replies."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.replies import fill
from actions.reply import new_reply, payload_for
from channels.message_guard import channel_text
from channels.telegram import MAX_MESSAGE_CHARS, TelegramInput, main, render_telegram
from evaluation.servers import Assistant
from nlu_components.paths import PROJECT_ROOT
from tests.channels.fake_platform import Call, FakePlatform
from tests.conftest import PUBLIC_BASE_URL, TEST_CHANNEL_SECRETS, channel_environment

CLINIC = load_clinic()
KNOWLEDGE = load_knowledge()
TOKEN = TEST_CHANNEL_SECRETS["TELEGRAM_BOT_TOKEN"]
SECRET = TEST_CHANNEL_SECRETS["TELEGRAM_SECRET_TOKEN"]
PATH = "/webhooks/telegram/webhook"
# The tags the renderer writes; anything else that looks like markup came from a text.
OUR_TAGS = re.compile(r'<a href="[^"]*">|</a>|</?[bi]>')


def new_chat_id() -> int:
    return 10**9 + uuid.uuid4().int % 10**9


def new_update_id() -> int:
    return uuid.uuid4().int % 2**31


def patient(chat_id: int) -> Dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Pat", "language_code": "en"}


def chat_message(chat_id: int, text: Optional[str] = None, **content: Any) -> Dict[str, Any]:
    """A message as Telegram delivers it in a private chat (a command with its entity)."""
    message: Dict[str, Any] = {
        "message_id": uuid.uuid4().int % 10**6,
        "from": patient(chat_id),
        "chat": {"id": chat_id, "first_name": "Pat", "type": "private"},
        "date": int(time.time()),
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return message


def message_update(chat_id: int, text: Optional[str] = None, **content: Any) -> Dict[str, Any]:
    return {"update_id": new_update_id(), "message": chat_message(chat_id, text, **content)}


def button_press(chat_id: int, data: str, under: Dict[str, Any]) -> Dict[str, Any]:
    """A press on an inline button of the bot's message `under` (a sendMessage body)."""
    bot_message = {
        "message_id": uuid.uuid4().int % 10**6,
        "from": {"id": 123456, "is_bot": True, "first_name": "Clinic", "username": "clinic_bot"},
        "chat": {"id": chat_id, "first_name": "Pat", "type": "private"},
        "date": int(time.time()),
        "text": html.unescape(re.sub(r"<[^>]+>", "", under["text"])),
        "reply_markup": under["reply_markup"],
    }
    return {
        "update_id": new_update_id(),
        "callback_query": {
            "id": str(uuid.uuid4().int % 10**18),
            "from": patient(chat_id),
            "message": bot_message,
            "chat_instance": "-4815162342",
            "data": data,
        },
    }


def post(assistant: Assistant, update: Any, secret: Optional[str] = SECRET) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    return requests.post(f"{assistant.base_url}{PATH}", data=body, headers=headers, timeout=30)


def api(method: str):
    return lambda call: call.path == f"/bot{TOKEN}/{method}"


def sent_to(chat_id: int):
    return lambda call: api("sendMessage")(call) and call.body.get("chat_id") == chat_id


def bodies(calls: List[Call]) -> List[Dict[str, Any]]:
    return [call.body for call in calls]


def send(
    assistant: Assistant,
    platform: FakePlatform,
    update: Dict[str, Any],
    count: int = 1,
    settle_s: float = 0.5,
) -> List[Dict[str, Any]]:
    """Posts a signed update and returns the sendMessage bodies it caused (at least `count`)."""
    chat_id = (update.get("message") or update.get("callback_query", {}).get("message"))["chat"]["id"]
    before = len(platform.calls_where(sent_to(chat_id)))
    response = post(assistant, update)
    assert response.status_code == 200 and response.json() == {"status": "received"}
    return bodies(platform.wait_for(sent_to(chat_id), before + count, settle_s=settle_s))[before:]


def visible_markup(text: str) -> str:
    """The characters of `text` outside the renderer's own tags that Telegram or Markdown would
    read as markup."""
    return "".join(c for c in OUR_TAGS.sub("", text) if c in "<>*_`")


def test_an_answer_is_html_with_quotes_links_and_an_inline_keyboard(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    chat_id = new_chat_id()
    [message] = send(assistant, fake_platform, message_update(chat_id, "wat is kyphoplasty exactly?"))
    assert set(message) == {"chat_id", "text", "parse_mode", "disable_web_page_preview", "reply_markup"}
    assert (message["chat_id"], message["parse_mode"], message["disable_web_page_preview"]) == (
        chat_id,
        "HTML",
        True,
    )
    text = message["text"]
    assert text.startswith(html.escape(fill(KNOWLEDGE.answers["what_is_kyphoplasty"].text), quote=False))
    assert "\n\nFrom the article:\n<i>Kyphoplasty is a relatively new procedure" in text
    assert '\n\nSources:\n<a href="https://www.physio-pedia.com/Kyphoplasty">[2] Physiopedia</a>' in text
    assert f'<a href="{CLINIC.article_url}">{CLINIC.name}: {CLINIC.article_title}</a>' in text
    assert visible_markup(text) == "" and "/what" not in text  # no raw markup, no payloads
    rows = message["reply_markup"]["inline_keyboard"]
    by_question = {answer.question: answer for answer in KNOWLEDGE.answers.values()}
    assert rows and all(len(row) == 1 for row in rows)
    assert [row[0]["callback_data"] for row in rows] == [
        payload_for(by_question[row[0]["text"]]) for row in rows
    ]


def test_pressing_a_button_answers_that_option_and_stops_the_spinner(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    chat_id = new_chat_id()
    [first] = send(assistant, fake_platform, message_update(chat_id, "what is kyphoplasty"))
    button = first["reply_markup"]["inline_keyboard"][1][0]
    chosen = next(a for a in KNOWLEDGE.answers.values() if a.question == button["text"])
    press = button_press(chat_id, button["callback_data"], first)
    [second] = send(assistant, fake_platform, press)
    assert second["text"].startswith(html.escape(fill(chosen.text), quote=False)[:60])
    query_id = press["callback_query"]["id"]
    calls = fake_platform.calls_where(lambda call: True)
    answers = [i for i, call in enumerate(calls) if api("answerCallbackQuery")(call)
               and call.body.get("callback_query_id") == query_id]  # fmt: skip
    assert [calls[i].body for i in answers] == [{"callback_query_id": query_id}]
    replies = [i for i, call in enumerate(calls) if sent_to(chat_id)(call)]
    assert replies[0] < answers[0] < replies[1]  # the spinner stops before the answer is worked out


@pytest.mark.parametrize("start", ["/start", "/start@clinic_bot", "/start from-the-clinic-page"])
def test_start_greets_and_offers_questions(
    assistant: Assistant, fake_platform: FakePlatform, start: str
) -> None:
    greeting, offer = send(assistant, fake_platform, message_update(new_chat_id(), start), count=2)
    assert greeting["text"].startswith(f"Hello! I am the {html.escape(CLINIC.name, quote=False)} assistant.")
    starters = [[{"text": a.question, "callback_data": payload_for(a)}] for a in KNOWLEDGE.starters]
    assert offer["reply_markup"]["inline_keyboard"] == starters


def test_help_names_the_clinic_and_its_phone(assistant: Assistant, fake_platform: FakePlatform) -> None:
    [helped] = send(assistant, fake_platform, message_update(new_chat_id(), "/help"))
    assert helped["text"] == html.escape(channel_text("help_chat"), quote=False)
    assert CLINIC.name in helped["text"] and CLINIC.phone in helped["text"]


@pytest.mark.parametrize("secret", ["not-the-secret", SECRET.upper(), "", None])
def test_an_update_without_the_secret_token_is_refused_and_changes_nothing(
    assistant: Assistant, fake_platform: FakePlatform, secret: Optional[str]
) -> None:
    chat_id = new_chat_id()
    update = message_update(chat_id, "what is kyphoplasty")
    assert post(assistant, update, secret=secret).status_code == 403
    assert post(assistant, b"{not json", secret=secret).status_code == 403  # checked before parsing
    # The refused update_id was not taken: the same update, with the secret, is answered once.
    assert post(assistant, update).status_code == 200
    assert len(fake_platform.wait_for(sent_to(chat_id), settle_s=3)) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"message": {"text": "hi"}}', b"\xff\xfe"])
def test_a_signed_body_that_is_not_an_update_is_a_bad_request(assistant: Assistant, body: bytes) -> None:
    assert post(assistant, body).status_code == 400


def test_the_same_update_delivered_twice_is_answered_once(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    chat_id = new_chat_id()
    update = message_update(chat_id, "is it safe")
    assert post(assistant, update).status_code == 200
    assert post(assistant, update).status_code == 200
    assert len(fake_platform.wait_for(sent_to(chat_id), settle_s=3)) == 1


@pytest.mark.parametrize(
    "content",
    [
        {"sticker": {"file_id": "CAACAgIAAxkBAAE", "file_unique_id": "AgADXw", "type": "regular",
                     "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}},
        {"voice": {"file_id": "AwACAgIAAxkBAAE", "file_unique_id": "AgADYA", "duration": 4,
                   "mime_type": "audio/ogg"}},
        {"location": {"latitude": 40.7128, "longitude": -74.006}},
    ],
    ids=["sticker", "voice", "location"],
)  # fmt: skip
def test_a_message_without_text_gets_a_clear_reply(
    assistant: Assistant, fake_platform: FakePlatform, content: Dict[str, Any]
) -> None:
    [reply] = send(assistant, fake_platform, message_update(new_chat_id(), **content))
    assert reply["text"] == html.escape(channel_text("not_text"), quote=False)
    assert "only read typed messages" in reply["text"] and CLINIC.emergency_number in reply["text"]


def test_edits_and_other_update_kinds_get_no_reply(assistant: Assistant, fake_platform: FakePlatform) -> None:
    chat_id = new_chat_id()
    edited = chat_message(chat_id, "what is kyphoplasty", edit_date=int(time.time()))
    channel_post = {
        **chat_message(chat_id, "news"),
        "chat": {"id": chat_id, "title": "News", "type": "channel"},
    }
    for kind, payload in [("edited_message", edited), ("channel_post", channel_post), ("my_chat_member", {})]:
        response = post(assistant, {"update_id": new_update_id(), kind: payload})
        assert response.status_code == 200 and response.json() == {"status": "received"}
    # A sticker afterwards gets its one reply: the updates before it caused none.
    replies = send(assistant, fake_platform, message_update(chat_id, sticker={"file_id": "x"}), settle_s=3)
    assert [reply["text"] for reply in replies] == [html.escape(channel_text("not_text"), quote=False)]


def test_an_emergency_goes_first_on_its_own(assistant: Assistant, fake_platform: FakePlatform) -> None:
    chat_id = new_chat_id()
    replies = send(
        assistant, fake_platform, message_update(chat_id, "my legs went numb and i cant pee"), settle_s=3
    )
    first = replies[0]
    assert CLINIC.emergency_number in first["text"] and first["text"].startswith("<b>")
    assert "reply_markup" not in first and "From the article:" not in first["text"]


def test_when_telegram_is_down_the_message_is_kept_and_not_logged(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    chat_id = new_chat_id()
    marker = f"zq{uuid.uuid4().hex[:8]}"
    fake_platform.down = True
    try:
        assert post(assistant, message_update(chat_id, f"what is kyphoplasty {marker}")).status_code == 200
        attempts = fake_platform.wait_for(sent_to(chat_id), 3, settle_s=3)
        assert len(attempts) == 3  # bounded retries
    finally:
        fake_platform.down = False
    # The conversation was saved although nothing was sent: "1" picks the unsent reply's option 1.
    [reply] = send(assistant, fake_platform, message_update(chat_id, "1"))
    assert "From the article:" in reply["text"]
    logs = (assistant.logs / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "telegram: send attempt 3 of 3 failed (TelegramApiError, status 500)" in logs
    assert marker not in logs and TOKEN not in logs and SECRET not in logs


def test_register_points_the_webhook_at_this_server(fake_platform: FakePlatform, tmp_path: Path) -> None:
    env = {**os.environ, **channel_environment(fake_platform, tmp_path)}
    before = len(fake_platform.calls_where(api("setWebhook")))
    done = subprocess.run([sys.executable, "-m", "channels.telegram", "register"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    url = f"{PUBLIC_BASE_URL}{PATH}"
    assert url in done.stdout and TOKEN not in done.stdout + done.stderr
    [call] = fake_platform.calls_where(api("setWebhook"))[before:]
    assert call.body == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query"],
        "drop_pending_updates": False,
    }


def test_register_reports_missing_settings_and_refusals(
    fake_platform: FakePlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    for name, value in channel_environment(fake_platform, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN")
    before = len(fake_platform.calls_where(api("setWebhook")))
    assert main(["register"]) == 2
    assert "TELEGRAM_SECRET_TOKEN" in capsys.readouterr().err
    assert len(fake_platform.calls_where(api("setWebhook"))) == before
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    fake_platform.down = True
    try:
        assert main(["register"]) == 1
    finally:
        fake_platform.down = False
    refused = capsys.readouterr().err
    assert "setWebhook failed with status 500" in refused and TOKEN not in refused


def test_the_channel_is_off_without_both_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    assert TelegramInput.from_credentials(None).enabled
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN")
    assert not TelegramInput.from_credentials(None).enabled
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    assert not TelegramInput.from_credentials(None).enabled


def test_render_escapes_every_text_and_links_the_sources() -> None:
    reply = new_reply(
        "after_care",
        'Use <b>ice</b> & rest *twice* a_day "now"',
        quotes=[{"id": "q1", "text": "Pain <5> & *less*.[1]", "refs": [1]}],
        references=[{"number": 1, "label": "A. B. 2020.", "publisher": "A&B <Press>",
                     "url": "https://example.org/a?b=1&c=2"}],
        article={"title": "Kyphoplasty <FAQ>", "url": "https://clinic.example/k", "publisher": "Clinic"},
        buttons=[{"title": "Is it <safe>?", "payload": "/is_it_safe"}],
        watch_for=["fever > 38"],
    )  # fmt: skip
    assert render_telegram(reply) == [
        {
            "text": 'Use &lt;b&gt;ice&lt;/b&gt; &amp; rest *twice* a_day "now"\n• fever &gt; 38\n\n'
            "From the article:\n<i>Pain &lt;5&gt; &amp; *less*.[1]</i>\n\n"
            'Sources:\n<a href="https://example.org/a?b=1&amp;c=2">[1] A&amp;B &lt;Press&gt;</a>\n'
            '<a href="https://clinic.example/k">Clinic: Kyphoplasty &lt;FAQ&gt;</a>',
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
            # Button texts are not parsed as HTML: they stay as written.
            "reply_markup": {
                "inline_keyboard": [[{"text": "Is it <safe>?", "callback_data": "/is_it_safe"}]]
            },
        }
    ]


def test_an_emergency_is_its_text_alone_in_bold() -> None:
    reply = new_reply("emergency", "Call 911 now <don't wait> & go.", call=["911"],
                      buttons=[{"title": "More", "payload": "/more"}])  # fmt: skip
    assert render_telegram(reply) == [
        {"text": "<b>Call 911 now &lt;don't wait&gt; &amp; go.</b>", "parse_mode": "HTML",
         "disable_web_page_preview": True}
    ]  # fmt: skip


def test_a_long_reply_is_split_between_lines_with_the_keyboard_last() -> None:
    lines = [f"Line {i}: {'word & ' * 40}end." for i in range(60)]  # ~21,000 characters escaped
    buttons = [{"title": "Recovery", "payload": "/recovery_time"}]
    messages = render_telegram(new_reply("answer", "\n".join(lines), buttons=buttons))
    texts = [message["text"] for message in messages]
    assert len(texts) >= 5 and all(len(text) <= MAX_MESSAGE_CHARS for text in texts)
    assert "\n".join(texts).split("\n") == [html.escape(line, quote=False) for line in lines]  # whole lines
    assert [("reply_markup" in message) for message in messages] == [False] * (len(messages) - 1) + [True]


@pytest.mark.parametrize("line", ["& " * 5000, "&" * 9000], ids=["words", "one_word"])
def test_a_line_longer_than_a_message_is_cut_without_breaking_an_entity(line: str) -> None:
    messages = render_telegram(new_reply("answer", line.strip()))
    texts = [message["text"] for message in messages]
    assert len(texts) >= 2 and all(len(text) <= MAX_MESSAGE_CHARS for text in texts)
    assert all(re.fullmatch(r"(&amp;|\s)+", text) for text in texts)  # only whole "&amp;"s
    separator = " " if " " in line else ""
    assert separator.join(html.unescape(text).replace("\n", separator) for text in texts) == line.strip()


def test_options_too_long_for_a_button_are_numbered_lines() -> None:
    fits = [{"title": "Recovery", "payload": "/" + "r" * 63}]  # 64 bytes: Telegram's limit
    [message] = render_telegram(new_reply("clarify", "Which one?", buttons=fits))
    assert message["reply_markup"]["inline_keyboard"] == [
        [{"text": "Recovery", "callback_data": fits[0]["payload"]}]
    ]
    too_long = [{"title": "Recovery", "payload": "/recovery_time"},
                {"title": "Risks & <side effects>", "payload": "/" + "é" * 32}]  # fmt: skip
    [message] = render_telegram(new_reply("clarify", "Which one?", buttons=too_long))
    assert "reply_markup" not in message
    assert (
        message["text"]
        == "Which one?\n\nReply with a number:\n1 Recovery\n2 Risks &amp; &lt;side effects&gt;"
    )
