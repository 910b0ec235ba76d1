"""A throwaway nginx load balancer on 127.0.0.1 spare ports, for the scale-out benchmark.

One nginx (Debian's package, installed by scripts/install_load_balancer.sh) with one listening
port per named upstream, each balancing over its Rasa servers with the production settings
of deploy/nginx/nginx.conf (the least busy server first, kept-alive connections, no retry of a
POST that reached a server, the Rasa server's body limit). Its configuration, pid file,
temporary files and error log live in a temporary folder; no access log (nothing a patient types
reaches a log). nginx runs in the foreground as a child process and is stopped on exit.

Errors: `LoadBalancerError` when nginx is missing, its configuration is refused, or it does not
listen in time (with the end of its error log).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Sequence

START_TIMEOUT_S = 30.0
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
# The production settings of deploy/nginx/nginx.conf (tests/test_benchmark.py checks they are the
# same): least connections, because a reply's cost grows with the conversation's length; kept-alive
# connections to the Rasa servers; a POST that reached a server is never sent to another.
UPSTREAM_SETTINGS = ("least_conn;", "keepalive 32;")
SERVER_OPTIONS = "max_fails=3 fail_timeout=10s"
PROXY_SETTINGS = (
    "proxy_http_version 1.1;",
    'proxy_set_header Connection "";',
    "proxy_set_header Host $host;",
    "proxy_connect_timeout 5s;",
    "proxy_read_timeout 60s;",
    "proxy_next_upstream error timeout;",
    "proxy_next_upstream_tries 2;",
)
MAX_BODY = "256k"  # the Rasa server's own limit (evaluation/servers.py MAX_BODY_BYTES)


class LoadBalancerError(RuntimeError):
    """nginx is missing, refused its configuration, or did not come up."""


@dataclass(frozen=True)
class LoadBalancer:
    """The running nginx: `urls[name]` is the base URL that balances over that upstream."""

    urls: Dict[str, str]
    folder: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _nginx() -> str:
    for path in (shutil.which("nginx"), *NGINX_PATHS):
        if path and Path(path).is_file():
            return path
    raise LoadBalancerError("nginx is not installed: run scripts/install_load_balancer.sh")


def configuration(upstreams: Mapping[str, Sequence[str]], ports: Mapping[str, int], folder: Path) -> str:
    """nginx.conf text: for each upstream name, `server 127.0.0.1:<ports[name]>` proxying to its
    servers (`host:port` strings) with UPSTREAM_SETTINGS."""
    blocks: List[str] = []
    for name, servers in upstreams.items():
        members = "".join(f"    server {server} {SERVER_OPTIONS};\n" for server in servers)
        settings = "".join(f"    {line}\n" for line in UPSTREAM_SETTINGS)
        proxy = "".join(f"    {line}\n" for line in PROXY_SETTINGS)
        blocks.append(
            f"  upstream rasa_{name} {{\n{members}{settings}  }}\n"
            f"  server {{\n"
            f"    listen 127.0.0.1:{ports[name]};\n"
            f"{proxy}"
            f"    location / {{ proxy_pass http://rasa_{name}; }}\n"
            f"  }}\n"
        )
    temporary = "".join(
        f"  {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "worker_processes 1;\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  client_max_body_size {MAX_BODY};\n"
        f"{temporary}"
        f"{''.join(blocks)}"
        "}\n"
    )


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_load_balancer(upstreams: Mapping[str, Sequence[str]]) -> Iterator[LoadBalancer]:
    """nginx balancing each named upstream (a list of `127.0.0.1:port` Rasa servers) on its own
    loopback port; stopped and its folder deleted on exit."""
    nginx = _nginx()
    folder = Path(tempfile.mkdtemp(prefix="kypho-nginx-"))
    folder.chmod(0o755)  # nginx's workers run as an unprivileged user when started as root
    ports = {name: _free_port() for name in upstreams}
    config = folder / "nginx.conf"
    config.write_text(configuration(upstreams, ports, folder))
    error_log = folder / "error.log"
    checked = subprocess.run(
        [nginx, "-t", "-q", "-e", str(error_log), "-p", str(folder), "-c", str(config)],
        capture_output=True,
        text=True,
    )
    if checked.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise LoadBalancerError(f"nginx refused its configuration: {checked.stderr.strip()}")
    process = subprocess.Popen(
        [nginx, "-e", str(error_log), "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(_listening(port) for port in ports.values()):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = error_log.read_text()[-2000:] if error_log.exists() else ""
                raise LoadBalancerError(f"nginx did not come up:\n{tail}")
            time.sleep(0.05)
        yield LoadBalancer({name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
