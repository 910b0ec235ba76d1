"""Chat with the running assistant from the terminal, through its REST channel.

Type a question; type a button's number to press it; an empty line or Ctrl+D quits.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Dict, List

import requests


def send(url: str, sender: str, message: str) -> List[Dict]:
    reply = requests.post(url, json={"sender": sender, "message": message}, timeout=30)
    reply.raise_for_status()
    return reply.json()


def show(messages: List[Dict]) -> List[Dict]:
    buttons: List[Dict] = []
    for message in messages:
        if message.get("text"):
            print(f"\nbot> {message['text']}")
        for button in message.get("buttons", []):
            buttons.append(button)
            print(f"  [{len(buttons)}] {button['title']}")
    return buttons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5005)
    port = parser.parse_args().port
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    sender = secrets.token_hex(16)
    buttons: List[Dict] = []
    while True:
        try:
            text = input("\nyou> ").strip()
        except EOFError:
            break
        if not text:
            break
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        buttons = show(send(url, sender, text))


if __name__ == "__main__":
    main()
