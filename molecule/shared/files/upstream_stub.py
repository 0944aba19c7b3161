#!/usr/bin/env python3
"""Stub upstream: answers every request with its hostname and logs method, path and X-Request-ID.

GET /echo-headers answers with the forwarded headers it got, as JSON.
"""

from __future__ import annotations

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = "/var/log/upstream-stub/requests.log"

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path} {self.headers.get('X-Request-ID', '-')}\n")
        status = 404 if self.path.startswith("/missing") else 200
        body = f"stub {socket.gethostname()} {self.command} {self.path}\n".encode()
        if self.path.startswith("/echo-headers"):
            names = ("Host", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For")
            body = json.dumps({name: self.headers.get(name) for name in names}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port, Handler.log_path = int(sys.argv[1]), sys.argv[2]
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
