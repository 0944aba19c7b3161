#!/usr/bin/env python3
"""Stub upstream: answers every request with its hostname and logs method, path and X-Request-ID.

GET /echo-headers answers with the forwarded headers it got, as JSON.

Arguments: PORT LOG [CERT KEY CA]. With the last three it serves mutual TLS as role app's
Gunicorn does (app_tls): it presents CERT and accepts only clients whose certificate chains to
CA, and logs the common name of each client's certificate.
"""

from __future__ import annotations

import json
import socket
import ssl
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
            log.write(f"{self.command} {self.path} {self.headers.get('X-Request-ID', '-')} {self.client_name()}\n")
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

    def client_name(self) -> str:
        """The common name of the client's certificate, or '-' over plain HTTP."""
        if not isinstance(self.connection, ssl.SSLSocket):
            return "-"
        subject = dict(pair for rdn in (self.connection.getpeercert() or {}).get("subject", ()) for pair in rdn)
        return subject.get("commonName", "-")

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port, Handler.log_path = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    if len(sys.argv) > 5:
        cert, key, ca = sys.argv[3:6]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
        context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_REQUIRED
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
