"""Helpers for the acme scenario: the nodes' addresses, pebble's CAs, challtestsrv, TLS clients on the controller."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture  # noqa: E402

SITE = "flask-stack.test"
NETWORK = "molecule-acme"
FRONTS = ("acme-front1", "acme-front2")
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
