"""Helpers for the acme scenario: the nodes' addresses, pebble's CAs, challtestsrv, TLS clients on the controller;
the floating address (role vip) and its holders, and an HTTPS client that speaks to it."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from load import Load, Outcome, Request  # noqa: E402
from scenario_helpers import converge_fixture  # noqa: E402

SITE = "flask-stack.test"
NETWORK = "molecule-acme"
FRONTS = ("acme-front1", "acme-front2")  # in group order: acme-front1 is the preferred holder of the floating address
STANDBY_FILE = "/etc/keepalived/flask-stack-standby"  # role vip's default vip_standby_file
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
LISTENER_CA = EPHEMERAL / "pebble" / "listener-ca.crt"
ACME_DIR = EPHEMERAL / "acme"

run_converge = converge_fixture(SCENARIO)


def address(node: str) -> str:
    """The node's address on the scenario's network (the controller reaches it directly)."""
    out = subprocess.run(["docker", "container", "inspect", node], capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


@pytest.fixture(scope="session")
def addresses() -> dict[str, str]:
    return {node: address(node) for node in (*FRONTS, "acme-ca")}


@pytest.fixture(scope="session")
def pebble_root(addresses, tmp_path_factory) -> Path:
    """Pebble's root CA, fetched from its management API over HTTPS verified with the scenario's listener CA."""
    context = ssl.create_default_context(cafile=str(LISTENER_CA))
    url = f"https://{addresses['acme-ca']}:15000/roots/0"
    with urllib.request.urlopen(url, context=context, timeout=10) as answer:
        pem = answer.read().decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:200]
    path = tmp_path_factory.mktemp("pebble") / "root.pem"
    path.write_text(pem)
    return path


def resolve_site(addresses: dict[str, str], front: str) -> None:
    """Make challtestsrv (pebble's DNS) answer the site's name with this front's address."""
    body = json.dumps({"host": SITE, "addresses": [addresses[front]]}).encode()
    request = urllib.request.Request(f"http://{addresses['acme-ca']}:8055/add-a", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    serial: int
    fingerprint: str


def get(ip: str, path: str, cafile: Path, timeout: float = 5.0) -> Answer:
    """GET https://SITE<path> from the front at `ip` on a new connection, verified with `cafile` (SNI and name SITE)."""
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection((ip, 443), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=SITE) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        serial = int(tls.getpeercert()["serialNumber"], 16)
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {SITE}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return Answer(int(head.split()[1]), body, serial, hashlib.sha256(der).hexdigest())


def peer_certificate(ip: str, cafile: Path) -> dict:
    """The site's certificate as the front at `ip` presents it to a client that verifies it with `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection((ip, 443), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=SITE) as tls,
    ):
        return tls.getpeercert()


# --- The floating address (role vip): test_vip.py ------------------------------------------------


@pytest.fixture(scope="session")
def vip() -> str:
    """The floating address create.yml chose in the scenario's network (group_vars read the same file)."""
    return (EPHEMERAL / "vip_address").read_text().strip()


@pytest.fixture(scope="session")
def tls_context(pebble_root) -> ssl.SSLContext:
    """Verifies the site's certificate with pebble's root, never without: what the fronts serve once converge
    has ordered it (and after test_acme.py's renewal), so what answers through the floating address too."""
    context = ssl.create_default_context(cafile=str(pebble_root))
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
        return Outcome(status == 200 and body.startswith("stub acme-app GET /"), f"{status} {body[:40]!r}")

    return lambda index: request


@pytest.fixture
def load(vip: str, tls_context: ssl.SSLContext) -> Callable[..., Load]:
    """A bounded load through the floating address (molecule/shared/load.py): 4 clients, at most 6000
    requests and 60 s; a client pauses 0.2 s after a failure before it connects again."""
    defaults = {"clients": 4, "max_requests": 6000, "max_seconds": 60.0, "pause_after_failure": 0.2}
    return lambda **kwargs: Load(vip_client(vip, tls_context), **{**defaults, **kwargs})
