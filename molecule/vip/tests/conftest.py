"""The vip scenario: its floating address, CA file and fronts, and an HTTPS client that speaks to the address."""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from load import Load, Outcome, Request  # noqa: E402

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


def vip_client(vip: str, context: ssl.SSLContext) -> Callable[[int], Request]:
    """A client of the load: a new connection per request through the floating address; every answer
    checked (200 and the stub's body)."""

    def request() -> Outcome:
        # 5 s, not the default 2: on a busy 2-core machine (make test runs two lanes) an answer can be
        # late without the address being anywhere wrong; a refused or reset connection still fails at once.
        status, body = https_get(vip, context, timeout=5.0)
        return Outcome(status == 200 and body.startswith("stub vip-app GET /"), f"{status} {body[:40]!r}")

    return lambda index: request


@pytest.fixture
def load(vip: str, tls_context: ssl.SSLContext) -> Callable[..., Load]:
    """A bounded load through the floating address (molecule/shared/load.py): 4 clients, at most 6000
    requests and 60 s; a client pauses 0.2 s after a failure before it connects again."""
    defaults = {"clients": 4, "max_requests": 6000, "max_seconds": 60.0, "pause_after_failure": 0.2}
    return lambda **kwargs: Load(vip_client(vip, tls_context), **{**defaults, **kwargs})
