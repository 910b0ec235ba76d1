"""Plain-text rendering of the actions' structured replies (actions/reply.py), for the REST channel
and the clients behind it (scripts/chat.py, curl). Each messaging platform has its own renderer.

A reply becomes messages `{"text"}`, in this order, each present only when there is something to
say: the safety note; the text, with the signs to watch for as "- " lines; "From the article:"
with the quotes; "Sources:" with the references. The buttons (`[{title, payload}]`) go on the
last message. Numbers to call are already in the texts.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.core.channels.channel import CollectingOutputChannel

Message = Dict[str, Any]


def _main_text(reply: Dict[str, Any]) -> str:
    return "\n".join([reply["text"], *(f"- {sign}" for sign in reply.get("watch_for", []))])


def _quotes(reply: Dict[str, Any]) -> str:
    return "From the article:\n" + "\n".join(f"“{quote['text']}”" for quote in reply["quotes"])


def _sources(reply: Dict[str, Any]) -> str:
    lines = [f"[{r['number']}] {r['label']} {r['url']}" for r in reply["references"]]
    article = reply.get("article")
    if article:
        publisher, title, url = article["publisher"], article["title"], article["url"]
        lines.append(f"Sentences without a number: {publisher}, “{title}”, {url}")
    return "Sources:\n" + "\n".join(lines)


def render_text(reply: Dict[str, Any]) -> List[Message]:
    """The reply as plain-text messages `[{"text"}, ..., {"text", "buttons"}]` (buttons only if any)."""
    note = reply.get("safety_note")
    parts = [
        note["text"] if note else "",
        _main_text(reply),
        _quotes(reply) if reply.get("quotes") else "",
        _sources(reply) if reply.get("references") or reply.get("article") else "",
    ]
    messages: List[Message] = [{"text": part} for part in parts if part]
    if reply.get("buttons"):
        messages[-1]["buttons"] = reply["buttons"]
    return messages


class TextOutput(CollectingOutputChannel):
    """Collects the replies of one request; structured ones rendered by `render_text`."""

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        for message in render_text(json_message):
            await self._persist_message({"recipient_id": recipient_id, **message})
