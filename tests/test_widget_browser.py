"""The website widget in a real browser (Debian's Chromium driven by Playwright) on the real servers.

Replies of kinds the trained model may not reach yet are served as fixed structured replies
(built by the actions' own builders) in place of the assistant's, so the widget's rendering of
every kind is tested whatever the model.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from typing import Any, Dict, Iterator, List
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from actions.clinic import load_clinic
from actions.guidance import decline_reply
from actions.knowledge import load_knowledge
from actions.replies import after_care_reply, not_covered_reply, other_language_reply, safety_note
from evaluation.servers import Assistant
from nlu_components.paths import PROJECT_ROOT

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = PROJECT_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WIDGET = PROJECT_ROOT / "widget" / "kyphoplasty-chat.js"
SCREENSHOTS = PROJECT_ROOT / "results" / "widget"
KNOWLEDGE = load_knowledge()
CLINIC = load_clinic()
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP)
    # Reference pages are on the internet, which this machine cannot reach: answer them locally.
    context.route(re.compile(r"^https://"), lambda route: route.fulfill(body="reference page"))
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, assistant: Assistant) -> Page:
    page = context.new_page()
    page.requested = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requested.append(request.url))  # type: ignore[attr-defined]
    page.goto(assistant.site_url)
    return page


def open_widget(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Questions\?")).click()
    expect(starter_button(page, "what_is_kyphoplasty")).to_be_visible()


def starter_button(page: Page, answer_id: str):
    return page.get_by_role("button", name=KNOWLEDGE.answers[answer_id].question).last


def assistant_messages(page: Page):
    return page.locator(".message.assistant")


def ask(page: Page, question: str, replies: int = 1) -> None:
    before = assistant_messages(page).count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    expect(assistant_messages(page)).to_have_count(before + replies)


def serve_replies(page: Page, *replies: Dict[str, Any]) -> None:
    """The widget channel answers the next messages with these structured replies."""
    origin = page.evaluate("() => location.origin")
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Allow-Methods": "POST",
    }
    body = json.dumps([{"recipient_id": "patient", "custom": reply} for reply in replies])

    def fulfill(route) -> None:
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=headers)
        else:
            route.fulfill(status=200, headers=headers, content_type="application/json", body=body)

    page.route("**/webhooks/widget/webhook", fulfill)


def tel(number: str) -> str:
    return "tel:" + re.sub(r"[^0-9+]", "", number)


def shadow_active_element(page: Page) -> str:
    return page.evaluate(
        "() => { const a = document.activeElement; "
        "return a && a.shadowRoot && a.shadowRoot.activeElement ? "
        "a.shadowRoot.activeElement.className || a.shadowRoot.activeElement.tagName : a.tagName; }"
    )


def test_a_question_gets_the_answer_its_quotes_and_working_citation_links(page: Page) -> None:
    open_widget(page)
    ask(page, "How is kyphoplasty performed?")
    answer = page.locator(".message.answer").last
    expect(answer).to_contain_text(KNOWLEDGE.answers["how_it_is_done"].text.split(":")[0])
    quotes = answer.locator("blockquote")
    expect(quotes.first).to_be_hidden()
    answer.get_by_text("From the article").click()
    expect(quotes).to_have_count(len(KNOWLEDGE.answers["how_it_is_done"].evidence))
    expect(quotes.nth(1)).to_contain_text("real-time X-ray guidance")
    citation = quotes.nth(1).get_by_role("link", name=re.compile(r"^\[4\] Source 4"))
    assert citation.get_attribute("href") == KNOWLEDGE.references[4].url
    assert citation.get_attribute("target") == "_blank"
    assert citation.get_attribute("rel") == "noopener noreferrer"
    with page.context.expect_page() as opened:
        citation.click()
    assert opened.value.url == KNOWLEDGE.references[4].url
    answer.get_by_text("From the article").click()
    expect(quotes.first).to_be_hidden()


def test_a_suggested_question_is_a_real_button(page: Page) -> None:
    open_widget(page)
    starter_button(page, "recovery").click()
    expect(page.locator(".message.patient").last).to_have_text(
        re.compile(re.escape(KNOWLEDGE.answers["recovery"].question))
    )
    expect(page.locator(".message.answer").last).to_contain_text("Most patients go back to light activities")


def test_a_red_flag_stands_out_with_a_number_to_call(page: Page) -> None:
    open_widget(page)
    ask(page, "I can't feel my legs since this morning")
    alert = page.get_by_role("alert").last
    expect(alert).to_contain_text("EMERGENCY")
    expect(alert.get_by_role("link", name=f"Call {CLINIC.emergency_number}")).to_have_attribute(
        "href", f"tel:{CLINIC.emergency_number}"
    )


def test_the_launchers_accessible_name_begins_with_its_visible_text(page: Page) -> None:
    launcher = page.get_by_role("button", name=re.compile(r"^Questions\?"))
    expect(launcher).to_have_text("Questions?")
    assert launcher.get_attribute("aria-label").startswith("Questions?")


def test_a_topic_the_article_does_not_cover_gets_the_clinics_phone_as_a_tap_to_call_link(page: Page) -> None:
    open_widget(page)
    serve_replies(page, not_covered_reply(KNOWLEDGE.topics["activity_after"]))
    ask(page, "when can I drive?")
    reply = page.locator(".message.not_covered").last
    expect(reply).to_contain_text("The article does not say when you can drive")
    expect(reply.get_by_role("link", name=f"Call {CLINIC.phone}")).to_have_attribute(
        "href", tel(CLINIC.phone)
    )
    reply.get_by_text("From the article").click()
    expect(reply.locator("blockquote").first).to_have_text("Other benefits of this procedure include:")


def test_a_decline_gets_the_clinics_phone_as_a_tap_to_call_link(page: Page) -> None:
    open_widget(page)
    serve_replies(page, decline_reply())
    ask(page, "what's the weather like?")
    reply = page.locator(".message.decline").last
    expect(reply.get_by_role("link", name=f"Call {CLINIC.phone}")).to_have_attribute(
        "href", tel(CLINIC.phone)
    )


def test_a_domain_response_giving_the_clinics_phone_gets_it_as_a_tap_to_call_link(page: Page) -> None:
    open_widget(page)
    ask(page, "goodbye")  # the real server: utter_goodbye gives the clinic's phone
    reply = page.locator(".message.text").last
    expect(reply).to_contain_text(CLINIC.phone)
    expect(reply.get_by_role("link", name=f"Call {CLINIC.phone}")).to_have_attribute(
        "href", tel(CLINIC.phone)
    )


def test_a_red_flag_only_mentioned_gets_its_safety_note_first_as_an_alert(page: Page) -> None:
    open_widget(page)
    serve_replies(page, {**decline_reply(), "safety_note": safety_note(["chest_pain"])})
    ask(page, "no chest pain, but how much does it cost?")
    reply = page.locator(".message.decline").last
    note = reply.locator(":scope > *").first
    expect(note).to_have_attribute("role", "alert")
    expect(note).to_contain_text("If you have chest pain now")
    expect(note.get_by_role("link", name=f"Call {CLINIC.emergency_number}")).to_have_attribute(
        "href", tel(CLINIC.emergency_number)
    )


def test_after_care_lists_the_signs_to_watch_for_and_both_numbers(page: Page) -> None:
    open_widget(page)
    reply = after_care_reply()
    serve_replies(page, reply)
    ask(page, "I had it done on monday and my back is sore")
    bubble = page.locator(".message.after_care").last
    expect(bubble.locator("li")).to_have_text(reply["watch_for"])
    for number in (CLINIC.phone, CLINIC.emergency_number):
        expect(bubble.get_by_role("link", name=f"Call {number}")).to_have_attribute("href", tel(number))


@pytest.mark.parametrize("language, direction", [("es", None), ("ar", "rtl")])
def test_a_reply_in_another_language_carries_its_language(page: Page, language: str, direction) -> None:
    open_widget(page)
    serve_replies(page, other_language_reply(language))
    ask(page, "...")
    bubble = page.locator(".message.other_language").last
    expect(bubble).to_have_attribute("lang", language)
    assert bubble.get_attribute("dir") == direction
    expect(bubble.get_by_role("link", name=f"Call {CLINIC.crisis_line}")).to_have_attribute("lang", "en")


def test_the_conversation_survives_reload_and_navigation_and_can_start_over(
    page: Page, assistant: Assistant
) -> None:
    open_widget(page)
    ask(page, "what is kyphoplasty")
    sender = page.evaluate("() => JSON.parse(Object.values({...sessionStorage})[0]).sender")
    assert re.fullmatch(r"[0-9a-f]{32}", sender)
    page.reload()
    expect(page.locator(".message.patient")).to_have_text([re.compile("what is kyphoplasty")])
    page.goto(f"{assistant.site_url}/visit.html")
    expect(page.locator(".message.answer")).to_have_count(1)
    page.get_by_role("button", name="Start over").click()
    expect(page.locator(".message.patient")).to_have_count(0)
    expect(starter_button(page, "what_is_kyphoplasty")).to_be_visible()
    new_sender = page.evaluate("() => JSON.parse(Object.values({...sessionStorage})[0]).sender")
    assert new_sender != sender and re.fullmatch(r"[0-9a-f]{32}", new_sender)


@pytest.mark.parametrize("markup", ["<img src=x onerror=alert(1)>", "<script>alert(1)</script><b>bold</b>"])
def test_markup_in_a_message_is_shown_as_text(page: Page, markup: str) -> None:
    dialogs: List[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_widget(page)
    ask(page, markup)
    expect(page.locator(".message.patient").last).to_have_text(re.compile(re.escape(markup)))
    widget = page.locator("#kyphoplasty-chat")
    assert widget.locator("img, b, .message script").count() == 0
    assert dialogs == []


def test_keyboard_only_from_open_to_answer_to_close(page: Page) -> None:
    for _ in range(10):
        page.keyboard.press("Tab")
        if shadow_active_element(page) == "launcher":
            break
    assert shadow_active_element(page) == "launcher"
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement.shadowRoot.activeElement).outlineStyle"
    )
    assert outline != "none"
    page.keyboard.press("Enter")
    assert shadow_active_element(page) == "TEXTAREA"
    expect(starter_button(page, "what_is_kyphoplasty")).to_be_visible()
    page.keyboard.type("how long is the recovery")
    page.keyboard.press("Enter")
    expect(page.locator(".message.answer").last).to_contain_text("Recovery is quick")
    page.keyboard.press("Shift+Tab")  # back through the suggestions: focus moves, nothing traps it
    assert shadow_active_element(page) != "TEXTAREA"
    page.keyboard.press("Escape")
    expect(page.locator(".panel")).to_be_hidden()
    assert shadow_active_element(page) == "launcher"


def test_axe_finds_no_accessibility_violations(browser: Browser, assistant: Assistant) -> None:
    context = browser.new_context(
        viewport=DESKTOP, bypass_csp=True
    )  # the page's CSP forbids injected scripts
    page = context.new_page()
    page.goto(assistant.site_url)
    open_widget(page)
    ask(page, "is it safe?")
    ask(page, "I have chest pain")
    page.locator(".message.answer").last.get_by_text("From the article").click()
    noted = {**not_covered_reply(KNOWLEDGE.topics["activity_after"]), "safety_note": safety_note(["legs"])}
    serve_replies(page, noted, after_care_reply(), other_language_reply("ar"))
    ask(page, "when can I drive? my legs are not numb", replies=3)
    page.locator(".message.not_covered").last.get_by_text("From the article").click()
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """() => axe.run(document, {runOnly: {type: "tag",
              values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})"""
    )
    context.close()
    violations = [(v["id"], [n["target"] for n in v["nodes"]]) for v in results["violations"]]
    assert violations == [], "\n".join(map(str, violations))
    assert results["passes"]


def test_no_request_leaves_the_clinic_and_the_assistant(page: Page, assistant: Assistant) -> None:
    open_widget(page)
    ask(page, "what are the benefits")
    hosts = {urlparse(url).netloc for url in page.requested}  # type: ignore[attr-defined]
    assert hosts <= {urlparse(assistant.site_url).netloc, urlparse(assistant.base_url).netloc}
    assert page.context.cookies() == []


def test_an_unreachable_server_gets_a_clear_message_and_a_retry_that_loses_nothing(page: Page) -> None:
    open_widget(page)
    page.route("**/webhooks/widget/webhook", lambda route: route.abort())
    box = page.get_by_label("Your question")
    box.fill("how is it done")
    box.press("Enter")
    error = page.locator(".message.error")
    expect(error).to_contain_text("can't reach")
    expect(page.locator(".message.patient").last).to_contain_text("how is it done")
    page.unroute("**/webhooks/widget/webhook")
    error.get_by_role("button", name="Try again").click()
    expect(page.locator(".message.answer").last).to_contain_text("Step 1")
    expect(error).to_have_count(0)


def test_the_assistant_allows_exactly_the_configured_page_origins(assistant: Assistant) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    webhook = f"{assistant.base_url}/webhooks/widget/webhook"
    allowed = requests.options(webhook, headers={"Origin": assistant.site_url, **preflight}, timeout=10)
    assert allowed.headers.get("Access-Control-Allow-Origin") == assistant.site_url
    other = requests.options(
        webhook, headers={"Origin": "https://elsewhere.example", **preflight}, timeout=10
    )
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize("width, height", [(320, 640), (640, 400)])  # a small phone; 200 % zoom of 1280x800
def test_usable_on_a_small_phone_and_at_200_percent_zoom(
    context: BrowserContext, assistant: Assistant, width, height
):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(assistant.site_url)
    open_widget(page)
    ask(page, "will it help my posture")
    panel = page.locator(".panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    expect(page.get_by_label("Your question")).to_be_in_viewport()
    for target in page.locator("#kyphoplasty-chat button").all():
        if target.is_visible():
            box = target.bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24


def test_no_animation_for_users_who_ask_for_reduced_motion(browser: Browser, assistant: Assistant) -> None:
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    page.goto(assistant.site_url)
    animation = page.evaluate(
        "() => getComputedStyle(document.querySelector('#kyphoplasty-chat').shadowRoot"
        ".querySelector('.dots'), '::after').animationName"
    )
    context.close()
    assert animation == "none"


def test_screenshots_desktop_and_phone(browser: Browser, assistant: Assistant) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in {"desktop": DESKTOP, "phone-360": {"width": 360, "height": 740}}.items():
        context = browser.new_context(viewport=viewport, device_scale_factor=2 if name != "desktop" else 1)
        page = context.new_page()
        page.goto(assistant.site_url)
        open_widget(page)
        ask(page, "my mother has osteoporosis, can kyphoplasty help her?")
        page.locator(".message.answer").last.get_by_text("From the article").click()
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        context.close()
        assert path.stat().st_size > 10_000


def test_the_widget_is_small_and_dependency_free() -> None:
    source = WIDGET.read_bytes()
    assert len(gzip.compress(source)) < 12_000
    assert not re.search(
        rb"\b(import|require)\s*\(|https?://(?!127\.0\.0\.1)[a-z]", source.split(b"*/", 1)[1]
    )
