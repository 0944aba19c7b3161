"""The users of the load through both fronts (molecule/shared/load.py runs them): each its own
TLS connection and cookies, mixing GET /, GET /healthz and the sign-in POST, every answer
checked; and users who load the Sign In page and then the stylesheet it links."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlencode

from load import Outcome, Request

from conftest import CA_FILE, FRONTS, SITE


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


PORTS = [https for _, https in FRONTS.values()]
# A sign-in verifies an argon2 hash at the project's minimum (t=3, m=64 MiB, p=4): about 220 ms
# of CPU on this 2-core machine, 40 times a GET. One in 60 requests keeps sign-ins in every load
# window (about one every two seconds) without the hashing taking a core from the operation
# under test; every 15th took about 0.6 of one.
SIGN_IN_EVERY = 60
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/[^"]+)">')


def site_user(password: str) -> Callable[[int], Request]:
    """A user who signs in on its first request and every SIGN_IN_EVERY-th after it, and otherwise
    loads / or /healthz (which names the app node that served it, counted)."""

    def user(index: int) -> Request:
        client = Client(PORTS[index % len(PORTS)], password)
        count = 0

        def request() -> Outcome:
            nonlocal count
            count += 1
            try:
                if count % SIGN_IN_EVERY == 1:
                    status = client.login()
                    return Outcome(status == 303, f"login {status}")
                if count % 2:
                    status, _, page = client.request("GET", "/")
                    # The form, or (signed in) a redirect to /home.
                    return Outcome((status == 200 and "Sign In" in page) or status in (302, 303), f"GET / {status}")
                status, headers, _ = client.request("GET", "/healthz")
                return Outcome(status == 200, f"GET /healthz {status}", headers.get("X-Served-By"))
            except (OSError, http.client.HTTPException):
                client.conn = None
                raise

        return request

    return user


def page_user(index: int) -> Request:
    """A user who loads the Sign In page, then the stylesheet it links (counted), as a browser does; a page
    without a link or a stylesheet that is not 200 text/css with a body fails."""
    client = Client(PORTS[index % len(PORTS)], "")

    def request() -> Outcome:
        try:
            status, _, page = client.request("GET", "/")
            link = STYLESHEET.search(page)
            if status != 200 or link is None:
                return Outcome(False, f"GET / {status}" + ("" if link else " without a stylesheet link"))
            href = link.group(1)
            css_status, headers, css = client.request("GET", href)
            kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            return Outcome(
                css_status == 200 and kind == "text/css" and bool(css.strip()), f"GET {href} {css_status}", href
            )
        except (OSError, http.client.HTTPException):
            client.conn = None
            raise

    return request
