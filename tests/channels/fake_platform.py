"""A fake of the messaging platforms' outbound APIs on 127.0.0.1 (Twilio, Telegram, Messenger,
Slack): it records every call and answers as the platform would, or with a 500 while `down`.

The channels reach it through their `*_API_BASE` environment variables (tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: Dict[str, Any]  # JSON bodies as parsed; form bodies as {field: value}


def _answer(path: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """A plausible success body for each platform's send call."""
    if "/Messages.json" in path:  # Twilio
        return {
            "sid": f"SM{time.time_ns()}",
            "status": "queued",
            "to": body.get("To"),
            "from": body.get("From"),
        }
    if "/bot" in path and path.endswith(("/answerCallbackQuery", "/setWebhook")):  # Telegram: True
        return {"ok": True, "result": True}
    if "/bot" in path:  # Telegram Bot API
        chat = {"id": int(body.get("chat_id", 0) or 0), "type": "private"}
        return {
            "ok": True,
            "result": {"message_id": time.time_ns() % 10**9, "date": int(time.time()), "chat": chat},
        }
    if "/api/" in path:  # Slack Web API
        return {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
    return {"recipient_id": (body.get("recipient") or {}).get("id"), "message_id": f"m_{time.time_ns()}"}


class FakePlatform:
    def __init__(self) -> None:
        self.calls: List[Call] = []
        self.down = False
        self._lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                url = urlsplit(self.path)
                with platform._lock:
                    platform.calls.append(Call(url.path, parse_qs(url.query), dict(self.headers), body))
                status, answer = (500, {"error": "down"}) if platform.down else (200, _answer(url.path, body))
                if status == 200 and "/Messages.json" in url.path:
                    status = 201
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls_where(self, matches: Callable[[Call], bool]) -> List[Call]:
        with self._lock:
            return [call for call in self.calls if matches(call)]

    def wait_for(self, matches: Callable[[Call], bool], count: int = 1, timeout_s: float = 60,
                 settle_s: float = 0.5) -> List[Call]:  # fmt: skip
        """The calls that match, once there are at least `count` and no more came for `settle_s`."""
        deadline = time.monotonic() + timeout_s
        found: List[Call] = []
        while time.monotonic() < deadline:
            found = self.calls_where(matches)
            if len(found) >= count:
                time.sleep(settle_s)
                return self.calls_where(matches)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} matching calls, got {len(found)}")


@contextmanager
def running_fake_platform() -> Iterator[FakePlatform]:
    platform = FakePlatform()
    thread = threading.Thread(target=platform.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        platform.server.shutdown()
        platform.server.server_close()
