"""A bounded load through both fronts: a few clients mixing GET /, GET /healthz and the
login POST, every answer checked. It stops by itself (count and time bounds) or when
told to; the result says how many requests were sent and how many failed."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from conftest import CA_FILE, FRONTS, SITE


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    served_by: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        return f"{self.sent} requests sent, {self.failed} failed {dict(self.failures) or ''}".strip()


class LoopbackHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the site name (SNI and certificate check) on a port published on loopback."""

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class Client:
    """One user: its own TLS connection (keep-alive) to one front and its own cookies."""

    def __init__(self, port: int, password: str) -> None:
        self.port = port
        self.password = password
        self.context = ssl.create_default_context(cafile=str(CA_FILE))
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPSConnection | None = None

    def connect(self) -> http.client.HTTPSConnection:
        return LoopbackHTTPSConnection(SITE, self.port, context=self.context, timeout=15)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Host": f"{SITE}:{self.port}", "Referer": f"https://{SITE}:{self.port}/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self.connect()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode(errors="replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection closed by the front: a browser reconnects too.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, dict(response.headers), text

    def login(self) -> int:
        status, _, page = self.request("GET", "/")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or not token:
            return status or 599
        form = urlencode({"csrf_token": token.group(1), "username": "demo", "password": self.password})
        status, headers, _ = self.request("POST", "/", form)
        return status if headers.get("Location", "").endswith("/home") else -status


def run_load(password: str, stop: threading.Event, clients: int = 4, max_requests: int = 20000,
             max_seconds: float = 600) -> LoadResult:  # fmt: skip
    """Run until `stop` is set, max_requests were sent or max_seconds passed."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    ports = [https for _, https in FRONTS.values()]

    def record(ok: bool, what: str, served: str | None = None) -> None:
        with lock:
            result.sent += 1
            if not ok:
                result.failed += 1
                result.failures[what] += 1
            if served:
                result.served_by[served] += 1

    def user(index: int) -> None:
        client = Client(ports[index % len(ports)], password)
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if result.sent >= max_requests:
                    return
            i += 1
            try:
                if i % 15 == 1:
                    status = client.login()
                    record(status == 303, f"login {status}")
                elif i % 2:
                    status, headers, page = client.request("GET", "/")
                    # The form, or (signed in) a redirect to /home.
                    record((status == 200 and "Sign In" in page) or status in (302, 303), f"GET / {status}")
                else:
                    status, headers, _ = client.request("GET", "/healthz")
                    record(status == 200, f"GET /healthz {status}", headers.get("X-Served-By"))
            except (OSError, http.client.HTTPException) as error:
                record(False, f"{type(error).__name__}")
                client.conn = None
            # Paced: about 40 requests a second through both fronts, so that the load does not take
            # the CPU the operation under test needs (a 2-core machine runs two test lanes).
            time.sleep(0.1)

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 30)
    return result
