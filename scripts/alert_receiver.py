"""A webhook receiver for Alertmanager that keeps what it gets, for the lab and the tests.

    python3 alert_receiver.py [--address 127.0.0.1] [--port 9095]

POST (any path): one Alertmanager notification (its webhook JSON); each alert in it is kept as
{"received": <epoch s>, "status": "firing"|"resolved", "alertname": ..., "node": ..., "summary": ...}.
GET /: everything kept so far, as a JSON list, oldest first. Memory only, standard library only:
it runs on the monitor node with Debian's python3 (scripts/lab.py starts it there, and scenario
default's tests do), next to Alertmanager, which posts to it on loopback
(monitor_alert_webhook_url).
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Where it listens on the monitor node, and the URL Alertmanager posts to (monitor_alert_webhook_url).
PORT = 9095
URL = f"http://127.0.0.1:{PORT}/alerts"
# The transient systemd unit it runs as, with a user of its own (DynamicUser).
UNIT = "flask-stack-alert-receiver"
INSTALLED = f"/usr/local/lib/{UNIT}.py"
# Bounds what a notification may be and how many alerts are kept.
MAX_BODY = 1_000_000
MAX_KEPT = 10_000

_kept: list[dict[str, Any]] = []
_lock = threading.Lock()


def alerts_of(notification: dict[str, Any], received: float) -> list[dict[str, Any]]:
    """The alerts of one Alertmanager webhook notification, as kept."""
    return [
        {
            "received": received,
            "status": str(alert.get("status", "")),
            "alertname": str(alert.get("labels", {}).get("alertname", "")),
            "node": str(alert.get("labels", {}).get("node", "")),
            "summary": str(alert.get("annotations", {}).get("summary", "")),
        }
        for alert in notification.get("alerts", [])
        if isinstance(alert, dict)
    ]


def start_command(source: str) -> str:
    """A shell command, run as root on the monitor node, that installs this file (its text,
    `source`) and (re)starts it as a transient unit with a user of its own."""
    encoded = base64.b64encode(source.encode()).decode()
    return (
        f"echo {encoded} | base64 -d > {INSTALLED} && chmod 0644 {INSTALLED}"
        f" && {{ systemctl stop {UNIT} 2>/dev/null; systemctl reset-failed {UNIT} 2>/dev/null; true; }}"
        f" && systemd-run --quiet --unit={UNIT} --property=DynamicUser=yes"
        f" /usr/bin/python3 {shlex.quote(INSTALLED)} --port {PORT}"
    )


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_kept).encode()
        self._answer(200, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self.close_connection = True  # the body, if any, is never read
            self._answer(413 if length else 400)
            return
        try:
            notification = json.loads(self.rfile.read(length))
        except ValueError:
            self._answer(400)
            return
        if not isinstance(notification, dict):
            self._answer(400)
            return
        with _lock:
            _kept.extend(alerts_of(notification, time.time()))
            del _kept[:-MAX_KEPT]
        self._answer(200, b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    ThreadingHTTPServer((args.address, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
