"""Runs the load balancer's real configuration (deploy/nginx/nginx.conf) against two stand-in Rasa
servers, inside a private network and mount namespace, and writes what it saw as JSON.

Run by tests/deploy/test_nginx.py as root (as CI runs) with
`unshare --net --mount python tests/deploy/nginx_in_namespace.py CONFIG HOSTS OUTPUT REQUESTS`:
the namespace has its own loopback, so nginx listens on the configuration's own port (8080) and
the upstream names of compose (`rasa-1`, `rasa-2`) resolve through HOSTS (bind-mounted on
/etc/hosts here only) to 127.0.0.2 and 127.0.0.3, where each stand-in answers any request with
JSON naming itself and describing the request it received.

REQUESTS: a JSON list of [method, path with query, body bytes], sent one after another.
OUTPUT: {"syntax": {"returncode", "output"}, "responses": [{"method", "path", "status",
"upstream": <the stand-in's JSON or null>}], "access_log": str}.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

LISTEN_PORT = 8080  # deploy/nginx/nginx.conf
UPSTREAMS = {"rasa-1": "127.0.0.2", "rasa-2": "127.0.0.3"}
UPSTREAM_PORT = 5005
START_TIMEOUT_S = 10.0

# (method, path with query, body bytes): what a client sends to the load balancer.
Request = Tuple[str, str, int]


class StandIn(BaseHTTPRequestHandler):
    """Answers every request with 200 and JSON: which server, method, path, body size, headers."""

    protocol_version = "HTTP/1.1"  # nginx keeps connections to its upstreams alive

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "server": self.server.server_address[0],
                "method": self.command,
                "path": self.path,
                "body_bytes": length,
                "x_forwarded_for": self.headers.get("X-Forwarded-For"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the load balancer's access log is what is checked."""


def start_stand_ins() -> List[ThreadingHTTPServer]:
    servers = [ThreadingHTTPServer((address, UPSTREAM_PORT), StandIn) for address in UPSTREAMS.values()]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {START_TIMEOUT_S} s")


def send(method: str, path: str, body_bytes: int) -> Dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", LISTEN_PORT, timeout=10)
    body: Optional[bytes] = b"x" * body_bytes if body_bytes else None
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    upstream = None
    if response.getheader("Content-Type") == "application/json":
        upstream = json.loads(payload)
    return {"method": method, "path": path, "status": response.status, "upstream": upstream}


def main(config: Path, hosts: Path, output: Path, requests: List[Request]) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)
    with tempfile.TemporaryDirectory() as prefix:
        pid = f"pid {prefix}/nginx.pid;"
        syntax = subprocess.run(
            ["nginx", "-t", "-p", prefix, "-c", str(config), "-g", pid],
            capture_output=True,
            text=True,
        )
        report: Dict[str, Any] = {
            "syntax": {"returncode": syntax.returncode, "output": syntax.stdout + syntax.stderr},
            "responses": [],
            "access_log": "",
        }
        if syntax.returncode == 0:
            stand_ins = start_stand_ins()
            access_log = Path(prefix) / "stdout.log"
            with access_log.open("w") as log:
                nginx = subprocess.Popen(
                    ["nginx", "-p", prefix, "-c", str(config), "-g", f"daemon off; {pid}"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    wait_for_port(LISTEN_PORT, nginx)
                    report["responses"] = [send(*request) for request in requests]
                finally:
                    nginx.terminate()
                    nginx.wait(timeout=10)
            for server in stand_ins:
                server.shutdown()
            report["access_log"] = access_log.read_text()
    output.write_text(json.dumps(report))


if __name__ == "__main__":
    config_path, hosts_path, output_path, requests_path = map(Path, sys.argv[1:5])
    main(
        config_path,
        hosts_path,
        output_path,
        [tuple(request) for request in json.loads(requests_path.read_text())],
    )
