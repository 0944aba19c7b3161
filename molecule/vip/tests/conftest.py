"""The vip scenario: its floating address, CA file and fronts, and an HTTPS client that speaks to the address."""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
SITE = "flask-stack.test"  # role tls's default tls_site_names
FRONTS = ("vip-front1", "vip-front2")  # in group order: vip-front1 is the preferred holder
STANDBY_FILE = "/etc/keepalived/flask-stack-standby"  # role vip's default vip_standby_file


@pytest.fixture(scope="session")
def vip() -> str:
    """The floating address create.yml chose in the scenario's network (group_vars read the same file)."""
    return (EPHEMERAL / "vip_address").read_text().strip()


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """Verifies the site's certificate with the scenario's CA file, never without."""
    context = ssl.create_default_context(cafile=str(EPHEMERAL / "tls" / "ca.crt"))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


@pytest.fixture(scope="session")
def fronts() -> dict[str, testinfra.host.Host]:
    """Each front through `docker exec` (a command in about 50 ms: fast enough to poll `ip -o addr`)."""
    return {name: testinfra.get_host(f"docker://{name}") for name in FRONTS}


def holders(fronts: dict[str, testinfra.host.Host], vip: str) -> list[str]:
    """The fronts that have the floating address on an interface right now."""
    return [
        name
        for name, front in fronts.items()
        if any(line.split()[3].split("/")[0] == vip for line in front.check_output("ip -o -4 addr show").splitlines())
    ]


def wait_for_holder(fronts: dict[str, testinfra.host.Host], vip: str, want: str, timeout: float) -> float:
    """Seconds until `want` alone holds the address (polled every 0.1 s); fails after `timeout` seconds."""
    start = time.monotonic()
    seen: list[str] = []
    while time.monotonic() - start < timeout:
        seen = holders(fronts, vip)
        if seen == [want]:
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"{want} did not hold {vip} alone within {timeout} s; holders: {seen}")


def https_get(vip: str, context: ssl.SSLContext, path: str = "/", timeout: float = 2.0) -> tuple[int, str]:
    """GET https://SITE/path on a new connection to the floating address: SNI and verification use the site's name."""
    with (
        socket.create_connection((vip, 443), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=SITE) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {SITE}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    if not data:
        raise ConnectionError("the connection closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode(errors="replace")


@dataclass
class Answer:
    start: float
    end: float
    ok: bool
    detail: str


@dataclass
class Load:
    """A bounded load through the floating address: `threads` clients, each a new connection per request,
    at most `max_requests` in all and `max_seconds` long; a client pauses 0.2 s after a failure before it
    connects again, as a real client would. Every answer is checked: 200 and the stub's body."""

    vip: str
    context: ssl.SSLContext
    threads: int = 4
    max_requests: int = 6000
    max_seconds: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _client(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self.answers) >= self.max_requests:
                    return
            start = time.monotonic()
            try:
                # 5 s, not the default 2: on a busy 2-core machine (make test runs two lanes) an answer
                # can be late without the address being anywhere wrong; a refused or reset connection
                # still fails at once.
                status, body = https_get(self.vip, self.context, timeout=5.0)
                ok, detail = status == 200 and body.startswith("stub vip-app GET /"), f"{status} {body[:40]!r}"
            except (OSError, ValueError, IndexError) as error:
                ok, detail = False, f"{type(error).__name__}: {error}"
            with self._lock:
                self.answers.append(Answer(start, time.monotonic(), ok, detail))
            if not ok:
                time.sleep(0.2)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._client, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)

    def failed(self) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if not answer.ok]

    def sent_since(self, moment: float) -> int:
        with self._lock:
            return sum(answer.start >= moment for answer in self.answers)

    def wait_for(self, count: int, since: float, timeout: float) -> None:
        """Until `count` more requests have been sent since `since` (the load goes on meanwhile)."""
        start = time.monotonic()
        while self.sent_since(since) < count:
            assert time.monotonic() - start < timeout, f"the load sent {self.sent_since(since)} requests in {timeout} s"
            time.sleep(0.1)


@pytest.fixture
def load(vip: str, tls_context: ssl.SSLContext) -> Callable[..., Load]:
    return lambda **kwargs: Load(vip, tls_context, **kwargs)
