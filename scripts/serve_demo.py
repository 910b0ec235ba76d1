"""Serves the widget and a demo clinic page on 127.0.0.1, the way a clinic's site would embed it.

The pages are filled in with clinic.yml, and sent with a Content-Security-Policy that allows no
third-party request: the page and the widget may talk only to themselves and to the assistant.
"""

from __future__ import annotations

import argparse
import html
import re
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from string import Template
from typing import Dict

from actions.clinic import Clinic, load_clinic
from nlu_components.paths import PROJECT_ROOT

WIDGET_DIR = PROJECT_ROOT / "widget"
PAGES = {"/": "index.html", "/index.html": "index.html", "/visit.html": "visit.html"}
SCRIPT = "/kyphoplasty-chat.js"


def widget_tag(clinic: Clinic, assistant_url: str) -> str:
    attributes = {
        "src": SCRIPT,
        "data-server": assistant_url,
        "data-clinic-name": clinic.name,
        "data-emergency-number": clinic.emergency_number,
    }
    rendered = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
    return f"<script {rendered} defer></script>"


def render_page(name: str, clinic: Clinic, assistant_url: str) -> bytes:
    values = {
        "clinic_name": html.escape(clinic.name),
        "clinic_phone": html.escape(clinic.phone),
        "clinic_tel": re.sub(r"[^0-9+]", "", clinic.phone),
        "clinic_booking_url": html.escape(clinic.booking_url),
        "widget_tag": widget_tag(clinic, assistant_url),
    }
    return Template((WIDGET_DIR / "demo" / name).read_text(encoding="utf-8")).substitute(values).encode()


def security_headers(assistant_url: str) -> Dict[str, str]:
    policy = (
        f"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src {assistant_url}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


class DemoHandler(BaseHTTPRequestHandler):
    def __init__(self, *args, assistant_url: str, **kwargs) -> None:
        self.assistant_url = assistant_url
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == SCRIPT:
            self.reply((WIDGET_DIR / "kyphoplasty-chat.js").read_bytes(), "text/javascript; charset=utf-8")
        elif path in PAGES:
            self.reply(
                render_page(PAGES[path], load_clinic(), self.assistant_url), "text/html; charset=utf-8"
            )
        elif path == "/favicon.ico":
            self.reply(b"", "image/x-icon", HTTPStatus.NO_CONTENT)
        else:
            self.reply(b"Not found", "text/plain; charset=utf-8", HTTPStatus.NOT_FOUND)

    def reply(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in security_headers(self.assistant_url).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the terminal for the assistant's own log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--assistant", default="http://127.0.0.1:5005", help="the Rasa server's URL")
    arguments = parser.parse_args()
    handler = partial(DemoHandler, assistant_url=arguments.assistant.rstrip("/"))
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), handler)
    print(f"Demo clinic page with the chat widget: http://127.0.0.1:{arguments.port}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
