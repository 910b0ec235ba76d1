"""Time from pressing Enter in the widget to the answer on screen, in Debian's Chromium.

Measured in the page (performance.now at the keydown, and when the reply's element is added),
against a running assistant and demo site (`bash scripts/run.sh`). Prints p50/p95 in ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from typing import List

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QUESTIONS = ["what is kyphoplasty", "how long is the recovery", "is it safe", "how much does it cost"]
# Stores a promise of the ms between the Enter keydown and the next assistant message in the log.
WATCH_NEXT_REPLY = """() => { window.nextReply = new Promise((resolve) => {
  const root = document.querySelector('#kyphoplasty-chat').shadowRoot;
  let started = 0;
  const onEnter = (e) => { if (e.key === 'Enter') started = performance.now(); };
  root.querySelector('textarea').addEventListener('keydown', onEnter, {once: true});
  const isReply = (node) => node.classList && node.classList.contains('assistant');
  new MutationObserver((records, observer) => {
    if (records.some((record) => [...record.addedNodes].some(isReply))) {
      observer.disconnect();
      resolve(performance.now() - started);
    }
  }).observe(root.querySelector('.log'), {childList: true});
}); }"""


def measure(site: str, rounds: int) -> List[float]:
    timings: List[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(site)
        page.get_by_role("button", name="Chat with", exact=False).click()
        page.locator(".choices button").first.wait_for()
        box = page.get_by_label("Your question")
        for i in range(rounds):
            box.fill(QUESTIONS[i % len(QUESTIONS)])
            page.evaluate(WATCH_NEXT_REPLY)
            box.press("Enter")
            timings.append(page.evaluate("() => window.nextReply"))
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", default="http://127.0.0.1:8080/")
    parser.add_argument("--rounds", type=int, default=40)
    arguments = parser.parse_args()
    timings = sorted(measure(arguments.site, arguments.rounds))
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    median = statistics.median(timings)
    print(f"Enter -> answer on screen, {len(timings)} messages: p50 {median:.0f} ms, p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
